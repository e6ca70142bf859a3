package login_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// driverCase builds one of the drivers for a target; the browser skips without
// Chromium (except in CI).
type driverCase struct {
	name string
	new  func(t *testing.T, f *harness.Framework) login.Driver
}

var drivers = []driverCase{
	{config.DriverForm, func(t *testing.T, f *harness.Framework) login.Driver { return &login.FormDriver{Client: f.Client} }},
	{config.DriverBrowser, func(t *testing.T, f *harness.Framework) login.Driver {
		d, err := login.NewBrowserDriver(context.Background(), f.Target)
		if errors.Is(err, login.ErrNoChromium) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		d.Pacer = f.Client.Pacer
		t.Cleanup(func() { _ = d.Close() })
		return d
	}},
}

// redeemCode redeems a login's code for the SPA client and reports the status.
func redeemCode(t *testing.T, f *harness.Framework, a login.Request, code string) int {
	t.Helper()
	resp, err := f.Client.Do(context.Background(), &harness.Request{Method: http.MethodPost, URL: "https://" + a.Host + "/oauth/token", Form: url.Values{
		"grant_type": {"authorization_code"}, "client_id": {a.Client.ClientID}, "code": {code},
		"redirect_uri": {a.Client.RedirectURI}, "code_verifier": {a.Verifier},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

// With progressive enrollment and consent on, both drivers decline the passkey offer
// and accept the consent page, as Universal Login's screens post them, and every
// post of the login (identifier, password, decline, accept) goes through the pacer.
func TestDriversGetThroughThePasskeyOfferAndTheConsentPage(t *testing.T) {
	for _, dc := range drivers {
		t.Run(dc.name, func(t *testing.T) {
			_, tg := referenceTargetWith(t, reftenant.Options{PasskeyEnrollmentPrompt: true, ConsentPrompt: true},
				"rate_limit: {login_prompts: {unlimited: true}}\n")
			f := framework(t, tg)
			d := dc.new(t, f)
			var trace login.Trace
			a := login.NewRequest(tg.CustomDomain, tg.LoginClients()[0], "openid", harness.ScopeReadMethods)
			u, err := d.Login(login.WithTrace(context.Background(), &trace), a.URL(), a.Client.RedirectURI, login.As{Username: tg.User.Username, Password: tg.User.Password})
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			cb, err := login.ParseCallback(u)
			if err != nil || cb.Code == "" || cb.State != a.State {
				t.Fatalf("callback %q: %v", u, err)
			}
			if got := trace.Prompts(); !slices.Equal(got, []string{login.PromptPasskeyEnrollment, login.PromptConsent}) {
				t.Errorf("prompts answered: %v", got)
			}
			if st := redeemCode(t, f, a, cb.Code); st != http.StatusOK {
				t.Errorf("redeeming the code: %d", st)
			}
			if n := f.Client.Pacer.Traffic().LoginPosts; n != 4 {
				t.Errorf("the pacer counted %d login posts, want 4 (identifier, password, decline, accept)", n)
			}
			// Canonical domain: the offer there can only be declined, as on the custom one.
			a = login.NewRequest(tg.Domain, tg.LoginClients()[0], "openid")
			a.Audience = ""
			if _, err := d.Login(context.Background(), a.URL(), a.Client.RedirectURI, login.As{Username: tg.User.Username, Password: tg.User.Password}); err != nil {
				t.Errorf("login on the canonical domain: %v", err)
			}
		})
	}
}

// Bot detection's CAPTCHA stops both drivers on the login page at once, naming it.
func TestDriversStopAtACaptcha(t *testing.T) {
	for _, dc := range drivers {
		t.Run(dc.name, func(t *testing.T) {
			_, tg := referenceTargetWith(t, reftenant.Options{Misconfig: []string{reftenant.MisconfigBotDetection}}, "")
			f := framework(t, tg)
			d := dc.new(t, f)
			_, _, err := loginWith(t, d, tg, login.As{Username: tg.User.Username, Password: tg.User.Password})
			var pe *login.PageError
			if !errors.As(err, &pe) || pe.Kind != login.PageCaptcha {
				t.Fatalf("want a CAPTCHA page error, got %v", err)
			}
			if !strings.HasPrefix(pe.Title, "Log in") || pe.Path() != "/u/login/identifier" ||
				!strings.Contains(err.Error(), pe.URL) || !strings.Contains(err.Error(), "CAPTCHA") {
				t.Errorf("the error does not name the page: %v", err)
			}
			if n := f.Client.Pacer.Traffic().LoginPosts; n != 0 {
				t.Errorf("%d posts to a page with a CAPTCHA", n)
			}
		})
	}
}

// unknownPageTenant serves /authorize that leads to a page no driver knows (an MFA
// challenge), as a TLS server on loopback, and describes it as a target.
func unknownPageTenant(t *testing.T) *config.Target {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/u/mfa-otp-challenge?state=abc", http.StatusFound)
	})
	mux.HandleFunc("GET /u/mfa-otp-challenge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>Verify Your Identity</title></head><body>
<form method="post"><input type="hidden" name="state" value="abc"><label>Enter the code</label>
<input type="text" name="code" id="code"><button type="submit" name="action" value="default">Continue</button></form></body></html>`))
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	// The test certificate names example.com: the tenant is example.com on this server.
	addr := srv.Listener.Addr().String()
	tg, err := config.ParseTarget([]byte("domain: example.com\nca_file: " + ca + "\nresolve: {\"example.com:443\": \"" + addr + "\"}\n" +
		"clients: {native: {client_id: n}, spa: {client_id: s, redirect_uri: 'https://app.example/cb'}}\n" +
		"user: {username: u@example.com, password: pw}\nlogin: {timeout: 20s, browser: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// Any other page ends the login at once, well within login.timeout, naming the
// page's title and URL.
func TestDriversStopAtAPageTheyDoNotKnow(t *testing.T) {
	for _, dc := range drivers {
		t.Run(dc.name, func(t *testing.T) {
			tg := unknownPageTenant(t)
			f := framework(t, tg)
			d := dc.new(t, f)
			a := login.NewRequest(tg.Domain, tg.LoginClients()[0], "openid")
			_, err := d.Login(context.Background(), a.URL(), a.Client.RedirectURI, login.As{Username: "u@example.com", Password: "pw"})
			var pe *login.PageError
			if !errors.As(err, &pe) || pe.Kind != login.PageUnknown {
				t.Fatalf("want an unknown-page error, got %v", err)
			}
			if pe.Title != "Verify Your Identity" || pe.Path() != "/u/mfa-otp-challenge" || !strings.Contains(err.Error(), `"Verify Your Identity" at https://example.com/u/mfa-otp-challenge`) {
				t.Errorf("the error does not name the page: %v", err)
			}
		})
	}
}

// Every post of a login waits for the login prompt limit: with one post a second
// allowed (burst 1), the four posts of a login with both prompts wait.
// (TestBudgetPausesWhileThePacerWaits shows the waits do not count against
// login.timeout.)
func TestDriversPaceTheirPosts(t *testing.T) {
	for _, dc := range drivers {
		t.Run(dc.name, func(t *testing.T) {
			_, tg := referenceTargetWith(t, reftenant.Options{PasskeyEnrollmentPrompt: true, ConsentPrompt: true},
				"rate_limit: {login_prompts: {per_second: 1, burst: 1}}\nlogin: {browser: {}}\n")
			f := framework(t, tg)
			d := dc.new(t, f)
			if _, _, err := loginWith(t, d, tg, login.As{Username: tg.User.Username, Password: tg.User.Password}); err != nil {
				t.Fatalf("login: %v", err)
			}
			tr := f.Client.Pacer.Traffic()
			if tr.LoginPosts != 4 || tr.Waited["login prompts"] == 0 {
				t.Errorf("posts %d, waited %v", tr.LoginPosts, tr.Waited)
			}
		})
	}
}
