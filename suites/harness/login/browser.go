package login

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
)

// BrowserDriver gets through the login page in headless Chromium (Debian's build),
// driven over the DevTools protocol: the page's own forms and JavaScript run, and
// "sign in with a passkey" uses Chromium's virtual authenticator. The redirect to the
// redirect_uri is caught by request interception, so no server listens there.
type BrowserDriver struct {
	// Pacer, when set, paces the login page posts (the clicks that submit a form)
	// under the target's login prompt limit and counts them.
	Pacer *pace.Pacer

	target *config.Target
	cfg    *config.Browser

	ctx      context.Context // the browser's chromedp context
	chromium *Chromium
}

// ErrNoChromium: no Chromium binary was found.
var ErrNoChromium = errors.New("Chromium is not installed (Debian: apt-get install -y chromium)")

// ChromiumPath finds the browser: the configured binary, else chromium on PATH.
func ChromiumPath(t *config.Target) (string, error) {
	want := config.DefaultChromium
	if t.Login.Browser != nil {
		want = t.Login.Browser.Chromium
	}
	if fi, err := os.Stat(want); err == nil && !fi.IsDir() {
		return want, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w; looked for %s and chromium on PATH", ErrNoChromium, want)
}

// NewBrowserDriver starts one headless Chromium for many logins; Close stops it.
func NewBrowserDriver(ctx context.Context, t *config.Target) (*BrowserDriver, error) {
	c, err := StartChromium(ctx, t, ChromiumExtra{})
	if err != nil {
		return nil, err
	}
	cfg := t.Login.Browser
	if cfg == nil {
		cfg = &config.Browser{Chromium: c.Path, UsernameSelector: config.DefaultUsernameSelector, PasswordSelector: config.DefaultPasswordSelector,
			SubmitSelector: config.DefaultSubmitSelector, PasskeySelector: config.DefaultPasskeySelector}
	}
	return &BrowserDriver{target: t, cfg: cfg, ctx: c.Ctx, chromium: c}, nil
}

// Name implements Driver.
func (b *BrowserDriver) Name() string { return config.DriverBrowser }

// Close stops Chromium and removes its profile.
func (b *BrowserDriver) Close() error { return b.chromium.Close() }

// hostResolverRules maps the resolve entries for Chromium: "MAP host ip:port".
func hostResolverRules(t *config.Target) string {
	var rules []string
	for from, to := range t.Resolve {
		host, port, err := net.SplitHostPort(from)
		if err != nil {
			continue
		}
		if port != "443" {
			host = from
		}
		rules = append(rules, "MAP "+host+" "+to)
	}
	slices.Sort(rules)
	return strings.Join(rules, ", ")
}

// pinnedSPKIs returns the base64 SHA-256 of the SPKI of each domain's leaf certificate
// when the target has its own CA (ca_file); the leaf must verify against it.
func pinnedSPKIs(ctx context.Context, t *config.Target) (string, error) {
	if t.CAFile == "" {
		return "", nil
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return "", fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	var out []string
	for _, d := range t.Domains() {
		addr := d
		if _, _, err := net.SplitHostPort(d); err != nil {
			addr = net.JoinHostPort(d, "443")
		}
		host, _, _ := net.SplitHostPort(addr)
		dial := addr
		if to, ok := t.Resolve[addr]; ok {
			dial = to
		}
		dctx, cancel := context.WithTimeout(ctx, time.Duration(t.Timeouts.Connect))
		conn, err := (&tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}}).DialContext(dctx, "tcp", dial)
		cancel()
		if err != nil {
			return "", &harness.UnreachableError{URL: "https://" + d, Addr: dial, Err: err}
		}
		leaf := conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
		_ = conn.Close()
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		if s := base64.StdEncoding.EncodeToString(sum[:]); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ","), nil
}

// patternEscape escapes the wildcards of a Fetch URL pattern.
func patternEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
}

