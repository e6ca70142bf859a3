package login

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// Embedded login with native passkeys: signup through /passkey/register and login
// through /passkey/challenge, both finished by the webauthn grant on /oauth/token.
var _ = framework.AreaOf("login", "passkey").Describe("Native passkey signup and login", func() {
	for _, alg := range []authenticator.Alg{authenticator.ES256, authenticator.RS256} {
		Context("with an "+alg.String()+" passkey", Ordered, func() {
			var u *framework.User

			It("signs a new user up with /passkey/register and the webauthn grant", framework.Req("AUTH-PK-001"), func(ctx SpecContext) {
				host := framework.RequireCustomDomain()
				resp := framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))
				Expect(resp).To(framework.HaveStatus(http.StatusOK))
				opts := framework.CreationOptions(framework.DecodeCeremony(resp).Options)
				Expect(opts.RP.ID).To(Or(BeEmpty(), Equal(framework.F.Target.RPHost())), "rp.id must be the custom domain the passkey is used on")
				framework.ExpectFreshChallenge(opts.Challenge)

				u = framework.SignUp(ctx, alg)
				Expect(u.Signup.TokenType).To(Equal(framework.TokenTypeFor("native")), "token_type")
			})

			It("logs the user in with /passkey/challenge and the webauthn grant, for the My Account audience and scopes", framework.Req("AUTH-PK-002"), func(ctx SpecContext) {
				host := framework.RequireCustomDomain()
				t := framework.SignIn(ctx, u, u.Passkeys[0], host)
				c := framework.Claims(t.AccessToken)
				Expect(c["iss"]).To(Equal("https://"+host+"/"), "iss must be the domain the token was obtained on, with a trailing slash")
				Expect(framework.Audiences(c)).To(ContainElement(config.MeAudience(host)), "aud must include the My Account audience")
				Expect(c["scope"]).To(BeAssignableToTypeOf(""), "scope claim")
				for _, s := range harness.MethodScopes {
					Expect(c["scope"]).To(ContainSubstring(s), "the requested scope %s was not granted", s)
				}
				Expect(c["exp"]).To(BeNumerically(">", float64(time.Now().Unix())), "exp must be in the future")

				ms := framework.ListMethods(ctx, host, t.AccessToken)
				Expect(ms).To(ContainElement(HaveKeyWithValue("type", "passkey")), "the signup passkey must be listed")
			})

			It("refuses a webauthn grant whose authn_response is a string rather than an object", framework.Req("AUTH-PK-003"), func(ctx SpecContext) {
				host := framework.RequireCustomDomain()
				resp := framework.Call(framework.F.PasskeyChallenge(ctx, host))
				Expect(resp).To(framework.HaveStatus(http.StatusOK))
				c := framework.DecodeCeremony(resp)
				assertion, err := u.Authn.Login(c.Options, framework.F.Target.WebAuthn.Origin, u.Passkeys[0])
				Expect(err).NotTo(HaveOccurred())
				asString, _ := json.Marshal(string(assertion))
				resp = framework.Send(ctx, &harness.Request{Method: http.MethodPost, URL: framework.F.Target.BaseURL(host) + "/oauth/token", Deliberate: true, JSON: map[string]any{
					"grant_type": harness.WebAuthnGrant, "client_id": framework.F.Target.Clients.Native.ClientID,
					"client_secret": framework.F.Target.Clients.Native.ClientSecret, "realm": framework.F.Target.Connection,
					"auth_session": c.AuthSession, "authn_response": json.RawMessage(asString),
					"audience": config.MeAudience(host), "scope": harness.ScopeReadMethods,
				}})
				// Refused for its authn_response: a malformed request (RFC 6749 §5.2) or
				// an unusable assertion, with a status the token endpoint documents; not
				// as a failed client authentication.
				what := "a webauthn grant whose authn_response is a string"
				framework.ExpectGrantRefused(resp, what)
				Expect(resp.Status).NotTo(Equal(http.StatusUnauthorized), "%s was refused as a failed client authentication: %s", what, resp.Body)
				Expect(resp.Object()).To(HaveKeyWithValue("error", BeElementOf("invalid_request", "invalid_grant")), "%s: the error code", what)
			})
		})
	}
})
