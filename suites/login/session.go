package login

import (
	"net/http"
	"net/url"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	loginpage "github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// The login session (SSO): after a Universal Login the tenant keeps a session on the
// domain it ran on, and the next /authorize there issues a code without the login
// prompt; consent given to a client for an API is not asked again; prompt=login
// asks for the login again; the other domain does not share the session. The
// suite's own logins rely on the session (they post to the login page once per
// domain), so these specs check what they rely on. They read the session's cookies
// from the form driver's jar.
var _ = framework.AreaOf("login", "universal").Describe("Universal Login: the login session", Ordered, ContinueOnFailure, func() {
	var (
		host string
		c    config.NamedClient
		d    loginpage.Driver
	)

	BeforeAll(func(ctx SpecContext) {
		framework.RequireLoginConfig()
		if framework.F.Target.Login.Driver != config.DriverForm {
			Skip("the session specs read the form driver's session cookies; login.driver is " + framework.F.Target.Login.Driver)
		}
		host = framework.LoginHost()
		c = framework.F.Target.LoginClients()[0]
		d = framework.LoginDriver(ctx, config.DriverForm)
		// A login with the session (through the prompts when there is none yet) that
		// consents to the scopes; its tokens serve the specs after it.
		a := framework.NewAuth(host, c, framework.UlScopes...)
		framework.Remember(a, framework.TokensOf(framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, false, nil)))
	})

	// sessionLogin logs in again with the session and says what the driver saw.
	sessionLogin := func(ctx SpecContext) *loginpage.Trace {
		GinkgoHelper()
		var trace loginpage.Trace
		a := framework.NewAuth(host, c, framework.UlScopes...)
		cb := framework.CodeLogin(loginpage.WithTrace(ctx, &trace), d, a)
		framework.Remember(a, framework.TokensOf(framework.Redeem(ctx, a, cb.Code, false, nil)))
		return &trace
	}

	It("issues a code on a second /authorize with the session, without the login prompt", framework.Req("AUTH-UL-015"), func(ctx SpecContext) {
		Expect(sessionLogin(ctx).LoginForms()).To(BeZero(), "the second /authorize on %s, with the session of the first login, showed the login form again", host)
	})

	It("does not ask for consent again for the same client, API and scopes", framework.Req("AUTH-UL-016"), func(ctx SpecContext) {
		Expect(slices.Contains(sessionLogin(ctx).Prompts(), loginpage.PromptConsent)).To(BeFalse(),
			"the consent page came back for the %s client and scopes the user consented to in an earlier login", c.Name)
	})

	It("shows the login prompt for prompt=login despite the session", framework.Req("AUTH-UL-017"), func(ctx SpecContext) {
		a := framework.NewAuth(host, c, framework.UlScopes...)
		a.Extra = url.Values{"prompt": {"login"}}
		resp := authorizeWith(ctx, a, sessionCookies(ctx, host))
		Expect(loginpage.IsRedirectTo(resp.Location(), c.RedirectURI)).To(BeFalse(),
			"/authorize with prompt=login and the session redirected straight back to the client (%s) instead of asking for the login", resp.Status)
	})

	It("keeps the session to its domain: the other domain's /authorize does not take it", framework.Req("AUTH-UL-018"), func(ctx SpecContext) {
		other := framework.F.Target.Domain
		if host == other {
			Skip("the target config has no custom_domain: there is no second domain")
		}
		// Silent authentication (prompt=none) on the other domain, with this domain's
		// session cookies: without a session of its own it answers login_required
		// (or shows a page), never a code.
		a := framework.NewAuth(other, c, framework.UlScopes...)
		a.Extra = url.Values{"prompt": {"none"}}
		resp := authorizeWith(ctx, a, sessionCookies(ctx, host))
		if loginpage.IsRedirectTo(resp.Location(), c.RedirectURI) {
			cb, err := loginpage.ParseCallback(resp.Location())
			Expect(err).NotTo(HaveOccurred())
			Expect(cb.Code).To(BeEmpty(), "/authorize on %s issued a code with the session of %s", other, host)
			// consent_required: the user was taken as logged in, and only consent for
			// this domain's API is missing (OpenID Connect Core 3.1.2.6).
			Expect(cb.Error).NotTo(Equal("consent_required"), "/authorize on %s took the session of %s as a login (it asked only for consent)", other, host)
		}
	})
})

// sessionCookies are the cookies of the password user's session on host.
func sessionCookies(ctx SpecContext, host string) []*http.Cookie {
	GinkgoHelper()
	cookies, err := loginpage.SessionsOf(framework.F.Client).Cookies(ctx, framework.F.Target.User.Username, host)
	Expect(err).NotTo(HaveOccurred())
	Expect(cookies).NotTo(BeEmpty(), "the login on %s left no session cookie", host)
	return cookies
}

// authorizeWith sends a's /authorize as a browser with these cookies would, and
// returns the answer (the redirect is not followed).
func authorizeWith(ctx SpecContext, a loginpage.Request, cookies []*http.Cookie) *harness.Response {
	GinkgoHelper()
	return framework.Send(ctx, &harness.Request{Method: http.MethodGet, URL: a.URL(),
		Header: http.Header{"Accept": {"text/html"}, "Cookie": {loginpage.CookieHeader(cookies)}}})
}
