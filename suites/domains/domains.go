package domains

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// Domain consistency: a tenant with a canonical and a custom domain never mixes them.
// Whatever is obtained on one domain works on that domain only, and every URL, issuer
// and Location names the domain that was called.
var _ = framework.AreaOf("domains").Describe("Domain consistency", Ordered, ContinueOnFailure, func() {
	var d login.Driver

	BeforeAll(func() {
		if framework.F.Target.CustomDomain == "" {
			Skip("the target config has no custom_domain: there is no second domain to mix")
		}
	})

	// withLogin starts the login driver on first use: only some specs need it.
	withLogin := func(ctx SpecContext) login.Driver {
		GinkgoHelper()
		framework.RequireLoginConfig()
		if d == nil {
			d = framework.LoginDriver(ctx, framework.F.Target.Login.Driver)
			DeferCleanup(func() { d = nil })
		}
		return d
	}

	It("answers discovery on each domain with that domain's issuer and endpoints", framework.Req("AUTH-DOM-002", "AUTH-DOM-004"), func(ctx SpecContext) {
		for _, host := range framework.F.Target.Domains() {
			resp := framework.Send(ctx, &harness.Request{Method: http.MethodGet, URL: framework.F.Target.BaseURL(host) + "/.well-known/openid-configuration"})
			Expect(resp).To(framework.HaveStatus(http.StatusOK))
			Expect(resp.Object()).To(HaveKeyWithValue("issuer", "https://"+host+"/"), "discovery on %s must name %s as issuer", host, host)
			expectURLsOn(host, "discovery on "+host, urlsInJSON(resp.Body))
		}
	})

	It("keeps /authorize, the login page and its forms on the domain called", framework.Req("AUTH-DOM-004"), func(ctx SpecContext) {
		withLogin(ctx)
		c := framework.F.Target.LoginClients()[0]
		for _, host := range framework.F.Target.Domains() {
			a := framework.NewAuth(host, c, harness.ScopeReadMethods)
			resp := framework.Send(ctx, &harness.Request{Method: http.MethodGet, URL: a.URL(), Header: http.Header{"Accept": {"text/html"}}})
			Expect(resp.Status).To(BeNumerically(">=", 300), "/authorize on %s", host)
			if resp.Status >= 400 {
				Fail("/authorize on " + host + " refused a valid request: " + string(resp.Body))
			}
			loc, err := url.Parse(resp.Location())
			Expect(err).NotTo(HaveOccurred())
			expectURLsOn(host, "the Location of /authorize on "+host, []string{resp.Location()})
			page, err := url.Parse(a.URL())
			Expect(err).NotTo(HaveOccurred())
			resp = framework.Call(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: page.ResolveReference(loc).String(), Deliberate: true,
				Header: http.Header{"Accept": {"text/html"}}}))
			expectURLsOn(host, "the login page on "+host, urlsInHTML(resp.Body))
			// A whole login on host: every response of host the driver saw (all of
			// them with the form driver) keeps to host. The specs after it share it.
			a = framework.NewAuth(host, c, framework.UlScopes...)
			framework.Remember(a, framework.TokensOf(framework.Redeem(ctx, a, framework.CodeLogin(ctx, withLogin(ctx), a).Code, false, nil)))
		}
		for _, ex := range framework.F.Recorder.Exchanges() {
			u, err := url.Parse(ex.URL)
			if err != nil {
				continue
			}
			where := ex.Method + " " + u.Path + " on " + u.Host
			expectURLsOn(u.Host, "the Location of "+where, ex.RespHead.Values("Location"))
			expectURLsOn(u.Host, "the response to "+where, append(urlsInJSON([]byte(ex.RespBody)), urlsInHTML([]byte(ex.RespBody))...))
		}
	})

	It("accepts a token only where it was obtained: login domain, audience and API domain all alike", framework.Req("AUTH-DOM-001", "AUTH-DOM-003"), func(ctx SpecContext) {
		d := withLogin(ctx)
		c := framework.F.Target.LoginClients()[0]
		for _, loginHost := range framework.F.Target.Domains() {
			for _, aud := range framework.F.Target.Domains() {
				if loginHost != aud {
					// A login for the other domain's API: refused at login, at the token
					// endpoint, or its token refused by both APIs.
					a := framework.NewAuth(loginHost, c, "openid", harness.ScopeReadMethods)
					a.Audience = config.MeAudience(aud)
					what := fmt.Sprintf("a login on %s for the audience of %s", loginHost, aud)
					u, err := d.Login(ctx, a.URL(), c.RedirectURI, framework.FreshAs())
					if pe := (*login.PageError)(nil); errors.As(err, &pe) && pe.Kind == login.PageRefused {
						continue // refused by the login page: fine
					}
					Expect(err).NotTo(HaveOccurred(), "%s: the login failed otherwise than by a refusal", what)
					cb, err := login.ParseCallback(u)
					Expect(err).NotTo(HaveOccurred())
					if cb.Error != "" {
						continue // refused at /authorize: fine
					}
					resp := framework.Redeem(ctx, a, cb.Code, false, nil)
					if resp.Status != http.StatusOK {
						framework.ExpectGrantRefused(resp, what)
						continue // refused at the token endpoint: fine
					}
					t := framework.TokensOf(resp)
					for _, api := range framework.F.Target.Domains() {
						Expect(framework.ProbeMe(ctx, api, t.AccessToken)).To(framework.HaveStatus(http.StatusUnauthorized),
							"a token obtained on %s for the audience of %s was accepted by /me/v1 on %s", loginHost, aud, api)
					}
					continue
				}
				t := framework.LoginTokens(ctx, d, loginHost, c)
				Expect(framework.Claims(t.AccessToken)["iss"]).To(Equal("https://"+loginHost+"/"), "the access token's iss must be the domain it was obtained on")
				if t.IDToken != "" {
					Expect(framework.Claims(t.IDToken)["iss"]).To(Equal("https://"+loginHost+"/"), "the ID token's iss must be the domain it was obtained on")
				}
				for _, api := range framework.F.Target.Domains() {
					resp := framework.ProbeMe(ctx, api, t.AccessToken)
					if api == loginHost {
						Expect(resp).To(framework.HaveStatus(http.StatusOK), "a token obtained on %s was refused by /me/v1 on the same domain", loginHost)
					} else {
						Expect(resp).To(framework.HaveStatus(http.StatusUnauthorized), "a token obtained on %s was accepted by /me/v1 on %s", loginHost, api)
					}
				}
			}
		}
	})

	It("answers My Account enrollment Locations on the domain called, with a WebAuthn rp.id of the custom domain", framework.Req("AUTH-DOM-004", "AUTH-DOM-005"), func(ctx SpecContext) {
		for _, host := range framework.F.Target.Domains() {
			// On the custom domain a user of its own signs up with a passkey; the
			// canonical domain has no passkey login: the password user's shared login.
			var token string
			if host == framework.F.Target.CustomDomain {
				token = framework.NewUser(ctx).Signup.AccessToken
			} else {
				token = framework.LoginTokens(ctx, withLogin(ctx), host, framework.F.Target.LoginClients()[0]).AccessToken
			}
			resp := framework.StartEnrollment(ctx, host, token)
			Expect(resp).To(framework.HaveStatus(http.StatusAccepted))
			expectURLsOn(host, "the Location of POST /authentication-methods on "+host, []string{resp.Location()})
			expectURLsOn(host, "the enrollment response on "+host, urlsInJSON(resp.Body))
			c := framework.DecodeCeremony(resp)
			expectRPID(framework.CreationOptions(c.Options).RP.ID, "the enrollment's rp.id on "+host)
			// Finish it: the 201's Location and body keep to host too; the passkey is
			// removed again.
			att, _, err := authenticator.New().Register(c.Options, framework.F.Target.WebAuthn.Origin, authenticator.ES256)
			Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
			resp = framework.Verify(ctx, host, token, resp.Location(), c.AuthSession, att)
			Expect(resp).To(framework.HaveStatus(http.StatusCreated))
			DeferCleanup(framework.DeleteMethod, host, token, resp.Object()["id"])
			expectURLsOn(host, "the Location of the enrollment's verify on "+host, []string{resp.Location()})
			expectURLsOn(host, "the verified method on "+host, urlsInJSON(resp.Body))
		}
	})

	It("binds native passkeys to the custom domain", framework.Req("AUTH-DOM-005"), func(ctx SpecContext) {
		host := framework.F.Target.CustomDomain
		resp := framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))
		Expect(resp).To(framework.HaveStatus(http.StatusOK))
		expectRPID(framework.CreationOptions(framework.DecodeCeremony(resp).Options).RP.ID, "rp.id of /passkey/register")
		resp = framework.Call(framework.F.PasskeyChallenge(ctx, host))
		Expect(resp).To(framework.HaveStatus(http.StatusOK))
		var o struct {
			RPID string `json:"rpId"`
		}
		Expect(json.Unmarshal(framework.DecodeCeremony(resp).Options, &o)).To(Succeed())
		expectRPID(o.RPID, "rpId of /passkey/challenge")
	})

	It("answers 400 to /passkey/register and /passkey/challenge on the canonical domain", framework.Req("AUTH-DOM-006"), func(ctx SpecContext) {
		host := framework.F.Target.Domain
		Expect(framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))).To(framework.HaveStatus(http.StatusBadRequest), "/passkey/register on the canonical domain")
		Expect(framework.Call(framework.F.PasskeyChallenge(ctx, host))).To(framework.HaveStatus(http.StatusBadRequest), "/passkey/challenge on the canonical domain")
	})

	It("refuses a code or refresh token at the other domain's token endpoint", framework.Req("AUTH-DOM-007"), func(ctx SpecContext) {
		d := withLogin(ctx)
		c := framework.F.Target.LoginClients()[0]
		for _, host := range framework.F.Target.Domains() {
			other := framework.F.Target.Domain
			if host == other {
				other = framework.F.Target.CustomDomain
			}
			a := framework.NewAuth(host, c, "openid", harness.ScopeReadMethods)
			code := framework.CodeLogin(ctx, d, a).Code
			moved := a
			moved.Host = other
			framework.ExpectGrantRefused(framework.Redeem(ctx, moved, code, false, nil), "a code from "+host+" redeemed at "+other)

			t := framework.LoginTokens(ctx, d, host, c) // asked for offline_access
			Expect(t.RefreshToken).NotTo(BeEmpty(), "no refresh_token with offline_access")
			framework.ExpectGrantRefused(framework.Refresh(ctx, other, c, t.RefreshToken), "a refresh token from "+host+" redeemed at "+other)
		}
	})
})

