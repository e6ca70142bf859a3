package enroll

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// What real clients send, which a conforming server accepts (PROTOCOL §7): each
// spec enrolls a passkey the way one SDK shapes it, for a user of its own (3 writes:
// start, verify, DELETE), and the method is removed again.
var _ = framework.AreaOf("tolerance", "passkey", "type:passkey").Describe("Tolerance of what real clients send", func() {
	// enrollShaped enrolls a passkey with the attestation edited by shape, verifying at
	// the URL path makes of the verify URL, and expects 201.
	enrollShaped := func(ctx context.Context, shape func(map[string]any), path func(verifyURL string) string) {
		GinkgoHelper()
		framework.RequireCustomDomain()
		u := framework.BorrowUser(ctx, framework.Budget{spec.Write: 3})
		c := framework.Me(ctx, u)
		s := framework.StartMethod(ctx, c, passkeys(), u)
		att, _, err := authenticator.New().RegisterWith(s.Options(), framework.F.Target.WebAuthn.Origin, authenticator.ES256, authenticator.Mods{Edit: shape})
		Expect(err).NotTo(HaveOccurred())
		u2, err := c.VerifyURL(s.Location)
		Expect(err).NotTo(HaveOccurred())
		if path != nil {
			u2 = path(u2)
		}
		resp := framework.Call(c.Do(ctx, myaccount.VerifyEnrollment, myaccount.Call{URL: u2,
			Body: map[string]any{"auth_session": s.AuthSession(), "authn_response": json.RawMessage(att)}}))
		Expect(resp).To(framework.HaveStatus(http.StatusCreated), "verify at %s", u2)
		Expect(resp.Object()).To(HaveKeyWithValue("type", methods.Passkey))
	}

	It("accepts an attestation without clientExtensionResults, transports or authenticatorAttachment (Swift)", framework.Req("MA-ENR-024"), func(ctx SpecContext) {
		enrollShaped(ctx, func(m map[string]any) {
			delete(m, "clientExtensionResults")
			delete(m, "authenticatorAttachment")
			if r, ok := m["response"].(map[string]any); ok {
				delete(r, "transports")
			}
		}, nil)
	})

	It("accepts clientExtensionResults with credProps, transports and authenticatorAttachment \"platform\" (Android)", framework.Req("MA-ENR-025", "MA-ENR-026"), func(ctx SpecContext) {
		enrollShaped(ctx, func(m map[string]any) {
			m["authenticatorAttachment"] = "platform"
			m["clientExtensionResults"] = map[string]any{"credProps": map[string]any{"rk": true}}
			if r, ok := m["response"].(map[string]any); ok {
				r["transports"] = []string{"internal", "hybrid"}
			}
		}, nil)
	})

	It("accepts authenticatorAttachment \"cross-platform\" with usb transports (a security key)", framework.Req("MA-ENR-026"), func(ctx SpecContext) {
		enrollShaped(ctx, func(m map[string]any) {
			m["authenticatorAttachment"] = "cross-platform"
			m["clientExtensionResults"] = map[string]any{}
			if r, ok := m["response"].(map[string]any); ok {
				r["transports"] = []string{"usb"}
			}
		}, nil)
	})

	It("accepts the method id in the verify path percent-encoded", framework.Req("MA-ENR-027"), func(ctx SpecContext) {
		enrollShaped(ctx, nil, func(u string) string { return strings.ReplaceAll(u, "|", "%7C") })
	})

	It("accepts the method id in the verify path with a literal |", framework.Req("MA-ENR-027"), func(ctx SpecContext) {
		// The harness sends a literal "|" in a path as is, as some SDKs do.
		enrollShaped(ctx, nil, func(u string) string { return strings.NewReplacer("%7C", "|", "%7c", "|").Replace(u) })
	})

	It("signs a user up with clientExtensionResults carrying credProps (Android)", framework.Req("MA-ENR-025"), func(ctx SpecContext) {
		host := framework.RequireCustomDomain()
		resp := framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))
		Expect(resp).To(framework.HaveStatus(http.StatusOK), "POST /passkey/register")
		c := framework.DecodeCeremony(resp)
		att, _, err := authenticator.New().RegisterWith(c.Options, framework.F.Target.WebAuthn.Origin, authenticator.ES256, authenticator.Mods{Edit: func(m map[string]any) {
			m["clientExtensionResults"] = map[string]any{"credProps": map[string]any{"rk": true}}
		}})
		Expect(err).NotTo(HaveOccurred())
		resp = framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, att, config.MeAudience(host), harness.ScopeReadMethods))
		Expect(resp).To(framework.HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, signup with credProps)")
	})
})
