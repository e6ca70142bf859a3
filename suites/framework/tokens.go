package framework

// Reading what a target issued.

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/claims"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// Claims decodes a JWT's payload without verifying it: the target's API verifies,
// the suite only reads what was issued.
func Claims(jwt string) map[string]any {
	GinkgoHelper()
	m, err := claims.Of(jwt)
	Expect(err).NotTo(HaveOccurred(), "the access token")
	return m
}

// Audiences returns the aud claim as a list.
func Audiences(c map[string]any) []string {
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

// TokenTypeFor is the token_type the target gives a client's ordinary token
// requests: DPoP when it requires DPoP of the client (the client then always sends a
// proof), Bearer otherwise.
func TokenTypeFor(client string) string {
	if F.Target.DPoPFor(client) == config.DPoPRequired {
		return "DPoP"
	}
	return "Bearer"
}

// expectTokenType checks the token_type of a token response: DPoP when the request
// carried a proof the client made (RFC 9449 §5), Bearer otherwise.
func expectTokenType(resp *harness.Response, t harness.Tokens) {
	GinkgoHelper()
	want := "Bearer"
	if resp.ProofKey != nil {
		want = "DPoP"
	}
	Expect(strings.EqualFold(t.TokenType, want)).To(BeTrue(), "token_type %q, want %s", t.TokenType, want)
}