// expectRPID: the RP ID is the custom domain or a parent domain of it, never the
// canonical domain.
func expectRPID(rpID, what string) {
	GinkgoHelper()
	custom := strings.ToLower(hostOnly(framework.F.Target.CustomDomain))
	id := strings.ToLower(rpID)
	Expect(id).NotTo(BeEmpty(), "%s is missing", what)
	Expect(id == custom || strings.HasSuffix(custom, "."+id)).To(BeTrue(), "%s is %q, which is not the custom domain %s or a parent of it", what, rpID, custom)
	Expect(id).NotTo(Equal(strings.ToLower(hostOnly(framework.F.Target.Domain))), "%s is the canonical domain", what)
}

func hostOnly(hostport string) string {
	if h, _, ok := strings.Cut(hostport, ":"); ok {
		return h
	}
	return hostport
}

// expectURLsOn checks every absolute URL on one of the tenant's domains names host.
func expectURLsOn(host, where string, urls []string) {
	GinkgoHelper()
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue // relative: on the domain called by definition
		}
		for _, d := range framework.F.Target.Domains() {
			if strings.EqualFold(u.Host, d) || strings.EqualFold(u.Hostname(), hostOnly(d)) {
				Expect(strings.EqualFold(u.Hostname(), hostOnly(host))).To(BeTrue(), "%s points at %s, not at the domain called (%s)", where, framework.F.Redactor.Text(raw), host)
			}
		}
	}
}

// urlsInJSON lists every string value of a JSON document that looks like a URL.
func urlsInJSON(body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if strings.HasPrefix(x, "https://") || strings.HasPrefix(x, "http://") {
				out = append(out, x)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

var htmlURL = regexp.MustCompile(`(?i)\b(?:href|action|src|formaction)\s*=\s*["']([^"']+)["']`)

// urlsInHTML lists the link, form and resource URLs of a page.
func urlsInHTML(body []byte) []string {
	var out []string
	for _, m := range htmlURL.FindAllSubmatch(body, -1) {
		out = append(out, strings.ReplaceAll(string(m[1]), "&amp;", "&"))
	}
	return out
}
