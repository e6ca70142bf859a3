package suites

// Users the suite signs up with a passkey, and their logins.

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// user is someone the suite signed up, with the passkeys it holds. Specs that
// write get users of their own: against Auth0 one user may make 5 reads and 5 writes
// a minute (PROTOCOL §6), and passkey signups are cheap.
type user struct {
	Email    string
	Subject  string // the user id (the tokens' sub)
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
	u, _ := signUpWith(ctx, alg, nil, append([]string{"openid", "offline_access"}, harness.MethodScopes...))
	return u
}

// signUpWith is signUp with a DPoP proof of key at the token endpoint (nil: the
// client's default) and the given scopes; it also returns the token response.
func signUpWith(ctx context.Context, alg authenticator.Alg, key *dpop.Key, scopes []string) (*user, *harness.Response) {
	GinkgoHelper()
	host := requireCustomDomain()
	u := &user{Email: harness.NewEmail(), Authn: authenticator.New()}
	resp := call(F.PasskeyRegister(ctx, host, u.Email))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/register")
	c := decodeCeremony(resp)
	att, pk, err := u.Authn.Register(c.Options, F.Target.WebAuthn.Origin, alg)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
	resp = call(F.TokenByWebAuthnProof(ctx, key, host, c.AuthSession, att, harness.MeAudience(host), scopes...))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, signup)")
	Expect(resp.JSON(&u.Signup)).To(Succeed())
	Expect(u.Signup.AccessToken).NotTo(BeEmpty(), "access_token")
	u.Passkeys = append(u.Passkeys, pk)
	u.Subject, _ = claims(u.Signup.AccessToken)["sub"].(string)
	F.Users.Add(u.Subject + " " + u.Email)
	return u, resp
}

// newUser signs a user up with an ES256 passkey.
func newUser(ctx context.Context) *user {
	GinkgoHelper()
	return signUp(ctx, authenticator.ES256)
}

// session is u's login on host for the My Account API with scopes (every method
// scope when none are given), through the first passkey; it renews by logging in
// again, so it outlives short token lifetimes.
func (u *user) session(ctx context.Context, host string, scopes ...string) *harness.Session {
	GinkgoHelper()
	if len(scopes) == 0 {
		scopes = harness.MethodScopes
	}
	pk := u.Passkeys[0]
	renew := func(ctx context.Context) (harness.Tokens, error) {
		return F.PasskeyLogin(ctx, host, u.Authn, pk, harness.MeAudience(host), scopes...)
	}
	t, err := renew(ctx)
	Expect(err).NotTo(HaveOccurred(), "%s could not log in with the passkey", u.Email)
	return harness.NewSession(host, t, renew)
}

// me is a My Account client for u on the custom domain; whatever it creates is
// deleted, newest first, by a DeferCleanup registered now, and what cannot be
// deleted is listed in the report.
func me(ctx context.Context, u *user, scopes ...string) *myaccount.Client {
	GinkgoHelper()
	host := requireCustomDomain()
	c := myaccount.New(F.Client, host, u.session(ctx, host, scopes...))
	DeferCleanup(func(ctx SpecContext) {
		for _, err := range c.Cleanup(ctx) {
			F.Leftovers.Add(u.Email + ": " + err.Error())
		}
	})
	return c
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
	expectTokenType(resp, t)
	return t
}
