package login

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
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
	tg := &config.Target{Login: config.Login{Browser: &config.Browser{Chromium: "/nonexistent/chromium"}}}
	if _, err := ChromiumPath(tg); !errors.Is(err, ErrNoChromium) || !strings.Contains(err.Error(), "apt-get install -y chromium") {
		t.Errorf("got %v", err)
	}
	if _, err := NewBrowserDriver(context.Background(), tg); !errors.Is(err, ErrNoChromium) {
		t.Errorf("NewBrowserDriver: %v", err)
	}
}

func TestClassifyPages(t *testing.T) {
	for _, c := range []struct {
		name string
		f    pageFacts
		want PageKind
	}{
		{"identifier", pageFacts{URL: "https://t/u/login/identifier?state=s", Username: true}, pageLogin},
		{"password", pageFacts{URL: "https://t/u/login/password?state=s", Password: true}, pageLogin},
		{"wrong password", pageFacts{URL: "https://t/u/login/password", Password: true, Says: "Wrong email or password"}, PageRefused},
		{"captcha", pageFacts{URL: "https://t/u/login/identifier", Username: true, Captcha: true}, PageCaptcha},
		{"offer by button", pageFacts{URL: "https://t/somewhere", Decline: true}, pageOffer},
		{"offer by path", pageFacts{URL: "https://t/u/passkey-enrollment?state=s"}, pageOffer},
		{"local offer by path", pageFacts{URL: "https://t/u/passkey-enrollment-local?state=s"}, pageOffer},
		{"consent by buttons", pageFacts{URL: "https://t/x", Accept: true, Deny: true}, pageConsent},
		{"consent by path", pageFacts{URL: "https://t/u/consent?state=s"}, pageConsent},
		{"accept alone", pageFacts{URL: "https://t/x", Accept: true}, PageUnknown},
		{"mfa", pageFacts{URL: "https://t/u/mfa-otp-challenge?state=s", Title: "Verify"}, PageUnknown},
	} {
		if got := classify(c.f); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestFormDriverAnswersPromptsAsUniversalLoginPostsThem(t *testing.T) {
	// The reference's offer: two forms, the decline one holds state and the button.
	page, err := parsePage([]byte(`<title>Create a passkey</title>
		<form method="post" action="/u/passkey-enrollment?state=S"><input type="hidden" name="state" value="S"><input type="hidden" name="passkey">
		<button type="submit" name="action" value="default">Create</button></form>
		<form method="post" action="/u/passkey-enrollment?state=S"><input type="hidden" name="state" value="S">
		<button type="submit" name="action" value="abort-passkey-enrollment">Continue without</button></form>`))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("https://login.example/u/passkey-enrollment?state=S")
	if k := classify(page.facts(base, 200)); k != pageOffer {
		t.Fatalf("classified %s", k)
	}
	req, err := page.post(base, actionAbortEnrollment)
	if err != nil || req.Method != "POST" || req.URL != "https://login.example/u/passkey-enrollment?state=S" ||
		req.Form.Get("state") != "S" || req.Form.Get("action") != "abort-passkey-enrollment" || req.Form.Has("passkey") {
		t.Errorf("decline: %v %+v", err, req)
	}
	// A page known by its path alone (rendered by script): state and action to itself.
	page, _ = parsePage([]byte(`<title>Authorize App</title><div id="root"></div>`))
	base, _ = url.Parse("https://login.example/u/consent?state=T")
	req, err = page.post(base, actionAccept)
	if err != nil || req.URL != base.String() || req.Form.Get("state") != "T" || req.Form.Get("action") != "accept" || len(req.Form) != 2 {
		t.Errorf("accept: %v %+v", err, req)
	}
	// CAPTCHA widgets of several providers are seen; a page without one is not.
	for _, body := range []string{`<div class="ulp-captcha-container"></div>`, `<div class="g-recaptcha" data-sitekey="x"></div>`,
		`<input name="captcha">`, `<iframe src="https://client-api.arkoselabs.com/x"></iframe>`, `<div class="cf-turnstile"></div>`} {
		if p, _ := parsePage([]byte(body)); !p.captcha {
			t.Errorf("no CAPTCHA seen in %s", body)
		}
	}
	if p, _ := parsePage([]byte(`<script src="/captcha.js"></script><form><input id="username" name="username"></form>`)); p.captcha {
		t.Error("a script named captcha is not a CAPTCHA on the page")
	}
}

// blockingPacer holds every post until released; entered says a post arrived.
type blockingPacer struct{ entered, release chan struct{} }

func (p blockingPacer) LoginPost(ctx context.Context) error {
	close(p.entered)
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// The budget stands still while the pacer holds a post, however long that takes,
// and runs on afterwards.
func TestBudgetPausesWhileThePacerWaits(t *testing.T) {
	ended := make(chan struct{})
	b := newBudget(500*time.Millisecond, func() { close(ended) })
	defer b.stop()
	p := blockingPacer{entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- b.pace(context.Background(), p) }()
	<-p.entered // the budget is paused before the pacer is asked
	// Held for three budgets: the budget must not end meanwhile.
	select {
	case <-ended:
		t.Fatal("the budget ran out while the pacer held the post")
	case <-time.After(1500 * time.Millisecond):
	}
	close(p.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-ended // and afterwards it runs on to its end
	if !b.ranOut() {
		t.Error("ended without saying so")
	}
}
