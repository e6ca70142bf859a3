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

// Domain consistency: a tenant with a canonical and one or several custom domains
// never mixes them. Whatever is obtained on one domain works on that domain only, and
// every URL, issuer and Location names the domain that was called. The checks run over
// every domain of the target, the refusals over every ordered pair of distinct
// domains; each custom domain is its own WebAuthn RP ID. The spec names are those of
// one custom domain; with several, a few say "each" or "another" instead (several).
// It logs in through every domain's login page, so it runs after the other areas
// (LoginPromptPriority).
var _ = framework.AreaOf("domains").Describe("Domain consistency", Ordered, ContinueOnFailure, SpecPriority(framework.LoginPromptPriority), func() {
	var d login.Driver
	customs := 0
	if framework.F != nil {
		customs = len(framework.F.Target.CustomDomainList())
	}
	// several is one's text with one custom domain, many's with several.
	several := func(one, many string) string {
		if customs > 1 {
			return many
		}
		return one
	}

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

	It("answers My Account enrollment Locations on the domain called, with a WebAuthn rp.id of "+several("the custom domain", "a custom domain"), framework.Req("AUTH-DOM-004", "AUTH-DOM-005"), func(ctx SpecContext) {
		for _, host := range framework.F.Target.Domains() {
			// On a custom domain a user of its own signs up with a passkey; the
			// canonical domain has no passkey login: the password user's shared login.
			var token string
			if framework.F.Target.IsCustomDomain(host) {
				token = framework.SignUpOn(ctx, host).Signup.AccessToken
			} else {
				token = framework.LoginTokens(ctx, withLogin(ctx), host, framework.F.Target.LoginClients()[0]).AccessToken
			}
			resp := framework.StartEnrollment(ctx, host, token)
			Expect(resp).To(framework.HaveStatus(http.StatusAccepted))
			expectURLsOn(host, "the Location of POST /authentication-methods on "+host, []string{resp.Location()})
			expectURLsOn(host, "the enrollment response on "+host, urlsInJSON(resp.Body))
			c := framework.DecodeCeremony(resp)
			rpID := framework.CreationOptions(c.Options).RP.ID
			expectRPID(host, rpID, "the enrollment's rp.id on "+host)
			// Finish it: the 201's Location and body keep to host too; the passkey is
			// removed again.
			att, _, err := authenticator.New().Register(c.Options, originOf(rpID), authenticator.ES256)
			Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
			resp = framework.Verify(ctx, host, token, resp.Location(), c.AuthSession, att)
			Expect(resp).To(framework.HaveStatus(http.StatusCreated))
			DeferCleanup(framework.DeleteMethod, host, token, resp.Object()["id"])
			expectURLsOn(host, "the Location of the enrollment's verify on "+host, []string{resp.Location()})
			expectURLsOn(host, "the verified method on "+host, urlsInJSON(resp.Body))
		}
	})

	It("binds native passkeys to "+several("the custom domain", "each custom domain"), framework.Req("AUTH-DOM-005"), func(ctx SpecContext) {
		for _, host := range framework.F.Target.CustomDomainList() {
			resp := framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))
			Expect(resp).To(framework.HaveStatus(http.StatusOK))
			expectRPID(host, framework.CreationOptions(framework.DecodeCeremony(resp).Options).RP.ID, "rp.id of /passkey/register on "+host)
			expectRPID(host, challengeRPID(ctx, host), "rpId of /passkey/challenge on "+host)
		}
	})

	It("answers 400 to /passkey/register and /passkey/challenge on the canonical domain", framework.Req("AUTH-DOM-006"), func(ctx SpecContext) {
		host := framework.F.Target.Domain
		Expect(framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))).To(framework.HaveStatus(http.StatusBadRequest), "/passkey/register on the canonical domain")
		Expect(framework.Call(framework.F.PasskeyChallenge(ctx, host))).To(framework.HaveStatus(http.StatusBadRequest), "/passkey/challenge on the canonical domain")
	})

	It("refuses a code or refresh token at "+several("the other domain's", "another domain's")+" token endpoint", framework.Req("AUTH-DOM-007"), func(ctx SpecContext) {
		d := withLogin(ctx)
		c := framework.F.Target.LoginClients()[0]
		for _, host := range framework.F.Target.Domains() {
			t := framework.LoginTokens(ctx, d, host, c) // asked for offline_access
			Expect(t.RefreshToken).NotTo(BeEmpty(), "no refresh_token with offline_access")
			for _, other := range framework.F.Target.Domains() {
				if other == host {
					continue
				}
				a := framework.NewAuth(host, c, "openid", harness.ScopeReadMethods)
				code := framework.CodeLogin(ctx, d, a).Code
				moved := a
				moved.Host = other
				framework.ExpectGrantRefused(framework.Redeem(ctx, moved, code, false, nil), "a code from "+host+" redeemed at "+other)
				framework.ExpectGrantRefused(framework.Refresh(ctx, other, c, t.RefreshToken), "a refresh token from "+host+" redeemed at "+other)
			}
		}
	})

	// Only with several custom domains: each is its own relying party, so a passkey
	// of one custom domain's RP ID is no credential on another (of another RP ID).
	if customs > 1 {
		It("refuses on each custom domain the passkeys of another custom domain's RP ID", framework.Req("AUTH-DOM-008"), func(ctx SpecContext) {
			for _, from := range framework.F.Target.CustomDomainList() {
				u := framework.SignUpOn(ctx, from)
				pk := u.Passkeys[0]
				for _, on := range framework.F.Target.CustomDomainList() {
					if on == from {
						continue
					}
					rpOn := challengeRPID(ctx, on)
					if strings.EqualFold(rpOn, pk.RPID) {
						AddReportEntry("shared RP ID", fmt.Sprintf("%s and %s share the RP ID %s: a passkey of one is one of the other's", from, on, rpOn))
						continue
					}
					// Asserted as an app of the passkey's own domain would (its RP ID and
					// origin), and signed for the RP ID of the domain called.
					what := fmt.Sprintf("a passkey of %s (RP ID %s) on %s, asserted for ", from, pk.RPID, on)
					refusePasskey(ctx, u, on, pk.RPID, framework.F.Target.OriginFor(from), what+"its own RP ID and origin,")
					refusePasskey(ctx, u, on, rpOn, framework.F.Target.OriginFor(on), what+"the RP ID of "+on+",")
				}
				// On its own domain it logs in: the refusals are the domain's.
				framework.SignIn(ctx, u, pk, from)
			}
		})
	}
})

