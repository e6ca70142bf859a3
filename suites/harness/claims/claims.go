// Package claims reads a JWT's payload without verifying it: the target verifies
// its tokens; the suite only reads what was issued (whose bucket a request draws
// on, which scopes were granted, what a spec checks). The one JWT reader of the
// suite.
package claims

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Of decodes the payload of a JWS in compact form.
func Of(jwt string) (map[string]any, error) {
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		return nil, errors.New("the token is not a JWS in compact form")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the token's payload is not base64url")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("the token's payload is not a JSON object")
	}
	return m, nil
}

// Subject is a JWT's sub ("" when it is no JWT or has none).
func Subject(jwt string) string {
	m, _ := Of(jwt)
	sub, _ := m["sub"].(string)
	return sub
}
