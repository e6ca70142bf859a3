package login

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	loginpage "github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// Universal Login: the authorization code flow with PKCE (public client) and with a
// client secret (confidential client), through the login page, and refresh tokens.
var _ = framework.AreaOf("login", "universal").Describe("Universal Login (authorization code flow)", Ordered, ContinueOnFailure, func() {
	var (
		host string
		d    loginpage.Driver
	)

	BeforeAll(func(ctx SpecContext) {
		framework.RequireLoginConfig()
		host = framework.LoginHost()
		d = framework.LoginDriver(ctx, framework.F.Target.Login.Driver)
	})

	// The login of each client that the specs after it share (loginTokens).
	It("logs in with the code flow, returns the state unchanged, and the token works on /me/v1", framework.Req("AUTH-UL-001", "AUTH-UL-008"), func(ctx SpecContext) {
		for _, c := range framework.F.Target.LoginClients() {
			a := framework.NewAuth(host, c, framework.UlScopes...)
			cb := framework.CodeLogin(ctx, d, a)
			t := framework.TokensOf(framework.Redeem(ctx, a, cb.Code, false, nil))
			framework.Remember(a, t)
			Expect(framework.ProbeMe(ctx, host, t.AccessToken)).To(framework.HaveStatus(http.StatusOK),
				"the %s client's access token was refused by /me/v1", c.Name)
		}
	})

	It("accepts the authorization_code token request as a form and as JSON", framework.Req("AUTH-UL-002"), func(ctx SpecContext) {
		c := framework.F.Target.LoginClients()[0]
		// As a form: every login the suite shares was redeemed as one.
		framework.LoginTokens(ctx, d, host, c)
		// As JSON; its tokens serve the spec of a login without offline_access.
		a := framework.NewAuth(host, c, "openid", harness.ScopeReadMethods)
		framework.Remember(a, framework.TokensOf(framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, true, nil)))
	})

	It("refuses a code redeemed with a wrong or without a PKCE code_verifier", framework.Req("AUTH-UL-003"), func(ctx SpecContext) {
		c := framework.PublicClient()
		a := framework.NewAuth(host, c, harness.ScopeReadMethods)
		resp := framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, false, url.Values{"code_verifier": {loginpage.NewVerifier()}})
		framework.ExpectInvalidGrant(resp, "a wrong code_verifier")
		a = framework.NewAuth(host, c, harness.ScopeReadMethods)
		resp = framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, false, url.Values{"code_verifier": nil})
		framework.ExpectGrantRefused(resp, "a code with a code_challenge redeemed without code_verifier")
	})

	It("refuses a code redeemed a second time", framework.Req("AUTH-UL-004"), func(ctx SpecContext) {
		a := framework.NewAuth(host, framework.F.Target.LoginClients()[0], framework.UlScopes...)
		code := framework.CodeLogin(ctx, d, a).Code
		framework.Remember(a, framework.TokensOf(framework.Redeem(ctx, a, code, false, nil)))
		framework.ExpectInvalidGrant(framework.Redeem(ctx, a, code, false, nil), "the same code a second time")
	})

	It("refuses a code redeemed with another redirect_uri", framework.Req("AUTH-UL-006"), func(ctx SpecContext) {
		a := framework.NewAuth(host, framework.F.Target.LoginClients()[0], harness.ScopeReadMethods)
		code := framework.CodeLogin(ctx, d, a).Code
		resp := framework.Redeem(ctx, a, code, false, url.Values{"redirect_uri": {a.Client.RedirectURI + "/other"}})
		framework.ExpectInvalidGrant(resp, "a redirect_uri other than the authorization request's")
	})

	It("never redirects to a redirect_uri that is not registered for the client", framework.Req("AUTH-UL-007"), func(ctx SpecContext) {
		c := framework.F.Target.LoginClients()[0]
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
			a := framework.NewAuth(host, badClient, harness.ScopeReadMethods)
			resp := framework.Call(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: a.URL(), Header: http.Header{"Accept": {"text/html"}}}))
			if resp.Status >= 400 {
				continue
			}
			Expect(loginpage.IsRedirectTo(resp.Location(), bad)).To(BeFalse(), "/authorize redirected straight to the unregistered %s", bad)
			// Redirected somewhere else (a login page?): the login must not end there.
			cb, err := d.Login(ctx, a.URL(), bad, framework.UserAs())
			Expect(err).To(HaveOccurred(), "/authorize accepted the unregistered redirect_uri %s and the login was sent there: %s", bad, framework.F.Redactor.Text(cb))
		}
	})

	It("refuses a code issued to another client", framework.Req("AUTH-UL-009"), func(ctx SpecContext) {
		cs := framework.F.Target.LoginClients()
		if len(cs) < 2 {
			Skip("needs both clients.spa and clients.web in the target config")
		}
		a := framework.NewAuth(host, cs[0], harness.ScopeReadMethods)
		code := framework.CodeLogin(ctx, d, a).Code
		other := a
		other.Client = cs[1]
		other.Client.RedirectURI = a.Client.RedirectURI
		framework.ExpectInvalidGrant(framework.Redeem(ctx, other, code, false, nil), "the "+cs[0].Name+" client's code redeemed by the "+cs[1].Name+" client")
	})

	It("refuses a confidential client's code without its client_secret", framework.Req("AUTH-UL-013"), func(ctx SpecContext) {
		c := framework.ConfidentialClient()
		a := framework.NewAuth(host, c, harness.ScopeReadMethods)
		resp := framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, false, url.Values{"client_secret": nil})
		framework.ExpectClientAuthFailed(resp, "a confidential client without client_secret")
	})

	It("gives a refresh token with offline_access, and the refreshed access token works on /me/v1", framework.Req("AUTH-UL-010"), func(ctx SpecContext) {
		for _, c := range framework.F.Target.LoginClients() {
			t := framework.LoginTokens(ctx, d, host, c) // asked for offline_access
			Expect(t.RefreshToken).NotTo(BeEmpty(), "no refresh_token for the %s client although offline_access was requested", c.Name)
			r := framework.TokensOf(framework.Refresh(ctx, host, c, t.RefreshToken))
			Expect(r.AccessToken).NotTo(Equal(t.AccessToken), "refreshing returned the same access token")
			r.RefreshToken = cmp.Or(r.RefreshToken, t.RefreshToken) // rotated, or kept
			framework.Remember(framework.NewAuth(host, c, framework.UlScopes...), r)
			Expect(framework.ProbeMe(ctx, host, r.AccessToken)).To(framework.HaveStatus(http.StatusOK), "the refreshed access token was refused by /me/v1")
		}
	})

	It("gives no refresh token without offline_access", framework.Req("AUTH-UL-011"), func(ctx SpecContext) {
		t := framework.LoginTokens(ctx, d, host, framework.F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
		Expect(t.RefreshToken).To(BeEmpty(), "a refresh_token was issued although offline_access was not requested")
	})

	It("tolerates the stray offline_access= query parameter of the documentation's example", framework.Req("AUTH-UL-012"), func(ctx SpecContext) {
		a := framework.NewAuth(host, framework.F.Target.LoginClients()[0], "openid", "offline_access", harness.ScopeReadMethods)
		a.Extra = url.Values{"offline_access": {""}}
		t := framework.TokensOf(framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, false, nil))
		Expect(framework.ProbeMe(ctx, host, t.AccessToken)).To(framework.HaveStatus(http.StatusOK))
	})
})

