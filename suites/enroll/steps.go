package enroll

// Changing one thing of an otherwise valid WebAuthn ceremony.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
)

// unofferedAlgAttestation answers creation options with a credential of an algorithm
// they do not offer, as a client that ignores pubKeyCredParams would (the options are
// rewritten to offer it): the first of ES384, EdDSA, RS256 and ES256 they leave out
// (Auth0 offers -8, -7 and -257, so ES384 as a rule). It skips the spec when every
// algorithm the virtual authenticator can create is offered.
func unofferedAlgAttestation(options json.RawMessage) ([]byte, authenticator.Alg) {
	GinkgoHelper()
	offered := map[authenticator.Alg]bool{}
	for _, p := range framework.CreationOptions(options).PubKeyCredParams {
		offered[authenticator.Alg(p.Alg)] = true
	}
	alg := authenticator.Alg(0)
	for _, a := range unofferable {
		if !offered[a] {
			alg = a
			break
		}
	}
	if alg == 0 {
		Skip(fmt.Sprintf("the options offer every algorithm the virtual authenticator can create (%v)", unofferable))
	}
	var opts map[string]any
	Expect(json.Unmarshal(options, &opts)).To(Succeed())
	opts["pubKeyCredParams"] = []map[string]any{{"type": "public-key", "alg": int(alg)}}
	rewritten, err := json.Marshal(opts)
	Expect(err).NotTo(HaveOccurred())
	att, _, err := authenticator.New().Register(rewritten, framework.F.Target.WebAuthn.Origin, alg)
	Expect(err).NotTo(HaveOccurred())
	return att, alg
}

// unofferable are the algorithms an "algorithm not offered" case may use, in the
// order they are tried.
var unofferable = []authenticator.Alg{authenticator.ES384, authenticator.EdDSA, authenticator.RS256, authenticator.ES256}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// editResponse changes one base64url member of response (an unsigned edit).
func editResponse(member string, f func([]byte) []byte) func(map[string]any) {
	return func(m map[string]any) {
		r, _ := m["response"].(map[string]any)
		s, _ := r[member].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return
		}
		r[member] = base64.RawURLEncoding.EncodeToString(f(b))
	}
}

// editClientData changes clientDataJSON after it was signed.
func editClientData(f func(map[string]any)) func(map[string]any) {
	return editResponse("clientDataJSON", func(b []byte) []byte {
		var cd map[string]any
		if json.Unmarshal(b, &cd) != nil {
			return b
		}
		f(cd)
		out, _ := json.Marshal(cd)
		return out
	})
}

// passkeys is the passkey driver for the target (ES256 credentials).
func passkeys() *methods.PasskeyDriver {
	GinkgoHelper()
	d, err := methods.New(methods.Passkey, framework.MethodsEnv())
	Expect(err).NotTo(HaveOccurred())
	return d.(*methods.PasskeyDriver)
}

// expectTamperedEnrollmentRefused runs one tampered passkey enrollment for a user of
// its own: answer makes the attestation from the creation options (or skips). The
// verify must be refused with 400 and the problem body, and create nothing; then an
// untampered enrollment of the same kind, started afresh, must succeed, so the
// refusal is about the tampering.
func expectTamperedEnrollmentRefused(ctx context.Context, what string, answer func(options json.RawMessage) []byte) {
	GinkgoHelper()
	framework.RequireCustomDomain()
	d := passkeys()
	// Two starts, two verifications and the cleanup's DELETE of the control method.
	u := framework.BorrowUser(ctx, framework.Budget{spec.Read: 2, spec.Write: 5})
	c := framework.Me(ctx, u)
	before := framework.MethodsOf(ctx, c, "")
	s := framework.StartMethod(ctx, c, d, u)
	att := answer(s.Options())
	resp := framework.VerifyAttempt(ctx, c, s.Location, map[string]any{"auth_session": s.AuthSession(), "authn_response": json.RawMessage(att)})
	framework.ExpectBadRequest(resp, "an enrollment verified with "+what)
	control := framework.VerifyMethod(ctx, c, d, u, framework.StartMethod(ctx, c, d, u))
	Expect(framework.MethodsOf(ctx, c, "")).To(ConsistOf(append(before, control.ID)),
		"after a refused verification and an untampered one, the methods must be those before plus the untampered one")
}

// expectTamperedLoginRefused runs one tampered passkey login for u: answer makes the
// assertion from the request options. The webauthn grant must refuse it as the
// token endpoint documents; then an untampered login of the same kind must succeed.
func expectTamperedLoginRefused(ctx context.Context, u *framework.User, what string, answer func(options json.RawMessage) []byte) {
	GinkgoHelper()
	host := framework.RequireCustomDomain()
	c := framework.DecodeCeremony(framework.Call(framework.F.PasskeyChallenge(ctx, host)))
	assertion := answer(c.Options)
	framework.ExpectGrantRefused(framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, config.MeAudience(host), harness.ScopeReadMethods)), "a login assertion "+what)
	framework.SignIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
}

// requireUserVerification skips unless WebAuthn options require user verification
// (creation options say it in authenticatorSelection, request options at the top
// level).
func requireUserVerification(options json.RawMessage) {
	GinkgoHelper()
	var o struct {
		UV  string `json:"userVerification"`
		Sel struct {
			UV string `json:"userVerification"`
		} `json:"authenticatorSelection"`
	}
	_ = json.Unmarshal(options, &o)
	uv := o.UV
	if o.Sel.UV != "" {
		uv = o.Sel.UV
	}
	if uv != "required" {
		Skip(fmt.Sprintf("the options ask for userVerification %q, not \"required\": a response without UV is acceptable", uv))
	}
}
