package login_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// referenceTarget starts a reference tenant and describes it as the runner does.
func referenceTarget(t testing.TB) (*reftenant.Tenant, *config.Target) {
	t.Helper()
	return referenceTargetWith(t, reftenant.Options{}, "rate_limit: {login_prompts: {unlimited: true}}\n")
}

// referenceTargetWith starts a reference tenant with opts; extra is more target YAML.
func referenceTargetWith(t testing.TB, opts reftenant.Options, extra string) (*reftenant.Tenant, *config.Target) {
	t.Helper()
	tn, err := reftenant.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tn.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, tn.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := tn.Clients()
	user, pass := tn.PasswordUser()
	yaml := "domain: " + tn.Domain() + "\ncustom_domain: " + tn.CustomDomain() + "\nca_file: " + ca +
		"\nresolve:\n  \"" + tn.Domain() + ":443\": \"" + tn.Addr() + "\"\n  \"" + tn.CustomDomain() + ":443\": \"" + tn.Addr() + "\"\n" +
		"clients:\n  native: {client_id: " + cs[0].ID + "}\n  spa: {client_id: " + cs[1].ID + ", redirect_uri: '" + cs[1].RedirectURIs[0] + "'}\n" +
		"user: {username: '" + user + "', password: '" + pass + "'}\n" + extra
	if !strings.Contains(extra, "login:") {
		yaml += "login: {browser: {passkeys: true}}\n"
	}
	tg, err := config.ParseTarget([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return tn, tg
}

func framework(t testing.TB, tg *config.Target) *harness.Framework {
	t.Helper()
	f, err := harness.NewFramework(tg, harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// loginWith runs one code-flow login for the SPA client on the custom domain.
func loginWith(t testing.TB, d login.Driver, tg *config.Target, as login.As) (login.Request, login.Callback, error) {
	a := login.NewRequest(tg.CustomDomain, tg.LoginClients()[0], "openid", harness.ScopeReadMethods)
	u, err := d.Login(context.Background(), a.URL(), a.Client.RedirectURI, as)
	if err != nil {
		return a, login.Callback{}, err
	}
	cb, err := login.ParseCallback(u)
	return a, cb, err
}

func TestFormDriverLogsInToTheReferenceTenant(t *testing.T) {
	_, tg := referenceTarget(t)
	f := framework(t, tg)
	d := &login.FormDriver{Client: f.Client}
	a, cb, err := loginWith(t, d, tg, login.As{Username: tg.User.Username, Password: tg.User.Password})
	if err != nil || cb.Code == "" || cb.State != a.State {
		t.Fatalf("login: %v %+v", err, cb)
	}
	_, _, err = loginWith(t, d, tg, login.As{Username: tg.User.Username, Password: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "Wrong email or password") {
		t.Errorf("a wrong password: %v", err)
	}
	for _, ex := range f.Recorder.Exchanges() {
		if strings.Contains(ex.ReqBody, tg.User.Password) {
			t.Errorf("the password is in the recorded request to %s", ex.URL)
		}
	}
}

// TestBrowserDriverLogsInToTheReferenceTenant drives the login page in headless
// Chromium with a password and with a passkey; it is mandatory when CI=true.
func TestBrowserDriverLogsInToTheReferenceTenant(t *testing.T) {
	_, tg := referenceTarget(t)
	d, err := login.NewBrowserDriver(context.Background(), tg)
	if errors.Is(err, login.ErrNoChromium) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, cb, err := loginWith(t, d, tg, login.As{Username: tg.User.Username, Password: tg.User.Password})
	if err != nil || cb.Code == "" || cb.State != a.State {
		t.Fatalf("password login: %v %+v", err, cb)
	}
	if _, _, err := loginWith(t, d, tg, login.As{Username: tg.User.Username, Password: "wrong"}); err == nil || !strings.Contains(err.Error(), "Wrong email or password") {
		t.Errorf("a wrong password: %v", err)
	}
	// A passkey the page's RP does not know is refused by the server, and the driver says so.
	f := framework(t, tg)
	authn := authenticator.New()
	resp, err := f.PasskeyRegister(context.Background(), tg.CustomDomain, harness.NewEmail())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := json.Marshal(resp.Object()["authn_params_public_key"])
	if err != nil {
		t.Fatal(err)
	}
	_, pk, err := authn.Register(opts, tg.WebAuthn.Origin, authenticator.ES256)
	if err != nil {
		t.Fatal(err)
	}
	// Registered with the authenticator only, never with the server: unknown credential.
	if _, _, err := loginWith(t, d, tg, login.As{Passkey: pk}); err == nil || !strings.Contains(err.Error(), "unknown credential") {
		t.Errorf("an unknown passkey: %v", err)
	}
}

// BenchmarkBrowserLogin measures one password login through the page in a running
// Chromium (PROTOCOL §8: start plus one login is about 0.7 s).
func BenchmarkBrowserLogin(b *testing.B) {
	_, tg := referenceTarget(b)
	d, err := login.NewBrowserDriver(context.Background(), tg)
	if err != nil {
		b.Skip(err)
	}
	defer d.Close()
	as := login.As{Username: tg.User.Username, Password: tg.User.Password}
	for b.Loop() {
		if _, _, err := loginWith(b, d, tg, as); err != nil {
			b.Fatal(err)
		}
	}
}
