package login

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
)

// What the drivers meet between /authorize and the redirect (PROTOCOL §9): the login
// form (identifier first, or username and password on one page), and after it the
// pages a correctly configured tenant may show — the passkey enrollment offer of
// progressive enrollment (on by default when the connection has passkeys) and the
// consent page. The drivers answer those two as Universal Login's own screens post
// them (@auth0/auth0-acul-js): `state` and `action=abort-passkey-enrollment` to
// decline the offer, `state` and `action=accept` to consent. Any other page — a
// CAPTCHA of bot detection, an MFA challenge, an Action's form — is beyond them: the
// login fails at once, naming the page, instead of waiting for a redirect that will
// not come.

// Universal Login's action values and screen paths.
const (
	actionDefault         = "default"
	actionAbortEnrollment = "abort-passkey-enrollment"
	actionAccept          = "accept"
	actionDeny            = "deny"

	enrollmentPath = "/u/passkey-enrollment" // also /u/passkey-enrollment-local
	consentPath    = "/u/consent"
)

// Prompts a driver answered, as a Trace records them.
const (
	PromptPasskeyEnrollment = "passkey-enrollment" // the offer, declined
	PromptConsent           = "consent"            // the consent page, accepted
)

// PageKind is what a driver makes of a page.
type PageKind string

// Pages a login fails on.
const (
	// PageCaptcha: bot detection asks for a CAPTCHA.
	PageCaptcha PageKind = "captcha"
	// PageRefused: the page shows an error (a wrong password, a refused step).
	PageRefused PageKind = "refused"
	// PageUnknown: none of the pages the drivers handle.
	PageUnknown PageKind = "unknown"
)

// pageLogin, pageOffer and pageConsent are the pages the drivers get through.
const (
	pageLogin   PageKind = "login"
	pageOffer   PageKind = "passkey-enrollment"
	pageConsent PageKind = "consent"
)

// PageError is a login that stopped at a page the driver cannot get through.
type PageError struct {
	Kind   PageKind
	Status int    // the page's HTTP status (form driver); 0 when not known
	Title  string // the page's <title>
	URL    string
	Says   string // the page's error message, if it shows one
}

func (e *PageError) Error() string {
	page := fmt.Sprintf("%q at %s", e.Title, e.URL)
	says := ""
	if e.Says != "" {
		says = "; the page says: " + e.Says
	}
	switch e.Kind {
	case PageCaptcha:
		return "the login page " + page + " asks for a CAPTCHA (bot detection), which no login driver can solve" + says
	case PageRefused:
		status := ""
		if e.Status != 0 {
			status = fmt.Sprintf(" (%d)", e.Status)
		}
		return "the login page " + page + " refused the login" + status + says
	}
	return "the login met a page it does not know, " + page + says +
		": the drivers get through the login form, the passkey enrollment offer and the consent page only"
}

// Path is the page URL's path ("" when it is not a URL).
func (e *PageError) Path() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return ""
	}
	return u.Path
}

// pageFacts is what a driver sees of a page.
type pageFacts struct {
	URL, Title string
	Status     int    // 0: not known (browser)
	Says       string // the error message shown, if any
	Captcha    bool
	// Login fields (browser: visible ones).
	Username, Password, Passkey bool
	// Submit buttons name=action with these values.
	Decline, Accept, Deny bool
}

// classify decides what a page is. A CAPTCHA comes first (the login page carries it);
// an error message ends the login, also on the prompts; the prompts are known by
// their action buttons or by their path.
func classify(f pageFacts) PageKind {
	path := ""
	if u, err := url.Parse(f.URL); err == nil {
		path = u.Path
	}
	switch {
	case f.Captcha:
		return PageCaptcha
	case f.Says != "":
		return PageRefused
	case f.Decline || strings.HasPrefix(path, enrollmentPath):
		return pageOffer
	case (f.Accept && f.Deny) || path == consentPath:
		return pageConsent
	case f.Username || f.Password || f.Passkey:
		return pageLogin
	}
	return PageUnknown
}

func (f pageFacts) err(kind PageKind) *PageError {
	return &PageError{Kind: kind, Status: f.Status, Title: f.Title, URL: f.URL, Says: f.Says}
}

// captchaWords mark an element of a CAPTCHA: the vendor's own, reCAPTCHA, hCaptcha,
// Friendly Captcha, Arkose Labs and Cloudflare Turnstile widgets.
var captchaWords = []string{"captcha", "arkose", "turnstile"}

func isCaptchaAttr(v string) bool {
	v = strings.ToLower(v)
	for _, w := range captchaWords {
		if strings.Contains(v, w) {
			return true
		}
	}
	return false
}

// Trace collects the prompts the drivers answered during the logins of a context.
type Trace struct {
	mu      sync.Mutex
	prompts []string
	forms   int
}

type traceKey struct{}

// WithTrace makes the logins under ctx note the prompts they answer in t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// Prompts are the prompts answered so far, in order.
func (t *Trace) Prompts() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.prompts...)
}

// LoginForms is how many login forms (identifier, password, passkey) the drivers
// filled: none for a login the tenant's session answered.
func (t *Trace) LoginForms() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.forms
}

// noteLoginForm notes a login form filled under ctx.
func noteLoginForm(ctx context.Context) {
	if t, ok := ctx.Value(traceKey{}).(*Trace); ok {
		t.mu.Lock()
		t.forms++
		t.mu.Unlock()
	}
}

func note(ctx context.Context, prompt string) {
	if t, ok := ctx.Value(traceKey{}).(*Trace); ok {
		t.mu.Lock()
		t.prompts = append(t.prompts, prompt)
		t.mu.Unlock()
	}
}

// errLoginTimeout is why a login ran out of login.timeout.
var errLoginTimeout = errors.New("login.timeout")

// budget is login.timeout for one login, paused while the driver waits for the
// login prompt limit: that wait is the suite keeping to the target's limits, not
// the target being slow. Its end cancels the login (cancel).
type budget struct {
	timeout time.Duration
	cancel  func()

	mu      sync.Mutex
	timer   *time.Timer
	left    time.Duration
	since   time.Time
	paused  bool
	expired bool
}

func newBudget(timeout time.Duration, cancel func()) *budget {
	b := &budget{timeout: timeout, cancel: cancel, left: timeout, since: time.Now()}
	b.timer = time.AfterFunc(timeout, func() {
		b.mu.Lock()
		b.expired = true
		b.mu.Unlock()
		cancel()
	})
	return b
}

func (b *budget) stop() { b.timer.Stop() }

// ranOut says whether the budget ended the login.
func (b *budget) ranOut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expired
}

// loginPacer is what a budget waits on: pace.Pacer's login prompt limit.
type loginPacer interface {
	LoginPost(ctx context.Context) error
}

// pacerOf is p as a loginPacer, nil when there is none.
func pacerOf(p *pace.Pacer) loginPacer {
	if p == nil {
		return nil
	}
	return p
}

// pace waits for the login prompt limit (one POST to a login page) with the budget
// paused. ctx is the caller's, not the login's: the wait is bounded by the spec.
func (b *budget) pace(ctx context.Context, p loginPacer) error {
	if p == nil {
		return nil
	}
	b.mu.Lock()
	if !b.paused && b.timer.Stop() {
		b.paused = true
		b.left -= time.Since(b.since)
	}
	b.mu.Unlock()
	err := p.LoginPost(ctx)
	b.mu.Lock()
	if b.paused {
		b.paused = false
		b.since = time.Now()
		b.timer.Reset(max(b.left, 0))
	}
	b.mu.Unlock()
	return err
}
