// Package login gets the suite through Universal Login: the authorization request
// (with PKCE) and the drivers that play the user agent between /authorize and the
// redirect back to the application — plain HTTP forms, headless Chromium, or a
// command the user provides.
package login

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// Universal Login: the authorization code flow (RFC 6749 §4.1) with PKCE (RFC 7636).
// A Driver plays the user agent between /authorize and the redirect back to the
// application; the specs then redeem the code themselves.

// Request is one authorization request.
type Request struct {
	Host     string // the domain /authorize is called on
	Client   config.NamedClient
	Audience string
	Scope    string
	State    string
	Verifier string     // PKCE code_verifier; "" sends no code_challenge
	Extra    url.Values // more query parameters, sent as given
}

// NewRequest is a request for host's My Account API with a fresh state and, for
// every client, a fresh PKCE verifier.
func NewRequest(host string, c config.NamedClient, scopes ...string) Request {
	return Request{
		Host: host, Client: c, Audience: config.MeAudience(host), Scope: strings.Join(scopes, " "),
		State: randomURLSafe(16), Verifier: randomURLSafe(32),
	}
}

// URL is the /authorize URL.
func (a Request) URL() string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {a.Client.ClientID},
		"redirect_uri": {a.Client.RedirectURI}, "state": {a.State},
	}
	if a.Audience != "" {
		q.Set("audience", a.Audience)
	}
	if a.Scope != "" {
		q.Set("scope", a.Scope)
	}
	if a.Verifier != "" {
		q.Set("code_challenge", PKCEChallenge(a.Verifier))
		q.Set("code_challenge_method", "S256")
	}
	for k, vs := range a.Extra {
		q[k] = vs
	}
	return "https://" + a.Host + "/authorize?" + q.Encode()
}

// PKCEChallenge is BASE64URL(SHA256(verifier)).
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomURLSafe(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Callback is where a login ended: the redirect_uri with code and state, or an error.
type Callback struct {
	URL              string
	Code, State      string
	Error, ErrorDesc string
}

// ParseCallback reads the query of a URL the login redirected to.
func ParseCallback(raw string) (Callback, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Callback{}, fmt.Errorf("callback %q is not a URL: %w", raw, err)
	}
	q := u.Query()
	return Callback{URL: raw, Code: q.Get("code"), State: q.Get("state"), Error: q.Get("error"), ErrorDesc: q.Get("error_description")}, nil
}

// IsRedirectTo says whether raw is redirectURI (plus query): the same scheme, host
// and path.
func IsRedirectTo(raw, redirectURI string) bool {
	u, err1 := url.Parse(raw)
	r, err2 := url.Parse(redirectURI)
	return err1 == nil && err2 == nil && strings.EqualFold(u.Scheme, r.Scheme) &&
		strings.EqualFold(u.Host, r.Host) && u.Path == r.Path
}

// As is who signs in: with a password, or (browser only) with a passkey.
type As struct {
	Username, Password string
	Passkey            *authenticator.Passkey
	// Fresh logs in without the user's session (Sessions) and keeps none: the login
	// shows its prompts, as for a spec of the login page itself. Otherwise the
	// form driver logs in with the session of the user's earlier login on the
	// domain, if any, and keeps the session this login leaves.
	Fresh bool
}

// Driver gets through the login page.
type Driver interface {
	// Name is the driver's config name.
	Name() string
	// Login opens authorizeURL as a user agent would, signs in, and returns the URL
	// the tenant finally redirected to: redirectURI with code and state, or with an
	// error. An error means the login could not be completed.
	Login(ctx context.Context, authorizeURL, redirectURI string, as As) (string, error)
	// Close releases what the driver holds (a browser).
	Close() error
}

// ErrPasskeyUnsupported: the driver cannot sign in with a passkey.
var ErrPasskeyUnsupported = errors.New("this login driver cannot sign in with a passkey (only the browser driver can)")

// New is the driver the target config names.
func New(ctx context.Context, f *harness.Framework) (Driver, error) {
	switch f.Target.Login.Driver {
	case config.DriverBrowser:
		b, err := NewBrowserDriver(ctx, f.Target)
		if err != nil {
			return nil, err
		}
		b.Pacer = f.Client.Pacer
		return b, nil
	case config.DriverCommand:
		return &CommandDriver{Argv: f.Target.Login.Command, Timeout: time.Duration(f.Target.Login.Timeout)}, nil
	default:
		return &FormDriver{Client: f.Client, Sessions: SessionsOf(f.Client)}, nil
	}
}