// issuedCode is an authorization code and the request it answered.
type issuedCode struct {
	a    loginpage.Request
	code string
}

// expiredCode is a code issued when the run starts, redeemed by the expired-code
// spec once login.code_lifetime has passed: the wait overlaps every other spec.
var expiredCode = framework.IssueAtStart("an authorization code", append(framework.AreaOf("login", "universal").Labels(), framework.Req("AUTH-UL-005")...), func(ctx context.Context) (any, time.Duration, error) {
	life := time.Duration(framework.F.Target.Login.CodeLifetime)
	cs := framework.F.Target.LoginClients()
	if life == 0 || len(cs) == 0 || framework.F.Target.User.Username == "" {
		return nil, 0, nil // the spec skips, saying why
	}
	d, err := loginpage.New(ctx, framework.F)
	if err != nil {
		return nil, 0, err
	}
	defer d.Close()
	a := framework.NewAuth(framework.LoginHost(), cs[0], harness.ScopeReadMethods)
	code, err := framework.LoginCode(ctx, d, a)
	if err != nil {
		return nil, 0, err
	}
	return issuedCode{a: a, code: code}, life, nil
})

var _ = framework.AreaOf("login", "universal").Describe("Universal Login: code expiry", func() {
	It("refuses an expired code", framework.Req("AUTH-UL-005"), SpecPriority(framework.ExpiryPriority), func(ctx SpecContext) {
		framework.RequireLoginConfig()
		life := time.Duration(framework.F.Target.Login.CodeLifetime)
		if life == 0 {
			Skip("login.code_lifetime is not set: Auth0 does not document how long its authorization codes live, so the suite cannot tell when one has expired; state your tenant's code lifetime to run this spec")
		}
		c := expiredCode.Await(ctx).(issuedCode)
		framework.ExpectInvalidGrant(framework.Redeem(ctx, c.a, c.code, false, nil), "a code older than login.code_lifetime ("+life.String()+")")
	})
})

