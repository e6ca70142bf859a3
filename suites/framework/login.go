package framework

// Universal Login: authorization requests through the configured driver, and the token requests after them.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/claims"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// RequireLoginConfig skips without a code-flow client and a password user.
func RequireLoginConfig() {
	GinkgoHelper()
	if len(F.Target.LoginClients()) == 0 {
		Skip("the target config has no clients.spa or clients.web: the authorization code flow needs one")
	}
	if F.Target.User.Username == "" {
		Skip("the target config has no user (username and password) to log in with")
	}
	F.Redactor.Add(F.Target.User.Password, "PASSWORD")
	F.Redactor.Add(F.Target.Clients.Web.ClientSecret, "CLIENT_SECRET")
}

// LoginHost is where the login specs log in: the custom domain if any.
func LoginHost() string {
	if F.Target.CustomDomain != "" {
		return F.Target.CustomDomain
	}
	return F.Target.Domain
}

func PublicClient() config.NamedClient {
	GinkgoHelper()
	for _, c := range F.Target.LoginClients() {
		if c.Public {
			return c
		}
	}
	Skip("needs clients.spa (a public client with PKCE) in the target config")
	return config.NamedClient{}
}

func ConfidentialClient() config.NamedClient {
	GinkgoHelper()
	for _, c := range F.Target.LoginClients() {
		if !c.Public {
			return c
		}
	}
	Skip("needs clients.web (a confidential client) in the target config")
	return config.NamedClient{}
}

// LoginDriver starts a driver for the container and closes it after. A browser that
// is missing skips locally and fails in CI (CI=true), where it is mandatory.
func LoginDriver(ctx context.Context, name string) login.Driver {
	GinkgoHelper()
	var (
		d   login.Driver
		err error
	)
	if name == config.DriverBrowser {
		var b *login.BrowserDriver
		b, err = login.NewBrowserDriver(ctx, F.Target)
		if errors.Is(err, login.ErrNoChromium) {
			if os.Getenv("CI") == "true" {
				Fail("the browser specs are mandatory in CI: " + err.Error())
			}
			Skip("browser specs skipped: " + err.Error())
		}
		if err == nil {
			b.Pacer = F.Client.Pacer // its clicks post to the login pages
			d = b
		}
	} else {
		d, err = login.New(ctx, F)
	}
	Expect(err).NotTo(HaveOccurred(), "starting the %s login driver", name)
	DeferCleanup(d.Close)
	return d
}

// UserAs is the password user, logging in with the session of its earlier login on
// the domain when there is one (no prompt, no prompt post).
func UserAs() login.As {
	return login.As{Username: F.Target.User.Username, Password: F.Target.User.Password}
}

// FreshAs is the password user logging in through the prompts, whatever session it
// has: for specs of the login page itself.
func FreshAs() login.As {
	as := UserAs()
	as.Fresh = true
	return as
}

// NewAuth is an authorization request; confidential clients send no PKCE, so the
// secret alone is tested.
func NewAuth(host string, c config.NamedClient, scopes ...string) login.Request {
	a := login.NewRequest(host, c, scopes...)
	if !c.Public {
		a.Verifier = ""
	}
	return a
}

// CodeLogin logs the password user in and returns the callback, which must carry a
// code and the request's state.
func CodeLogin(ctx context.Context, d login.Driver, a login.Request) login.Callback {
	GinkgoHelper()
	return codeLoginAs(ctx, d, a, UserAs())
}

// FreshCodeLogin is CodeLogin through the login prompts, without the session.
func FreshCodeLogin(ctx context.Context, d login.Driver, a login.Request) login.Callback {
	GinkgoHelper()
	return codeLoginAs(ctx, d, a, FreshAs())
}

func codeLoginAs(ctx context.Context, d login.Driver, a login.Request, as login.As) login.Callback {
	GinkgoHelper()
	if !as.Fresh {
		consentFirst(ctx, d, a)
	}
	u, err := d.Login(ctx, a.URL(), a.Client.RedirectURI, as)
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			Undecided(ue.Error())
		}
		Fail("the login through the " + d.Name() + " driver failed: " + F.Redactor.Text(err.Error()))
	}
	return CheckCallback(u, a)
}

// Logins are scarce: Universal Login takes 10 prompt posts per IP address and 5 more
// a minute (PROTOCOL §6), and one login posts two to four. Specs that need the
// password user's tokens for a client on a domain, and not the login or its code
// itself, take them from loginTokens: one login per (client, domain, scopes), its
// access token renewed with the refresh token when it runs out. Specs that test a
// code or the login log in afresh, and hand what they got to remember.

// cachedLogin is a login's tokens, kept for the specs after it.
type cachedLogin struct {
	a       login.Request
	tokens  harness.Tokens
	expires time.Time // zero: expires_in not given
}