// FormDriver gets through the login page with plain HTTP: it follows redirects on the
// tenant's domains and fills and posts the page's HTML forms (username, then
// password, or both at once), declines the passkey enrollment offer and accepts the
// consent page, keeping cookies, until the tenant redirects to the redirect_uri.
// Every exchange goes through the harness.Client, so it is recorded (redacted); its
// posts wait for the login prompt limit outside login.timeout. With Sessions, the
// cookies of a user's logins are kept (per user, per domain) for the next.
type FormDriver struct {
	Client   *harness.Client
	Sessions *Sessions // nil: every login is fresh
}

// Name implements Driver.
func (d *FormDriver) Name() string { return config.DriverForm }

// Close implements Driver.
func (d *FormDriver) Close() error { return nil }

// maxLoginSteps bounds the requests of one form login: /authorize, the identifier and
// password pages and their posts, the enrollment offer and the consent page and
// theirs, and the redirects between them take 10 to 13.
const maxLoginSteps = 20

// Login implements Driver.
func (d *FormDriver) Login(ctx context.Context, authorizeURL, redirectURI string, as As) (string, error) {
	if as.Passkey != nil {
		return "", ErrPasskeyUnsupported
	}
	timeout := time.Duration(d.Client.Target.Login.Timeout)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := newBudget(timeout, cancel)
	defer b.stop()
	jar, end := http.CookieJar(newJar()), func() {}
	if d.Sessions != nil {
		var err error
		if jar, end, err = d.Sessions.begin(ctx, as.Username, as.Fresh); err != nil {
			return "", err
		}
	}
	defer end()
	u, err := d.login(ctx, lctx, b, jar, authorizeURL, redirectURI, as)
	if err != nil && b.ranOut() && ctx.Err() == nil {
		return "", fmt.Errorf("the login did not reach the redirect_uri within login.timeout (%s): %w", timeout, err)
	}
	return u, err
}