// Login implements Driver: one fresh browser context (no cookies) and tab per login.
func (b *BrowserDriver) Login(ctx context.Context, authorizeURL, redirectURI string, as As) (string, error) {
	tab, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	timeout := time.Duration(b.target.Login.Timeout)
	bud := newBudget(timeout, cancel)
	defer bud.stop()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	var at lastPage

	paused := chromedp.Events(tab, fetch.RequestPaused) // opens the tab
	if _, err := chromedp.Call(tab, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: patternEscape(redirectURI) + "*", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		return "", b.failed(err, bud, &at, "enabling request interception")
	}
	var authID webauthn.AuthenticatorID
	if as.Passkey != nil {
		var err error
		if authID, err = addPasskey(tab, as.Passkey); err != nil {
			return "", b.failed(err, bud, &at, "adding the passkey to the virtual authenticator")
		}
	}
	found := make(chan string, 1)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if IsRedirectTo(ev.Request.URL, redirectURI) {
				select {
				case found <- ev.Request.URL:
				default:
				}
				// Answer it here: nothing needs to listen at the redirect_uri.
				_, _ = chromedp.Call(tab, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: 200,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html"}},
					Body:            []byte("<!doctype html><title>callback</title><p>Logged in.</p>"),
				})
				continue
			}
			_, _ = chromedp.Call(tab, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	driven := make(chan error, 1)
	go func() { driven <- b.drive(ctx, tab, bud, &at, authorizeURL, redirectURI, as) }()
	for {
		select {
		case u := <-found:
			if as.Passkey != nil {
				syncCounter(tab, authID, as.Passkey)
			}
			return u, nil
		case err := <-driven:
			select { // the redirect may have won the race against a navigation error
			case u := <-found:
				return u, nil
			case <-time.After(100 * time.Millisecond):
			}
			return "", b.failed(err, bud, &at, "the login page")
		case <-tab.Done():
			return "", b.failed(tab.Err(), bud, &at, "waiting for the redirect to "+redirectURI)
		}
	}
}

// lastPage is the page the login was last seen on, for the message when it ends
// elsewhere than at the redirect.
type lastPage struct {
	mu    sync.Mutex
	facts pageFacts
}

func (l *lastPage) set(f pageFacts) {
	l.mu.Lock()
	l.facts = f
	l.mu.Unlock()
}

func (l *lastPage) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.facts.URL == "" {
		return ""
	}
	return fmt.Sprintf(" (at %q, %s)", l.facts.Title, l.facts.URL)
}

func (b *BrowserDriver) failed(err error, bud *budget, at *lastPage, what string) error {
	if pe := (*PageError)(nil); errors.As(err, &pe) {
		return err
	}
	if bud.ranOut() {
		return fmt.Errorf("browser login: %s: gave up after %s (login.timeout)%s", what, bud.timeout, at)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("browser login: %s: interrupted%s", what, at)
	}
	return fmt.Errorf("browser login: %s: %w%s", what, err, at)
}

// factsJS reads what the driver needs of the current page: where it is, whether the
// driver acted on this document already (a new document lacks the mark), whether it
// finished loading, an error message shown, a CAPTCHA widget, the visible login
// fields, and the prompts' action buttons.
const factsJS = `(() => {
  const vis = (e) => !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const q = (s) => { try { return document.querySelector(s); } catch (e) { return null; } };
  const alertEl = [...document.querySelectorAll('#error, [role=alert]')].find((e) => vis(e) && e.textContent.trim());
  const btn = (v) => !!document.querySelector('button[name=action][value="' + v + '"], input[type=submit][name=action][value="' + v + '"]');
  const captcha = [...document.querySelectorAll('[id*=captcha i], [class*=captcha i], [name*=captcha i], [id*=arkose i], [class*=arkose i], [class*=turnstile i], iframe[src*=captcha i], iframe[src*=arkoselabs i], iframe[src*="challenges.cloudflare.com"]')].some(vis);
  return {
    url: location.href, title: document.title, ready: document.readyState, acted: !!window.__myaccountActed,
    says: alertEl ? alertEl.textContent.trim().replace(/\s+/g, ' ') : '', captcha,
    username: vis(q(%s)), password: vis(q(%s)), passkey: vis(q(%s)),
    decline: btn('abort-passkey-enrollment'), accept: btn('accept'), deny: btn('deny'),
  };
})()`

type browserFacts struct {
	URL      string `json:"url"`
	Title    string `json:"title"`
	Ready    string `json:"ready"`
	Acted    bool   `json:"acted"`
	Says     string `json:"says"`
	Captcha  bool   `json:"captcha"`
	Username bool   `json:"username"`
	Password bool   `json:"password"`
	Passkey  bool   `json:"passkey"`
	Decline  bool   `json:"decline"`
	Accept   bool   `json:"accept"`
	Deny     bool   `json:"deny"`
}

