package suites

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// Universal Login: the authorization code flow with PKCE (public client) and with a
// client secret (confidential client), through the login page, and refresh tokens.
var _ = Describe("Universal Login (authorization code flow)", Label("login", "universal"), Ordered, ContinueOnFailure, func() {
	var (
		host string
		d    login.Driver
	)

	BeforeAll(func(ctx SpecContext) {
		requireLoginConfig()
		host = loginHost()
		d = loginDriver(ctx, F.Target.Login.Driver)
	})

	It("logs in with the code flow, returns the state unchanged, and the token works on /me/v1", Req("AUTH-UL-001", "AUTH-UL-008"), func(ctx SpecContext) {
		for _, c := range F.Target.LoginClients() {
			a := newAuth(host, c, "openid", harness.ScopeReadMethods)
			cb := codeLogin(ctx, d, a)
			t := tokensOf(redeem(ctx, a, cb.Code, false, nil))
			Expect(call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", t.AccessToken, nil))).To(HaveStatus(http.StatusOK),
				"the %s client's access token was refused by /me/v1", c.Name)
		}
	})

	It("accepts the authorization_code token request as a form and as JSON", Req("AUTH-UL-002"), func(ctx SpecContext) {
		c := F.Target.LoginClients()[0]
		for _, asJSON := range []bool{false, true} {
			a := newAuth(host, c, harness.ScopeReadMethods)
			tokensOf(redeem(ctx, a, codeLogin(ctx, d, a).Code, asJSON, nil))
		}
	})

	It("refuses a code redeemed with a wrong or without a PKCE code_verifier", Req("AUTH-UL-003"), func(ctx SpecContext) {
		c := publicClient()
		a := newAuth(host, c, harness.ScopeReadMethods)
		resp := redeem(ctx, a, codeLogin(ctx, d, a).Code, false, url.Values{"code_verifier": {login.NewVerifier()}})
		expectOAuthError(resp, http.StatusBadRequest, "invalid_grant", "a wrong code_verifier")
		a = newAuth(host, c, harness.ScopeReadMethods)
		resp = redeem(ctx, a, codeLogin(ctx, d, a).Code, false, url.Values{"code_verifier": nil})
		Expect(resp.Status).To(Equal(http.StatusBadRequest), "a code with a code_challenge was redeemed without code_verifier: %s", resp.Body)
	})

	It("refuses a code redeemed a second time", Req("AUTH-UL-004"), func(ctx SpecContext) {
		a := newAuth(host, F.Target.LoginClients()[0], harness.ScopeReadMethods)
		code := codeLogin(ctx, d, a).Code
		tokensOf(redeem(ctx, a, code, false, nil))
		expectOAuthError(redeem(ctx, a, code, false, nil), http.StatusBadRequest, "invalid_grant", "the same code a second time")
	})

	It("refuses an expired code", Req("AUTH-UL-005"), func(ctx SpecContext) {
		life := time.Duration(F.Target.Login.CodeLifetime)
		if life == 0 {
			Skip("login.code_lifetime is not set: the spec would have to guess how long codes live (about 60 s on Auth0); set it to run this spec, which then waits that long plus 1 s")
		}
		a := newAuth(host, F.Target.LoginClients()[0], harness.ScopeReadMethods)
		code := codeLogin(ctx, d, a).Code
		select {
		case <-ctx.Done():
			Fail("interrupted while waiting for the code to expire")
		case <-time.After(life + time.Second):
		}
		expectOAuthError(redeem(ctx, a, code, false, nil), http.StatusBadRequest, "invalid_grant", "a code older than login.code_lifetime ("+life.String()+")")
	})

	It("refuses a code redeemed with another redirect_uri", Req("AUTH-UL-006"), func(ctx SpecContext) {
		a := newAuth(host, F.Target.LoginClients()[0], harness.ScopeReadMethods)
		code := codeLogin(ctx, d, a).Code
		resp := redeem(ctx, a, code, false, url.Values{"redirect_uri": {a.Client.RedirectURI + "/other"}})
		expectOAuthError(resp, http.StatusBadRequest, "invalid_grant", "a redirect_uri other than the authorization request's")
	})

	It("never redirects to a redirect_uri that is not registered for the client", Req("AUTH-UL-007"), func(ctx SpecContext) {
		c := F.Target.LoginClients()[0]
		reg, err := url.Parse(c.RedirectURI)
		Expect(err).NotTo(HaveOccurred())
		for _, bad := range []string{
			c.RedirectURI + "/evil",                                    // a longer path: prefix matching
			c.RedirectURI + "evil",                                     // a longer last segment
			"https://evil.example" + reg.Path,                          // another host
			reg.Scheme + "://" + reg.Host + ".evil.example" + reg.Path, // a host suffix
		} {
			badClient := c
			badClient.RedirectURI = bad
			a := newAuth(host, badClient, harness.ScopeReadMethods)
			resp := call(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: a.URL(), Header: http.Header{"Accept": {"text/html"}}}))
			if resp.Status >= 400 {
				continue
			}
			Expect(login.IsRedirectTo(resp.Location(), bad)).To(BeFalse(), "/authorize redirected straight to the unregistered %s", bad)
			// Redirected somewhere else (a login page?): the login must not end there.
			cb, err := d.Login(ctx, a.URL(), bad, userAs())
			Expect(err).To(HaveOccurred(), "/authorize accepted the unregistered redirect_uri %s and the login was sent there: %s", bad, F.Redactor.Text(cb))
		}
	})

	It("refuses a code issued to another client", Req("AUTH-UL-009"), func(ctx SpecContext) {
		cs := F.Target.LoginClients()
		if len(cs) < 2 {
			Skip("needs both clients.spa and clients.web in the target config")
		}
		a := newAuth(host, cs[0], harness.ScopeReadMethods)
		code := codeLogin(ctx, d, a).Code
		other := a
		other.Client = cs[1]
		other.Client.RedirectURI = a.Client.RedirectURI
		expectOAuthError(redeem(ctx, other, code, false, nil), http.StatusBadRequest, "invalid_grant", "the "+cs[0].Name+" client's code redeemed by the "+cs[1].Name+" client")
	})

	It("refuses a confidential client's code without its client_secret", Req("AUTH-UL-013"), func(ctx SpecContext) {
		c := confidentialClient()
		a := newAuth(host, c, harness.ScopeReadMethods)
		resp := redeem(ctx, a, codeLogin(ctx, d, a).Code, false, url.Values{"client_secret": nil})
		expectOAuthError(resp, http.StatusUnauthorized, "invalid_client", "a confidential client without client_secret")
	})

	It("gives a refresh token with offline_access, and the refreshed access token works on /me/v1", Req("AUTH-UL-010"), func(ctx SpecContext) {
		for _, c := range F.Target.LoginClients() {
			a := newAuth(host, c, "openid", "offline_access", harness.ScopeReadMethods)
			t := tokensOf(redeem(ctx, a, codeLogin(ctx, d, a).Code, false, nil))
			Expect(t.RefreshToken).NotTo(BeEmpty(), "no refresh_token for the %s client although offline_access was requested", c.Name)
			r := tokensOf(refresh(ctx, host, c, t.RefreshToken))
			Expect(r.AccessToken).NotTo(Equal(t.AccessToken), "refreshing returned the same access token")
			Expect(call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", r.AccessToken, nil))).To(HaveStatus(http.StatusOK),
				"the refreshed access token was refused by /me/v1")
		}
	})

	It("gives no refresh token without offline_access", Req("AUTH-UL-011"), func(ctx SpecContext) {
		a := newAuth(host, F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
		t := tokensOf(redeem(ctx, a, codeLogin(ctx, d, a).Code, false, nil))
		Expect(t.RefreshToken).To(BeEmpty(), "a refresh_token was issued although offline_access was not requested")
	})

	It("tolerates the stray offline_access= query parameter of the documentation's example", Req("AUTH-UL-012"), func(ctx SpecContext) {
		a := newAuth(host, F.Target.LoginClients()[0], "openid", "offline_access", harness.ScopeReadMethods)
		a.Extra = url.Values{"offline_access": {""}}
		t := tokensOf(redeem(ctx, a, codeLogin(ctx, d, a).Code, false, nil))
		Expect(call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", t.AccessToken, nil))).To(HaveStatus(http.StatusOK))
	})
})

