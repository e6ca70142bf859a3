package suites

// Reading what a target issued.

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

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
