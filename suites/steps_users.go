package suites

// Users the suite signs up with a passkey, and their logins.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// user is someone the suite signed up, with the passkeys it holds.
type user struct {
	Email    string
	Authn    *authenticator.Authenticator
	Passkeys []*authenticator.Passkey
	Signup   harness.Tokens
}

// ceremony is a WebAuthn challenge issued by the target.
type ceremony struct {
	AuthSession string          `json:"auth_session"`
	Options     json.RawMessage `json:"authn_params_public_key"`
}

func decodeCeremony(resp *harness.Response) ceremony {
	GinkgoHelper()
	var c ceremony
	Expect(resp.JSON(&c)).To(Succeed())
	Expect(c.AuthSession).NotTo(BeEmpty(), "auth_session")
	Expect(c.Options).NotTo(BeEmpty(), "authn_params_public_key")
	return c
}

// signUp creates a user with a passkey of the given algorithm through
// /passkey/register and the webauthn grant on the custom domain.
func signUp(ctx context.Context, alg authenticator.Alg) *user {
	GinkgoHelper()
	host := requireCustomDomain()
	u := &user{Email: harness.NewEmail(), Authn: authenticator.New()}
	resp := call(F.PasskeyRegister(ctx, host, u.Email))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/register")
	c := decodeCeremony(resp)
	att, pk, err := u.Authn.Register(c.Options, F.Target.WebAuthn.Origin, alg)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
	resp = call(F.TokenByWebAuthn(ctx, host, c.AuthSession, att, harness.MeAudience(host), append([]string{"openid", "offline_access"}, harness.MethodScopes...)...))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, signup)")
	Expect(resp.JSON(&u.Signup)).To(Succeed())
	Expect(u.Signup.AccessToken).NotTo(BeEmpty(), "access_token")
	u.Passkeys = append(u.Passkeys, pk)
	return u
}

// passkeyLogin runs /passkey/challenge and the webauthn grant with one passkey and
// returns the token response as is.
func passkeyLogin(ctx context.Context, u *user, pk *authenticator.Passkey, host, audience string, scopes ...string) *harness.Response {
	GinkgoHelper()
	resp := call(F.PasskeyChallenge(ctx, host))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/challenge")
	c := decodeCeremony(resp)
	assertion, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, pk)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
	return call(F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, audience, scopes...))
}

// signIn logs in with a passkey and expects tokens for the My Account API of host.
func signIn(ctx context.Context, u *user, pk *authenticator.Passkey, host string, scopes ...string) harness.Tokens {
	GinkgoHelper()
	if len(scopes) == 0 {
		scopes = harness.MethodScopes
	}
	resp := passkeyLogin(ctx, u, pk, host, harness.MeAudience(host), scopes...)
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, login)")
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "access_token")
	Expect(strings.EqualFold(t.TokenType, "Bearer")).To(BeTrue(), "token_type %q, want Bearer", t.TokenType)
	return t
}
