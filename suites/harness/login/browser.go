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

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// BrowserDriver gets through the login page in headless Chromium (Debian's build),
// driven over the DevTools protocol: the page's own forms and JavaScript run, and
// "sign in with a passkey" uses Chromium's virtual authenticator. The redirect to the
// redirect_uri is caught by request interception, so no server listens there.
type BrowserDriver struct {
	target *harness.Target
	cfg    *harness.Browser

	ctx         context.Context // the browser's chromedp context
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	dir         string
	closeOnce   sync.Once
}

// ErrNoChromium: no Chromium binary was found.
var ErrNoChromium = errors.New("Chromium is not installed (Debian: apt-get install -y chromium)")

// ChromiumPath finds the browser: the configured binary, else chromium on PATH.
func ChromiumPath(t *harness.Target) (string, error) {
	want := harness.DefaultChromium
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

// browserStartTimeout bounds Chromium's start.
const browserStartTimeout = 30 * time.Second

// NewBrowserDriver starts one headless Chromium for many logins; Close stops it.
func NewBrowserDriver(ctx context.Context, t *harness.Target) (*BrowserDriver, error) {
	path, err := ChromiumPath(t)
	if err != nil {
		return nil, err
	}
	cfg := t.Login.Browser
	if cfg == nil {
		cfg = &harness.Browser{Chromium: path, UsernameSelector: harness.DefaultUsernameSelector, PasswordSelector: harness.DefaultPasswordSelector,
			SubmitSelector: harness.DefaultSubmitSelector, PasskeySelector: harness.DefaultPasskeySelector}
	}
	spki, err := pinnedSPKIs(ctx, t)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "myaccount-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		// Without these Chromium calls home, and this network refuses it.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.Env("HOME=" + dir),
	}
	if rules := hostResolverRules(t); rules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", rules))
	}
	if spki != "" {
		// Trust exactly the target's certificates: the page stays a secure context
		// (WebAuthn works), which --ignore-certificate-errors would break.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	b := &BrowserDriver{target: t, cfg: cfg, ctx: bctx, cancel: cancel, allocCancel: allocCancel, dir: dir}
	// The first Do starts the process, which lives as long as bctx: bound the
	// start with a timer, not with a derived context.
	timer := time.AfterFunc(browserStartTimeout, cancel)
	err = chromedp.Do(bctx)
	stopped := !timer.Stop()
	if err != nil || stopped {
		_ = b.Close()
		if err == nil {
			err = context.DeadlineExceeded
		}
		return nil, fmt.Errorf("starting Chromium (%s): %w", path, err)
	}
	return b, nil
}

// Name implements Driver.
func (b *BrowserDriver) Name() string { return harness.DriverBrowser }

// Close stops Chromium and removes its profile.
func (b *BrowserDriver) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		b.allocCancel()
		_ = os.RemoveAll(b.dir)
	})
	return nil
}

// hostResolverRules maps the resolve entries for Chromium: "MAP host ip:port".
func hostResolverRules(t *harness.Target) string {
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
func pinnedSPKIs(ctx context.Context, t *harness.Target) (string, error) {
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
	timer := time.AfterFunc(timeout, cancel)
	defer timer.Stop()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()

	paused := chromedp.Events(tab, fetch.RequestPaused) // opens the tab
	if _, err := chromedp.Call(tab, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: patternEscape(redirectURI) + "*", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		return "", b.failed(err, timeout, "enabling request interception")
	}
	var authID webauthn.AuthenticatorID
	if as.Passkey != nil {
		var err error
		if authID, err = addPasskey(tab, as.Passkey); err != nil {
			return "", b.failed(err, timeout, "adding the passkey to the virtual authenticator")
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
	go func() { driven <- b.drive(tab, authorizeURL, as) }()
	var driveErr error
	for {
		select {
		case u := <-found:
			if as.Passkey != nil {
				syncCounter(tab, authID, as.Passkey)
			}
			return u, nil
		case driveErr = <-driven:
			driven = nil
			if driveErr == nil {
				continue // submitted: wait for the redirect
			}
			select { // the redirect may have won the race against a navigation error
			case u := <-found:
				return u, nil
			case <-time.After(100 * time.Millisecond):
			}
			return "", b.failed(driveErr, timeout, "the login page")
		case <-tab.Done():
			return "", b.failed(tab.Err(), timeout, "waiting for the redirect to "+redirectURI)
		}
	}
}

func (b *BrowserDriver) failed(err error, timeout time.Duration, what string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("browser login: %s: gave up after %s (login.timeout)", what, timeout)
	}
	return fmt.Errorf("browser login: %s: %w", what, err)
}

// alertJS reads the page's error message, if it shows one.
const alertJS = `(() => { const e = document.querySelector('#error, [role=alert]'); return e ? e.textContent.trim() : '' })()`

func visibleJS(sel string) string {
	s, _ := json.Marshal(sel)
	return `(() => { const e = document.querySelector(` + string(s) + `); return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) })()`
}

// drive fills the login page: identifier first (username, submit, password, submit)
// or both fields on one page; or clicks "sign in with a passkey". It then watches for
// an error message until the redirect ends the login.
func (b *BrowserDriver) drive(tab context.Context, authorizeURL string, as As) error {
	c := b.cfg
	if err := chromedp.Do(tab, chromedp.Navigate(authorizeURL)); err != nil {
		return fmt.Errorf("opening %s: %w", authorizeURL, err)
	}
	if as.Passkey != nil {
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(c.PasskeySelector)), chromedp.Click(chromedp.CSS(c.PasskeySelector))); err != nil {
			return fmt.Errorf("the passkey button %q: %w", c.PasskeySelector, err)
		}
	} else {
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(c.UsernameSelector)), chromedp.SendKeys(chromedp.CSS(c.UsernameSelector), as.Username)); err != nil {
			return fmt.Errorf("the username field %q: %w", c.UsernameSelector, err)
		}
		onePage, _ := chromedp.Run(tab, chromedp.Evaluate[bool](visibleJS(c.PasswordSelector)))
		if !onePage {
			if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(c.SubmitSelector))); err != nil {
				return fmt.Errorf("the submit button %q: %w", c.SubmitSelector, err)
			}
		}
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(c.PasswordSelector)), chromedp.SendKeys(chromedp.CSS(c.PasswordSelector), as.Password)); err != nil {
			return fmt.Errorf("the password field %q: %w%s", c.PasswordSelector, err, pageSays(tab))
		}
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(c.SubmitSelector))); err != nil {
			return fmt.Errorf("the submit button %q: %w", c.SubmitSelector, err)
		}
	}
	for { // bounded by the tab's timeout
		select {
		case <-tab.Done():
			return tab.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if msg, err := chromedp.Run(tab, chromedp.Evaluate[string](alertJS)); err == nil && msg != "" {
			return fmt.Errorf("the login page says: %s", msg)
		}
	}
}

func pageSays(tab context.Context) string {
	if msg, err := chromedp.Run(tab, chromedp.Evaluate[string](alertJS)); err == nil && msg != "" {
		return "; the page says: " + msg
	}
	return ""
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