var (
	loginsMu sync.Mutex
	logins   = map[string]*cachedLogin{}
)

// UlScopes are the scopes of a login any spec can share: a refresh token and every
// method scope.
var UlScopes = append([]string{"openid", "offline_access"}, harness.MethodScopes...)

// loginRenewMargin: a cached access token with less left is renewed before use.
const loginRenewMargin = 10 * time.Second

func loginKey(host, clientID string, scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return clientID + " " + host + " " + strings.Join(slices.Compact(s), " ")
}

// Remember keeps the tokens of a login a spec made, for loginTokens; only a plain
// request for host's My Account API counts.
func Remember(a login.Request, t harness.Tokens) {
	if len(a.Extra) > 0 || a.Audience != config.MeAudience(a.Host) || t.AccessToken == "" {
		return
	}
	e := &cachedLogin{a: a, tokens: t}
	if t.ExpiresIn > 0 {
		e.expires = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	loginsMu.Lock()
	logins[loginKey(a.Host, a.Client.ClientID, strings.Fields(a.Scope))] = e
	loginsMu.Unlock()
}

// LoginTokens are the password user's tokens for client c on host, for host's My
// Account API with scopes (ulScopes when none are given): those of an earlier login
// when their access token has time left, else refreshed with its refresh token, else
// a new login through d (redeemed as a form).
func LoginTokens(ctx context.Context, d login.Driver, host string, c config.NamedClient, scopes ...string) harness.Tokens {
	GinkgoHelper()
	if len(scopes) == 0 {
		scopes = UlScopes
	}
	loginsMu.Lock()
	e := logins[loginKey(host, c.ClientID, scopes)]
	loginsMu.Unlock()
	if e != nil && (e.expires.IsZero() || time.Until(e.expires) > loginRenewMargin) {
		return e.tokens
	}
	if e != nil && e.tokens.RefreshToken != "" {
		if resp := Refresh(ctx, host, c, e.tokens.RefreshToken); resp.Status == http.StatusOK {
			var t harness.Tokens
			if resp.JSON(&t) == nil && t.AccessToken != "" {
				t.RefreshToken = cmp.Or(t.RefreshToken, e.tokens.RefreshToken) // rotated, or kept
				Remember(e.a, t)
				return t
			}
		}
		// Refused (revoked or rotated away by a spec): log in again.
	}
	a := NewAuth(host, c, scopes...)
	t := TokensOf(Redeem(ctx, a, CodeLogin(ctx, d, a).Code, false, nil))
	Remember(a, t)
	return t
}

// Consent is asked per user, client and API, for the scopes requested, and
// remembered as a grant (PROTOCOL §9; the reference keeps it so, AUTH-UL-016): a login that asks a scope not yet consented to posts
// the consent page again. So the first login of the password user for a client and
// domain in this process, before any other, asks every scope the suite's logins
// ask (UlScopes): the form driver's session makes it cost no more prompt posts than
// the login it precedes would have, and later logins, whatever their scopes, post
// none. Its code is left unredeemed; a failure is left to the login after it.
var (
	consentMu   sync.Mutex
	consentSeen = map[string]bool{}
)

func consentFirst(ctx context.Context, d login.Driver, a login.Request) {
	if _, ok := d.(*login.FormDriver); !ok || len(a.Extra) > 0 || a.Audience != config.MeAudience(a.Host) {
		return // another driver may keep no session; other APIs and prompts are the spec's
	}
	key := loginKey(a.Host, a.Client.ClientID, nil)
	consentMu.Lock()
	seen := consentSeen[key]
	consentSeen[key] = true
	consentMu.Unlock()
	if seen {
		return
	}
	all := NewAuth(a.Host, a.Client, UlScopes...)
	_, _ = d.Login(ctx, all.URL(), all.Client.RedirectURI, UserAs())
}

// LoginCode logs the password user in and returns the code, for steps that run
// outside a spec (BeforeSuite): every failure is an error.
func LoginCode(ctx context.Context, d login.Driver, a login.Request) (string, error) {
	consentFirst(ctx, d, a)
	u, err := d.Login(ctx, a.URL(), a.Client.RedirectURI, UserAs())
	if err != nil {
		return "", fmt.Errorf("the login through the %s driver failed: %s", d.Name(), F.Redactor.Text(err.Error()))
	}
	cb, err := login.ParseCallback(u)
	switch {
	case err != nil:
		return "", err
	case cb.Error != "":
		return "", fmt.Errorf("the login ended with error=%s: %s", cb.Error, cb.ErrorDesc)
	case cb.Code == "" || cb.State != a.State:
		return "", fmt.Errorf("the callback %s carries no code or another state", F.Redactor.Text(u))
	}
	F.Redactor.Add(cb.Code, "CODE")
	return cb.Code, nil
}

func CheckCallback(u string, a login.Request) login.Callback {
	GinkgoHelper()
	cb, err := login.ParseCallback(u)
	Expect(err).NotTo(HaveOccurred())
	Expect(cb.Error).To(BeEmpty(), "the login ended with error=%s: %s", cb.Error, cb.ErrorDesc)
	Expect(cb.Code).NotTo(BeEmpty(), "the callback %s carries no code", F.Redactor.Text(u))
	Expect(cb.State).To(Equal(a.State), "the callback's state differs from the request's")
	F.Redactor.Add(cb.Code, "CODE")
	return cb
}

// Redeem sends the authorization_code grant; set replaces parameters (nil removes one)
// and mods change the request (a DPoP proof).
func Redeem(ctx context.Context, a login.Request, code string, asJSON bool, set url.Values, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	p := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {a.Client.ClientID},
		"code": {code}, "redirect_uri": {a.Client.RedirectURI},
	}
	if a.Verifier != "" {
		p.Set("code_verifier", a.Verifier)
	}
	if a.Client.ClientSecret != "" {
		p.Set("client_secret", a.Client.ClientSecret)
	}
	for k, v := range set {
		if v == nil {
			p.Del(k)
		} else {
			p[k] = v
		}
	}
	resp := tokenRequest(ctx, a.Host, p, asJSON, mods...)
	// Universal Login logs in the target config's user, whom every worker process
	// of a parallel run uses: its buckets are the ones the workers share.
	if resp.Status == http.StatusOK {
		var t harness.Tokens
		if resp.JSON(&t) == nil {
			F.Client.Pacer.Shared(claims.Subject(t.AccessToken))
		}
	}
	return resp
}