// refusePasskey expects the webauthn grant on host to refuse u's first passkey,
// asserted for rpID at origin whatever the options' rpId.
func refusePasskey(ctx SpecContext, u *framework.User, host, rpID, origin, what string) {
	GinkgoHelper()
	resp := framework.Call(framework.F.PasskeyChallenge(ctx, host))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "POST /passkey/challenge on %s", host)
	c := framework.DecodeCeremony(resp)
	assertion, err := u.Authn.LoginWith(c.Options, origin, u.Passkeys[0], authenticator.Mods{RPID: rpID})
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
	resp = framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, config.MeAudience(host), harness.MethodScopes...))
	framework.ExpectGrantRefused(resp, what)
}

// challengeRPID is the rpId of a native passkey login started on host.
func challengeRPID(ctx SpecContext, host string) string {
	GinkgoHelper()
	resp := framework.Call(framework.F.PasskeyChallenge(ctx, host))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "POST /passkey/challenge on %s", host)
	var o struct {
		RPID string `json:"rpId"`
	}
	Expect(json.Unmarshal(framework.DecodeCeremony(resp).Options, &o)).To(Succeed())
	return o.RPID
}

// originOf is the WebAuthn origin for a ceremony of RP ID rpID: that of the first
// custom domain the RP ID is, or is a parent of.
func originOf(rpID string) string {
	for _, d := range framework.F.Target.CustomDomainList() {
		if h := strings.ToLower(hostOnly(d)); h == strings.ToLower(rpID) || strings.HasSuffix(h, "."+strings.ToLower(rpID)) {
			return framework.F.Target.OriginFor(d)
		}
	}
	return framework.F.Target.WebAuthn.Origin
}

// expectRPID: the RP ID of a ceremony on host is host or a parent domain of it when
// host is a custom domain (each is its own relying party); on the canonical domain it
// is a custom domain or a parent of one; never the canonical domain.
func expectRPID(host, rpID, what string) {
	GinkgoHelper()
	customs := framework.F.Target.CustomDomainList()
	if framework.F.Target.IsCustomDomain(host) {
		customs = []string{host}
	}
	id := strings.ToLower(rpID)
	Expect(id).NotTo(BeEmpty(), "%s is missing", what)
	ok := false
	for _, d := range customs {
		custom := strings.ToLower(hostOnly(d))
		ok = ok || id == custom || strings.HasSuffix(custom, "."+id)
	}
	Expect(ok).To(BeTrue(), "%s is %q, which is not %s or a parent of it", what, rpID, strings.Join(customs, " or "))
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
