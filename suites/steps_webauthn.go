package suites

// Changing one thing of an otherwise valid WebAuthn ceremony.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// unofferedAlgAttestation answers creation options with a credential of an algorithm
// they do not offer, as a client that ignores pubKeyCredParams would (the options are
// rewritten to offer it); it skips the spec when every algorithm the virtual
// authenticator can create is offered.
func unofferedAlgAttestation(options json.RawMessage) ([]byte, authenticator.Alg) {
	GinkgoHelper()
	offered := map[authenticator.Alg]bool{}
	for _, p := range creationOptions(options).PubKeyCredParams {
		offered[authenticator.Alg(p.Alg)] = true
	}
	alg := authenticator.Alg(0)
	for _, a := range []authenticator.Alg{authenticator.EdDSA, authenticator.RS256, authenticator.ES256} {
		if !offered[a] {
			alg = a
		}
	}
	if alg == 0 {
		Skip("the options offer every algorithm the virtual authenticator can create (EdDSA, ES256, RS256)")
	}
	var opts map[string]any
	Expect(json.Unmarshal(options, &opts)).To(Succeed())
	opts["pubKeyCredParams"] = []map[string]any{{"type": "public-key", "alg": int(alg)}}
	rewritten, err := json.Marshal(opts)
	Expect(err).NotTo(HaveOccurred())
	att, _, err := authenticator.New().Register(rewritten, F.Target.WebAuthn.Origin, alg)
	Expect(err).NotTo(HaveOccurred())
	return att, alg
}

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
