package login_test

import (
	"context"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// A user's second login on a domain goes through the session without a login form;
// a fresh login, the other domain's first, and a login with the session the other
// worker left in the shared directory behave as a browser's would.
func TestFormDriverKeepsTheSessionPerUserAndDomain(t *testing.T) {
	_, tg := referenceTarget(t)
	f := framework(t, tg)
	d := &login.FormDriver{Client: f.Client, Sessions: login.SessionsOf(f.Client)}
	as := login.As{Username: tg.User.Username, Password: tg.User.Password}
	forms := func(host string, as login.As) int {
		t.Helper()
		var trace login.Trace
		a := login.NewRequest(host, tg.LoginClients()[0], "openid", harness.ScopeReadMethods)
		u, err := d.Login(login.WithTrace(context.Background(), &trace), a.URL(), a.Client.RedirectURI, as)
		if cb, perr := login.ParseCallback(u); err != nil || perr != nil || cb.Code == "" {
			t.Fatalf("login on %s (fresh %v): %v %v", host, as.Fresh, err, u)
		}
		return trace.LoginForms()
	}
	if n := forms(tg.CustomDomain, as); n == 0 {
		t.Fatal("the first login filled no login form")
	}
	if n := forms(tg.CustomDomain, as); n != 0 {
		t.Fatalf("the second login on the same domain filled %d login forms: the session was not kept", n)
	}
	fresh := as
	fresh.Fresh = true
	if n := forms(tg.CustomDomain, fresh); n == 0 {
		t.Fatal("a fresh login filled no login form: it used the session")
	}
	if n := forms(tg.Domain, as); n == 0 {
		t.Fatal("the first login on the other domain filled no login form: the session crossed domains")
	}

	// Another worker of a parallel run: its own client, the same shared directory.
	dir := t.TempDir()
	f.Client.Pacer.ShareBucketsIn(dir)
	login.SessionsOf(f.Client).Forget(as.Username)
	if n := forms(tg.CustomDomain, as); n == 0 {
		t.Fatal("the login after Forget filled no login form")
	}
	other := framework(t, tg)
	other.Client.Pacer.ShareBucketsIn(dir)
	d = &login.FormDriver{Client: other.Client, Sessions: login.SessionsOf(other.Client)}
	if n := forms(tg.CustomDomain, as); n != 0 {
		t.Fatalf("the other worker's login filled %d login forms: it did not find the shared session", n)
	}
}