func Refresh(ctx context.Context, host string, c config.NamedClient, rt string, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	p := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID}, "refresh_token": {rt}}
	if c.ClientSecret != "" {
		p.Set("client_secret", c.ClientSecret)
	}
	return tokenRequest(ctx, host, p, false, mods...)
}

func tokenRequest(ctx context.Context, host string, p url.Values, asJSON bool, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	r := &harness.Request{Method: http.MethodPost, URL: F.Target.BaseURL(host) + "/oauth/token"}
	if asJSON {
		m := map[string]string{}
		for k := range p {
			m[k] = p.Get(k)
		}
		r.JSON = m
	} else {
		r.Form = p
	}
	for _, m := range mods {
		m(r)
	}
	return Send(ctx, r)
}

// TokensOf expects a successful token response.
func TokensOf(resp *harness.Response) harness.Tokens {
	GinkgoHelper()
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token")
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "access_token")
	expectTokenType(resp, t)
	return t
}

// ProbeMe asks host's My Account API whether it takes token (a list of the user's
// methods, probePath).
func ProbeMe(ctx context.Context, host, token string) *harness.Response {
	GinkgoHelper()
	return Call(F.Me(ctx, http.MethodGet, host, ProbePath(token), token, nil))
}

// ProbePath is what a request asking whether the API takes token lists. The suite's
// logins are the one password user's, whose reads against Auth0 are limited to a
// few a minute (PROTOCOL §6): the methods plainly (a read) while that user's reads
// last, else by type (a filtered read, a larger bucket of its own), so that no probe
// waits while the other bucket has room.
func ProbePath(token string) string {
	if F.Client.Pacer.Ready(token, spec.Read, spec.FilteredRead) == spec.FilteredRead {
		return "/authentication-methods?type=passkey"
	}
	return "/authentication-methods"
}

// CanonicalMeToken is a My Account token for the canonical domain (reads of the
// factors and of the methods), or why there is none. Tokens are bound to the domain
// they were issued on, and native passkey login works only on the custom domain:
// the canonical domain's token comes from Universal Login (the authorization code
// flow) with the target's login user.
func CanonicalMeToken(ctx context.Context) (token, why string) {
	GinkgoHelper()
	if len(F.Target.LoginClients()) == 0 || F.Target.User.Username == "" {
		return "", fmt.Sprintf("no My Account token can be had for the canonical domain %s: native passkey login works only on the custom domain, and the target config has no Universal Login client (clients.spa or clients.web) and user to log in with there",
			F.Target.Domain)
	}
	RequireLoginConfig()
	d := LoginDriver(ctx, F.Target.Login.Driver)
	defer d.Close()
	a := NewAuth(F.Target.Domain, F.Target.LoginClients()[0], harness.ScopeReadFactors, harness.ScopeReadMethods)
	t := TokensOf(Redeem(ctx, a, CodeLogin(ctx, d, a).Code, false, nil))
	return t.AccessToken, ""
}