// The login page in a real browser: headless Chromium fills it (password) and signs in
// with a passkey held by Chromium's virtual authenticator.
var _ = framework.AreaOf("login", "universal", "browser").Describe("Universal Login in headless Chromium", Ordered, ContinueOnFailure, SpecPriority(framework.SlowStartPriority), func() {
	var (
		host string
		b    loginpage.Driver
	)

	BeforeAll(func(ctx SpecContext) {
		framework.RequireLoginConfig()
		if framework.F.Target.Login.Browser == nil {
			Skip("the target config has no login.browser section and login.driver is not browser")
		}
		host = framework.LoginHost()
		b = framework.LoginDriver(ctx, config.DriverBrowser)
	})

	It("logs in through the login page with a password, and the token works on /me/v1", framework.Req("AUTH-UL-001"), func(ctx SpecContext) {
		a := framework.NewAuth(host, framework.F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
		t := framework.TokensOf(framework.Redeem(ctx, a, framework.FreshCodeLogin(ctx, b, a).Code, false, nil))
		Expect(framework.ProbeMe(ctx, host, t.AccessToken)).To(framework.HaveStatus(http.StatusOK))
	})

	It("logs in through the login page with a passkey (navigator.credentials.get)", framework.Req("AUTH-UL-014"), func(ctx SpecContext) {
		custom := framework.RequireCustomDomain()
		if !framework.F.Target.Login.Browser.Passkeys {
			Skip("login.browser.passkeys is not set: the target's login page does not offer passkeys")
		}
		u := framework.SignUp(ctx, authenticator.ES256)
		a := framework.NewAuth(custom, framework.F.Target.LoginClients()[0], "openid", harness.ScopeReadMethods)
		url, err := b.Login(ctx, a.URL(), a.Client.RedirectURI, loginpage.As{Passkey: u.Passkeys[0], Fresh: true})
		Expect(err).NotTo(HaveOccurred(), "the passkey login through the page failed")
		cb := framework.CheckCallback(url, a)
		t := framework.TokensOf(framework.Redeem(ctx, a, cb.Code, false, nil))
		ms := framework.ListMethods(ctx, custom, t.AccessToken)
		Expect(framework.MethodIDs(ms)).NotTo(BeEmpty(), "the token is not the passkey user's: no passkey listed")
		Expect(framework.Claims(t.AccessToken)["sub"]).To(Equal(framework.Claims(u.Signup.AccessToken)["sub"]), "the login page logged in someone else than the passkey's user")
	})
})