// The login page in a real browser: headless Chromium fills it (password) and signs in
// with a passkey held by Chromium's virtual authenticator.
var _ = Describe("Universal Login in headless Chromium", Label("login", "universal", "browser"), Ordered, ContinueOnFailure, func() {
	var (
		host string
		b    login.Driver
	)

	BeforeAll(func(ctx SpecContext) {
		requireLoginConfig()
		if F.Target.Login.Browser == nil {
			Skip("the target config has no login.browser section and login.driver is not browser")
		}
		host = loginHost()
		b = loginDriver(ctx, harness.DriverBrowser)
	})

	It("logs in through the login page with a password, and the token works on /me/v1", Req("AUTH-UL-001"), func(ctx SpecContext) {
		a := newAuth(host, F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
		t := tokensOf(redeem(ctx, a, codeLogin(ctx, b, a).Code, false, nil))
		Expect(call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", t.AccessToken, nil))).To(HaveStatus(http.StatusOK))
	})

	It("logs in through the login page with a passkey (navigator.credentials.get)", Req("AUTH-UL-014"), func(ctx SpecContext) {
		custom := requireCustomDomain()
		if !F.Target.Login.Browser.Passkeys {
			Skip("login.browser.passkeys is not set: the target's login page does not offer passkeys")
		}
		u := signUp(ctx, authenticator.ES256)
		a := newAuth(custom, F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
		url, err := b.Login(ctx, a.URL(), a.Client.RedirectURI, login.As{Passkey: u.Passkeys[0]})
		Expect(err).NotTo(HaveOccurred(), "the passkey login through the page failed")
		cb := checkCallback(url, a)
		t := tokensOf(redeem(ctx, a, cb.Code, false, nil))
		ms := listMethods(ctx, custom, t.AccessToken)
		Expect(methodIDs(ms)).NotTo(BeEmpty(), "the token is not the passkey user's: no passkey listed")
		Expect(claims(t.AccessToken)["sub"]).To(Equal(claims(u.Signup.AccessToken)["sub"]), "the login page logged in someone else than the passkey's user")
	})
})

// requireLoginConfig skips without a code-flow client and a password user.
func requireLoginConfig() {
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

// loginHost is where the login specs log in: the custom domain if any.
func loginHost() string {
	if F.Target.CustomDomain != "" {
		return F.Target.CustomDomain
	}
	return F.Target.Domain
}

func publicClient() harness.NamedClient {
	GinkgoHelper()
	for _, c := range F.Target.LoginClients() {
		if c.Public {
			return c
		}
	}
	Skip("needs clients.spa (a public client with PKCE) in the target config")
	return harness.NamedClient{}
}

func confidentialClient() harness.NamedClient {
	GinkgoHelper()
	for _, c := range F.Target.LoginClients() {
		if !c.Public {
			return c
		}
	}
	Skip("needs clients.web (a confidential client) in the target config")
	return harness.NamedClient{}
}

// loginDriver starts a driver for the container and closes it after. A browser that
// is missing skips locally and fails in CI (CI=true), where it is mandatory.
func loginDriver(ctx context.Context, name string) login.Driver {
	GinkgoHelper()
	var (
		d   login.Driver
		err error
	)
	if name == harness.DriverBrowser {
		d, err = login.NewBrowserDriver(ctx, F.Target)
		if errors.Is(err, login.ErrNoChromium) {
			if os.Getenv("CI") == "true" {
				Fail("the browser specs are mandatory in CI: " + err.Error())
			}
			Skip("browser specs skipped: " + err.Error())
		}
	} else {
		d, err = login.New(ctx, F)
	}
	Expect(err).NotTo(HaveOccurred(), "starting the %s login driver", name)
	DeferCleanup(d.Close)
	return d
}

func userAs() login.As {
	return login.As{Username: F.Target.User.Username, Password: F.Target.User.Password}
}

// newAuth is an authorization request; confidential clients send no PKCE, so the
// secret alone is tested.
func newAuth(host string, c harness.NamedClient, scopes ...string) login.Request {
	a := login.NewRequest(host, c, scopes...)
	if !c.Public {
		a.Verifier = ""
	}
	return a
}

// codeLogin logs the password user in and returns the callback, which must carry a
// code and the request's state.
func codeLogin(ctx context.Context, d login.Driver, a login.Request) login.Callback {
	GinkgoHelper()
	u, err := d.Login(ctx, a.URL(), a.Client.RedirectURI, userAs())
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			Fail(verdict.InconclusivePrefix + ue.Error())
		}
		Fail("the login through the " + d.Name() + " driver failed: " + F.Redactor.Text(err.Error()))
	}
	return checkCallback(u, a)
}

func checkCallback(u string, a login.Request) login.Callback {
	GinkgoHelper()
	cb, err := login.ParseCallback(u)
	Expect(err).NotTo(HaveOccurred())
	Expect(cb.Error).To(BeEmpty(), "the login ended with error=%s: %s", cb.Error, cb.ErrorDesc)
	Expect(cb.Code).NotTo(BeEmpty(), "the callback %s carries no code", F.Redactor.Text(u))
	Expect(cb.State).To(Equal(a.State), "the callback's state differs from the request's")
	F.Redactor.Add(cb.Code, "CODE")
	return cb
}

// redeem sends the authorization_code grant; set replaces parameters (nil removes one).
func redeem(ctx context.Context, a login.Request, code string, asJSON bool, set url.Values) *harness.Response {
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
	return tokenRequest(ctx, a.Host, p, asJSON)
}

func refresh(ctx context.Context, host string, c harness.NamedClient, rt string) *harness.Response {
	GinkgoHelper()
	p := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ClientID}, "refresh_token": {rt}}
	if c.ClientSecret != "" {
		p.Set("client_secret", c.ClientSecret)
	}
	return tokenRequest(ctx, host, p, false)
}

func tokenRequest(ctx context.Context, host string, p url.Values, asJSON bool) *harness.Response {
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
	return send(ctx, r)
}

// tokensOf expects a successful token response.
func tokensOf(resp *harness.Response) harness.Tokens {
	GinkgoHelper()
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token")
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "access_token")
	Expect(strings.EqualFold(t.TokenType, "Bearer")).To(BeTrue(), "token_type %q, want Bearer", t.TokenType)
	return t
}

// expectOAuthError expects {error: code} with the status.
func expectOAuthError(resp *harness.Response, status int, code, what string) {
	GinkgoHelper()
	Expect(resp).To(HaveStatus(status), "%s must be refused", what)
	Expect(resp.Object()).To(HaveKeyWithValue("error", code), "%s: the error code", what)
}