func (f browserFacts) page() pageFacts {
	return pageFacts{URL: f.URL, Title: f.Title, Says: f.Says, Captcha: f.Captcha, Username: f.Username, Password: f.Password,
		Passkey: f.Passkey, Decline: f.Decline, Accept: f.Accept, Deny: f.Deny}
}

// Bounds of the page loop: how many pages one login may act on, how often a page is
// looked at, and how long a page nobody recognises may take to become one (a page
// that renders its form with JavaScript) before the login fails naming it.
const (
	maxBrowserSteps = 12
	pollEvery       = 100 * time.Millisecond
	unknownGrace    = 2 * time.Second
)

func cssString(sel string) string {
	s, _ := json.Marshal(sel)
	return string(s)
}

// drive plays the user: on each new page it fills the login form (identifier first,
// or username and password on one page) or clicks "sign in with a passkey", declines
// the passkey enrollment offer, accepts the consent page, and fails on any other
// page, on a CAPTCHA and on an error message. Posts wait for the login prompt limit
// with the budget paused (ctx is the caller's, for that wait).
func (b *BrowserDriver) drive(ctx, tab context.Context, bud *budget, at *lastPage, authorizeURL, redirectURI string, as As) error {
	c := b.cfg
	js := fmt.Sprintf(factsJS, cssString(c.UsernameSelector), cssString(c.PasswordSelector), cssString(c.PasskeySelector))
	if err := chromedp.Do(tab, chromedp.Navigate(authorizeURL)); err != nil {
		return fmt.Errorf("opening %s: %w", authorizeURL, err)
	}
	// act marks the document, waits for the prompt limit and runs the actions that
	// submit the page.
	act := func(actions ...chromedp.Action[chromedp.Void]) error {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool]("window.__myaccountActed = true")); err != nil {
			return err
		}
		if err := bud.pace(ctx, pacerOf(b.Pacer)); err != nil {
			return err
		}
		return chromedp.Do(tab, actions...)
	}
	for step := 0; step < maxBrowserSteps; step++ {
		f, err := b.settle(tab, js, redirectURI, at)
		if err != nil {
			return err
		}
		p := f.page()
		switch kind := classify(p); kind {
		case pageLogin:
			noteLoginForm(ctx)
			err = b.login(tab, f, as, act)
		case pageOffer:
			note(ctx, PromptPasskeyEnrollment)
			err = act(evaluate(postActionJS(actionAbortEnrollment)))
		case pageConsent:
			note(ctx, PromptConsent)
			err = act(evaluate(postActionJS(actionAccept)))
		default:
			return p.err(kind)
		}
		if err != nil {
			return fmt.Errorf("on %q (%s): %w", f.Title, f.URL, err)
		}
	}
	return fmt.Errorf("the login did not reach the redirect_uri after %d pages%s", maxBrowserSteps, at)
}

// login fills the login form on the page f describes.
func (b *BrowserDriver) login(tab context.Context, f browserFacts, as As, act func(...chromedp.Action[chromedp.Void]) error) error {
	c := b.cfg
	switch {
	case as.Passkey != nil && f.Passkey:
		return act(chromedp.Click(chromedp.CSS(c.PasskeySelector)))
	case as.Passkey != nil:
		return fmt.Errorf("the login page shows no passkey button %q", c.PasskeySelector)
	}
	var fill []chromedp.Action[chromedp.Void]
	if f.Username {
		fill = append(fill, chromedp.Clear(chromedp.CSS(c.UsernameSelector)), chromedp.SendKeys(chromedp.CSS(c.UsernameSelector), as.Username))
	}
	if f.Password {
		fill = append(fill, chromedp.Clear(chromedp.CSS(c.PasswordSelector)), chromedp.SendKeys(chromedp.CSS(c.PasswordSelector), as.Password))
	}
	if err := chromedp.Do(tab, fill...); err != nil {
		return fmt.Errorf("filling the login form (%s, %s): %w", c.UsernameSelector, c.PasswordSelector, err)
	}
	if err := act(chromedp.Click(chromedp.CSS(c.SubmitSelector))); err != nil {
		return fmt.Errorf("the submit button %q: %w", c.SubmitSelector, err)
	}
	return nil
}

