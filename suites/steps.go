package suites

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
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

// claims decodes a JWT's payload without verifying it: the target's API verifies,
// the suite only reads what was issued.
func claims(jwt string) map[string]any {
	GinkgoHelper()
	parts := strings.Split(jwt, ".")
	Expect(parts).To(HaveLen(3), "the access token is not a JWS in compact form")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	Expect(err).NotTo(HaveOccurred(), "the access token's payload is not base64url")
	var m map[string]any
	Expect(json.Unmarshal(raw, &m)).To(Succeed(), "the access token's payload is not JSON")
	return m
}

// audiences returns the aud claim as a list.
func audiences(c map[string]any) []string {
	switch a := c["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// enrollment is a started passkey enrollment.
type enrollment struct {
	Location string
	ceremony
}

// startEnrollment sends POST /authentication-methods {type: passkey} and returns the
// response.
func startEnrollment(ctx context.Context, host, token string) *harness.Response {
	GinkgoHelper()
	return call(F.Me(ctx, http.MethodPost, host, "/authentication-methods", token, map[string]any{"type": "passkey"}))
}

// verifyURL resolves the enrollment's Location against the API base and appends /verify.
func verifyURL(host, location string) string {
	GinkgoHelper()
	base, err := url.Parse(harness.MeURL(host, "/authentication-methods"))
	Expect(err).NotTo(HaveOccurred())
	loc, err := url.Parse(location)
	Expect(err).NotTo(HaveOccurred(), "Location %q is not a URL", location)
	u := base.ResolveReference(loc)
	return strings.TrimSuffix(u.String(), "/") + "/verify"
}

// methodIDPath percent-encodes a method id for a path segment (passkey|dev_x → passkey%7Cdev_x).
func methodIDPath(id string) string { return "/authentication-methods/" + url.PathEscape(id) }

// listMethods returns the user's authentication methods.
func listMethods(ctx context.Context, host, token string) []map[string]any {
	GinkgoHelper()
	resp := call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", token, nil))
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /authentication-methods")
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	return body.Methods
}

// methodIDs lists the ids of methods.
func methodIDs(ms []map[string]any) []string {
	var out []string
	for _, m := range ms {
		if id, ok := m["id"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}
