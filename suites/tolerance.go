package suites

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
)

// What real clients send, which a conforming server accepts (PROTOCOL §7): each
// spec enrolls a passkey the way one SDK shapes it, then removes it again.
var _ = Describe("Tolerance of what real clients send", Label("tolerance", "passkey"), Ordered, ContinueOnFailure, func() {
	var (
		host  string
		u     *user
		token string
	)

	BeforeAll(func(ctx SpecContext) {
		host = requireCustomDomain()
		u = signUp(ctx, authenticator.ES256)
		token = signIn(ctx, u, u.Passkeys[0], host).AccessToken
	})

	// enrollShaped enrolls a passkey with the attestation edited by shape, verifying at
	// the URL path builds from the Location, and expects 201.
	enrollShaped := func(ctx SpecContext, shape func(map[string]any), path func(location string) string) {
		GinkgoHelper()
		resp := startEnrollment(ctx, host, token)
		Expect(resp).To(HaveStatus(http.StatusAccepted), "POST /authentication-methods")
		location, c := resp.Location(), decodeCeremony(resp)
		Expect(location).NotTo(BeEmpty(), "the enrollment answered without a Location")
		att, _, err := authenticator.New().RegisterWith(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256, authenticator.Mods{Edit: shape})
		Expect(err).NotTo(HaveOccurred())
		url := verifyURL(host, location)
		if path != nil {
			url = path(location)
		}
		resp = send(ctx, &harness.Request{Method: http.MethodPost, URL: url, Bearer: token,
			JSON: map[string]any{"auth_session": c.AuthSession, "authn_response": json.RawMessage(att)}})
		Expect(resp).To(HaveStatus(http.StatusCreated), "verify at %s", url)
		deleteMethod(ctx, host, token, resp.Object()["id"])
	}

	It("accepts an attestation without clientExtensionResults, transports or authenticatorAttachment (Swift)", Req("MA-ENR-024"), func(ctx SpecContext) {
		enrollShaped(ctx, func(m map[string]any) {
			delete(m, "clientExtensionResults")
			delete(m, "authenticatorAttachment")
			if r, ok := m["response"].(map[string]any); ok {
				delete(r, "transports")
			}
		}, nil)
	})

	It("accepts clientExtensionResults with credProps, transports and authenticatorAttachment \"platform\" (Android)", Req("MA-ENR-025", "MA-ENR-026"), func(ctx SpecContext) {
		enrollShaped(ctx, func(m map[string]any) {
			m["authenticatorAttachment"] = "platform"
			m["clientExtensionResults"] = map[string]any{"credProps": map[string]any{"rk": true}}
			if r, ok := m["response"].(map[string]any); ok {
				r["transports"] = []string{"internal", "hybrid"}
			}
		}, nil)
	})

	It("accepts authenticatorAttachment \"cross-platform\" with usb transports (a security key)", Req("MA-ENR-026"), func(ctx SpecContext) {
		enrollShaped(ctx, func(m map[string]any) {
			m["authenticatorAttachment"] = "cross-platform"
			m["clientExtensionResults"] = map[string]any{}
			if r, ok := m["response"].(map[string]any); ok {
				r["transports"] = []string{"usb"}
			}
		}, nil)
	})

	It("accepts the method id in the verify path percent-encoded and not", Req("MA-ENR-027"), func(ctx SpecContext) {
		encoded := func(location string) string {
			u := verifyURL(host, location)
			return strings.ReplaceAll(u, "|", "%7C")
		}
		raw := func(location string) string {
			// The harness sends a literal "|" in a path as is, as some SDKs do.
			u := verifyURL(host, location)
			return strings.NewReplacer("%7C", "|", "%7c", "|").Replace(u)
		}
		enrollShaped(ctx, nil, encoded)
		enrollShaped(ctx, nil, raw)
	})

	It("signs a user up with clientExtensionResults carrying credProps (Android)", Req("MA-ENR-025"), func(ctx SpecContext) {
		email := harness.NewEmail()
		resp := call(F.PasskeyRegister(ctx, host, email))
		Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/register")
		c := decodeCeremony(resp)
		att, _, err := authenticator.New().RegisterWith(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256, authenticator.Mods{Edit: func(m map[string]any) {
			m["clientExtensionResults"] = map[string]any{"credProps": map[string]any{"rk": true}}
		}})
		Expect(err).NotTo(HaveOccurred())
		resp = call(F.TokenByWebAuthn(ctx, host, c.AuthSession, att, harness.MeAudience(host), harness.ScopeReadMethods))
		Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, signup with credProps)")
	})
})