// login runs one login: lctx ends with the budget, ctx is the caller's (for waits).
func (d *FormDriver) login(ctx, lctx context.Context, b *budget, jar http.CookieJar, authorizeURL, redirectURI string, as As) (string, error) {
	req := &harness.Request{Method: http.MethodGet, URL: authorizeURL}
	for step := 0; step < maxLoginSteps; step++ {
		u, err := url.Parse(req.URL)
		if err != nil {
			return "", fmt.Errorf("login page: %q is not a URL", req.URL)
		}
		if !d.onTenant(u.Hostname()) {
			return "", fmt.Errorf("the login page posts to %s, which is not a domain of the tenant", u.Redacted())
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		if c := cookieHeader(jar.Cookies(u)); c != "" {
			req.Header.Set("Cookie", c)
		}
		// Only /authorize is described; the login pages are the tenant's own UI.
		req.Deliberate = step > 0
		if req.Method == http.MethodPost {
			if err := b.pace(ctx, pacerOf(d.Client.Pacer)); err != nil {
				return "", err
			}
			req.Paced = true
		}
		resp, err := d.Client.Do(lctx, req)
		if err != nil {
			return "", err
		}
		jar.SetCookies(u, (&http.Response{Header: resp.Header}).Cookies())
		if resp.Status >= 300 && resp.Status < 400 {
			loc, err := u.Parse(resp.Location())
			if err != nil || resp.Location() == "" {
				return "", fmt.Errorf("%s answered %d without a usable Location", u.Redacted(), resp.Status)
			}
			if IsRedirectTo(loc.String(), redirectURI) {
				return loc.String(), nil
			}
			if !d.onTenant(loc.Hostname()) {
				return "", fmt.Errorf("the login redirected to %s, which is neither the redirect_uri %s nor a domain of the tenant", d.Client.Redactor.Text(loc.String()), redirectURI)
			}
			req = &harness.Request{Method: http.MethodGet, URL: loc.String()}
			continue
		}
		page, err := parsePage(resp.Body)
		if err != nil || !strings.Contains(resp.Header.Get("Content-Type"), "html") {
			if resp.Status >= 400 { // a refusal all the same (an OAuth error of /authorize)
				return "", &PageError{Kind: PageRefused, Status: resp.Status, URL: u.String(), Says: fmt.Sprintf("%.300s", resp.Body)}
			}
			return "", fmt.Errorf("%s answered %d with %q, not a login page: %.300s", u.Redacted(), resp.Status, resp.Header.Get("Content-Type"), resp.Body)
		}
		f := page.facts(u, resp.Status)
		kind := classify(f)
		if resp.Status >= 400 && kind != PageCaptcha {
			kind = PageRefused
		}
		switch kind {
		case pageLogin:
			req, err = page.fill(u, as)
			noteLoginForm(ctx)
		case pageOffer:
			req, err = page.post(u, actionAbortEnrollment)
			note(ctx, PromptPasskeyEnrollment)
		case pageConsent:
			req, err = page.post(u, actionAccept)
			note(ctx, PromptConsent)
		default:
			e := f.err(kind)
			e.Says = cmp.Or(e.Says, page.alert)
			return "", e
		}
		if err != nil {
			return "", fmt.Errorf("login page %s: %w", u.Redacted(), err)
		}
	}
	return "", fmt.Errorf("the login did not reach the redirect_uri within %d requests", maxLoginSteps)
}

func (d *FormDriver) onTenant(host string) bool {
	for _, h := range d.Client.Target.Domains() {
		if hn, _, ok := strings.Cut(h, ":"); ok {
			h = hn
		}
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// htmlForm is what the form driver reads of a <form>.
type htmlForm struct {
	action, method string
	inputs         []htmlInput
	buttons        []htmlInput // submit buttons
}

type htmlInput struct{ name, typ, value string }

type htmlPage struct {
	forms   []htmlForm
	alert   string // text of #error or [role=alert]
	title   string
	captcha bool // an element of a CAPTCHA widget
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func parsePage(body []byte) (*htmlPage, error) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	p := &htmlPage{}
	var cur *htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			id, _ := attr(n, "id")
			role, _ := attr(n, "role")
			if (id == "error" || role == "alert") && p.alert == "" {
				p.alert = strings.Join(strings.Fields(text(n)), " ")
			}
			if n.Data == "title" && p.title == "" {
				p.title = strings.Join(strings.Fields(text(n)), " ")
			}
			if n.Data != "script" && n.Data != "style" && n.Data != "meta" && n.Data != "link" {
				for _, a := range n.Attr {
					if (a.Key == "id" || a.Key == "class" || a.Key == "name" || a.Key == "src") && isCaptchaAttr(a.Val) {
						p.captcha = true
					}
				}
			}
			switch n.Data {
			case "form":
				action, _ := attr(n, "action")
				method, _ := attr(n, "method")
				p.forms = append(p.forms, htmlForm{action: action, method: strings.ToUpper(cmp.Or(method, "GET"))})
				prev := cur
				cur = &p.forms[len(p.forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = prev
				return
			case "input", "button":
				if cur != nil {
					name, _ := attr(n, "name")
					typ, _ := attr(n, "type")
					value, _ := attr(n, "value")
					typ = strings.ToLower(typ)
					if typ == "" {
						typ = map[string]string{"input": "text", "button": "submit"}[n.Data]
					}
					in := htmlInput{name: name, typ: typ, value: value}
					if typ == "submit" {
						cur.buttons = append(cur.buttons, in)
					} else {
						cur.inputs = append(cur.inputs, in)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return p, nil
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
	}
	return b.String()
}

func isUsername(in htmlInput) bool {
	return in.typ != "hidden" && (in.name == "username" || in.name == "email" || in.typ == "email")
}

// fill picks the form to submit (the one asking for a password, else the one asking
// for a username), fills it and returns the request that submits it.
func (p *htmlPage) fill(page *url.URL, as As) (*harness.Request, error) {
	var form *htmlForm
	for _, want := range []func(htmlInput) bool{
		func(in htmlInput) bool { return in.typ == "password" },
		isUsername,
	} {
		for i := range p.forms {
			for _, in := range p.forms[i].inputs {
				if form == nil && want(in) {
					form = &p.forms[i]
				}
			}
		}
	}
	if form == nil {
		msg := "no form with a username or password field"
		if p.alert != "" {
			msg += "; the page says: " + p.alert
		}
		return nil, errors.New(msg)
	}
	vals := url.Values{}
	for _, in := range form.inputs {
		switch {
		case in.name == "":
		case in.typ == "password":
			vals.Set(in.name, as.Password)
		case isUsername(in):
			vals.Set(in.name, as.Username)
		case in.typ == "checkbox" || in.typ == "radio":
		default:
			vals.Set(in.name, in.value)
		}
	}
	// The vendor's pages need the button's action=default.
	for i, b := range form.buttons {
		if (b.name == "action" && b.value == "default") || i == len(form.buttons)-1 {
			if b.name != "" {
				vals.Set(b.name, b.value)
			}
			break
		}
	}
	action, err := page.Parse(form.action)
	if err != nil {
		return nil, fmt.Errorf("form action %q is not a URL", form.action)
	}
	if form.method == http.MethodGet {
		action.RawQuery = vals.Encode()
		return &harness.Request{Method: http.MethodGet, URL: action.String()}, nil
	}
	return &harness.Request{Method: http.MethodPost, URL: action.String(), Form: vals}, nil
}

// facts are what the form driver sees of a page answered with status. An error
// message counts only on an error status: a page may keep an empty or static alert
// region.
func (p *htmlPage) facts(page *url.URL, status int) pageFacts {
	f := pageFacts{URL: page.String(), Title: p.title, Status: status, Captcha: p.captcha}
	if status >= 400 {
		f.Says = p.alert
	}
	for _, form := range p.forms {
		for _, in := range form.inputs {
			f.Password = f.Password || in.typ == "password"
			f.Username = f.Username || isUsername(in)
		}
		for _, b := range form.buttons {
			if b.name == "action" {
				f.Decline = f.Decline || b.value == actionAbortEnrollment
				f.Accept = f.Accept || b.value == actionAccept
				f.Deny = f.Deny || b.value == actionDeny
			}
		}
	}
	return f
}

// post answers a prompt page as Universal Login's screens do: the form holding the
// button name=action value=action, with its fields (state), or, on a page recognised
// by its path alone, state and action posted to the page itself.
func (p *htmlPage) post(page *url.URL, action string) (*harness.Request, error) {
	for _, form := range p.forms {
		for _, b := range form.buttons {
			if b.name != "action" || b.value != action {
				continue
			}
			vals := url.Values{}
			for _, in := range form.inputs {
				if in.name != "" && in.typ != "checkbox" && in.typ != "radio" {
					vals.Set(in.name, in.value)
				}
			}
			vals.Set("action", action)
			target, err := page.Parse(form.action)
			if err != nil {
				return nil, fmt.Errorf("form action %q is not a URL", form.action)
			}
			return &harness.Request{Method: http.MethodPost, URL: target.String(), Form: vals}, nil
		}
	}
	state := page.Query().Get("state")
	for _, form := range p.forms {
		for _, in := range form.inputs {
			if in.name == "state" && in.value != "" {
				state = in.value
			}
		}
	}
	if state == "" {
		return nil, fmt.Errorf("no button action=%s and no state to post it with", action)
	}
	return &harness.Request{Method: http.MethodPost, URL: page.String(), Form: url.Values{"state": {state}, "action": {action}}}, nil
}

// CommandDriver runs a user-given command for each login (for login pages no driver
// can automate) and reads the callback URL it prints.
type CommandDriver struct {
	Argv    []string
	Timeout time.Duration
}

// Name implements Driver.
func (d *CommandDriver) Name() string { return config.DriverCommand }

// Close implements Driver.
func (d *CommandDriver) Close() error { return nil }

// Login implements Driver.
func (d *CommandDriver) Login(ctx context.Context, authorizeURL, redirectURI string, as As) (string, error) {
	if as.Passkey != nil {
		return "", ErrPasskeyUnsupported
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	argv := make([]string, len(d.Argv))
	for i, a := range d.Argv {
		argv[i] = strings.NewReplacer("{authorize_url}", authorizeURL, "{redirect_uri}", redirectURI).Replace(a)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"MYACCOUNT_AUTHORIZE_URL="+authorizeURL, "MYACCOUNT_REDIRECT_URI="+redirectURI,
		"MYACCOUNT_USERNAME="+as.Username, "MYACCOUNT_PASSWORD="+as.Password)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	cmd.WaitDelay = time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("login command %q: %w", argv[0], err)
	}
	found := ""
	sc := bufio.NewScanner(io.LimitReader(out, 1<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if found == "" && IsRedirectTo(f, redirectURI) {
				found = f
			}
		}
	}
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case found != "":
		return found, nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("login command %q did not print a callback URL within %s", argv[0], d.Timeout)
	case werr != nil:
		return "", fmt.Errorf("login command %q failed: %v: %s", argv[0], werr, strings.TrimSpace(stderr.String()))
	}
	return "", fmt.Errorf("login command %q printed no URL starting with the redirect_uri %s", argv[0], redirectURI)
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// NewVerifier is a fresh PKCE code_verifier (43 characters).
func NewVerifier() string { return randomURLSafe(32) }