// evaluate runs a script for its effect.
func evaluate(js string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](js)(ctx, t)
		return chromedp.Void{}, err
	}
}

// postActionJS answers a prompt as its screen does: it clicks the button
// name=action value=action, or, on a page known by its path alone, posts state and
// action to the page itself.
func postActionJS(action string) string {
	a := cssString(action)
	return `(() => {
  const a = ` + a + `;
  const b = document.querySelector('button[name=action][value="' + a + '"], input[type=submit][name=action][value="' + a + '"]');
  if (b) { b.click(); return true; }
  const f = document.createElement('form');
  f.method = 'POST'; f.action = location.href;
  const st = document.querySelector('input[name=state]');
  for (const [k, v] of [['state', st ? st.value : new URLSearchParams(location.search).get('state') || ''], ['action', a]]) {
    const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
  }
  document.body.appendChild(f); f.submit(); return true;
})()`
}

// settle waits for a page to act on: a new document that finished loading and is
// recognisable (or has stayed unrecognisable for unknownGrace), or an error message on
// the page the driver acted on. The redirect_uri's page is never one: Login catches it.
func (b *BrowserDriver) settle(tab context.Context, js, redirectURI string, at *lastPage) (browserFacts, error) {
	var unknownSince time.Time
	var unknownURL string
	for { // bounded by the tab's budget
		select {
		case <-tab.Done():
			return browserFacts{}, tab.Err()
		case <-time.After(pollEvery):
		}
		f, err := chromedp.Run(tab, chromedp.Evaluate[browserFacts](js))
		if err != nil || f.URL == "" || IsRedirectTo(f.URL, redirectURI) {
			continue // navigating, or done
		}
		if f.Acted {
			if f.Says != "" {
				at.set(f.page())
				return f, nil
			}
			continue
		}
		if f.Ready != "complete" {
			continue
		}
		at.set(f.page())
		if classify(f.page()) != PageUnknown {
			return f, nil
		}
		if f.URL != unknownURL {
			unknownURL, unknownSince = f.URL, time.Now()
		}
		if time.Since(unknownSince) >= unknownGrace {
			return f, nil
		}
	}
}

// addPasskey adds a virtual authenticator to the tab (UV, resident keys, presence
// simulated: without it create() and get() wait forever) holding the passkey.
func addPasskey(tab context.Context, pk *authenticator.Passkey) (webauthn.AuthenticatorID, error) {
	if pk.Alg != authenticator.ES256 {
		return "", fmt.Errorf("Chromium's virtual authenticator imports ES256 keys only, not %v", pk.Alg)
	}
	if _, err := chromedp.Call(tab, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		return "", err
	}
	res, err := chromedp.Call(tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
		Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
		IsUserVerified: true, AutomaticPresenceSimulation: true,
		DefaultBackupEligibility: true, DefaultBackupState: true,
	}})
	if err != nil {
		return "", err
	}
	_, err = chromedp.Call(tab, addCredential, addCredentialParams{AuthenticatorID: res.AuthenticatorID, Credential: credential{
		CredentialID: pk.ID, IsResidentCredential: true, RpID: pk.RPID, PrivateKey: pk.PrivateKeyPKCS8(),
		UserHandle: pk.UserHandle, SignCount: float64(pk.Counter), BackupEligibility: true, BackupState: true,
	}})
	return res.AuthenticatorID, err
}

// addCredential is WebAuthn.addCredential with the members this suite sets:
// cdproto's Credential always sends generateCmtgKeyOnNextOperation, which Chromium
// refuses ("CMTG is not supported by this authenticator").
var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      credential               `json:"credential"`
}

type credential struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle"`
	SignCount            float64 `json:"signCount"`
	BackupEligibility    bool    `json:"backupEligibility"`
	BackupState          bool    `json:"backupState"`
}

// syncCounter copies the authenticator's counter back, so that the suite's own
// authenticator continues above it.
func syncCounter(tab context.Context, id webauthn.AuthenticatorID, pk *authenticator.Passkey) {
	res, err := chromedp.Call(tab, webauthn.GetCredential, webauthn.GetCredentialParams{AuthenticatorID: id, CredentialID: pk.ID})
	if err == nil && res.Credential != nil && uint32(res.Credential.SignCount) > pk.Counter {
		pk.Counter = uint32(res.Credential.SignCount)
	}
}
