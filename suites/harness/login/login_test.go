package login

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
)

func TestCommandDriverReadsTheCallback(t *testing.T) {
	d := &CommandDriver{Timeout: 10 * time.Second, Argv: []string{"sh", "-c",
		`echo "opening {authorize_url}"; echo "done: $MYACCOUNT_REDIRECT_URI?code=c1&state=s1"`}}
	got, err := d.Login(context.Background(), "https://t.example/authorize?x=1", "https://app.example/cb", As{Username: "u", Password: "p"})
	if err != nil || got != "https://app.example/cb?code=c1&state=s1" {
		t.Fatalf("got %q, %v", got, err)
	}
	d.Argv = []string{"sh", "-c", "echo nothing here"}
	if _, err := d.Login(context.Background(), "https://t.example/authorize", "https://app.example/cb", As{}); err == nil || !strings.Contains(err.Error(), "printed no URL") {
		t.Errorf("no callback: %v", err)
	}
	if _, err := d.Login(context.Background(), "u", "r", As{Passkey: &authenticator.Passkey{}}); err != ErrPasskeyUnsupported {
		t.Errorf("passkey: %v", err)
	}
}

func TestFormDriverFillsIdentifierFirstForms(t *testing.T) {
	page, err := parsePage([]byte(`<form method="post" action="/u/login/identifier?state=X">
		<input type="hidden" name="state" value="X"><input id="username" name="username" type="text">
		<button type="submit" name="action" value="default">Continue</button></form>
		<form id="passkey-form" method="post" action="/u/login/passkey"><input type="hidden" name="passkey"><button type="button">Passkey</button></form>`))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("https://login.example/u/login/identifier?state=X")
	req, err := page.fill(base, As{Username: "ann@example.com", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if req.URL != "https://login.example/u/login/identifier?state=X" || req.Form.Get("username") != "ann@example.com" ||
		req.Form.Get("state") != "X" || req.Form.Get("action") != "default" || req.Form.Has("password") {
		t.Errorf("request %s %v", req.URL, req.Form)
	}
	if !IsRedirectTo("https://app.example/cb?code=1", "https://app.example/cb") || IsRedirectTo("https://app.example/cb/evil?code=1", "https://app.example/cb") {
		t.Error("IsRedirectTo")
	}
}

func TestChromiumMissingIsNamed(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tg := &harness.Target{Login: harness.Login{Browser: &harness.Browser{Chromium: "/nonexistent/chromium"}}}
	if _, err := ChromiumPath(tg); !errors.Is(err, ErrNoChromium) || !strings.Contains(err.Error(), "apt-get install -y chromium") {
		t.Errorf("got %v", err)
	}
	if _, err := NewBrowserDriver(context.Background(), tg); !errors.Is(err, ErrNoChromium) {
		t.Errorf("NewBrowserDriver: %v", err)
	}
}
