package config

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Client kinds a DPoP nonce demand may apply to at the token endpoint.
const (
	ClientPublic       = "public"
	ClientConfidential = "confidential"
)

// DPoPNonce says where the target requires server nonces in DPoP proofs (RFC 9449
// §8, §9): at the token endpoint, for the kinds of client listed, and at the My
// Account API. In YAML either that object ({token_endpoint: [public], api: false},
// which is what Auth0 documents: a public client's first proof is answered with
// use_dpop_nonce, confidential clients are not asked, and nothing is said of the
// API) or true, which means everywhere: both endpoints, every client. The client
// answers any demand for a nonce either way; the nonce specs run where it is stated.
type DPoPNonce struct {
	TokenEndpoint []string `json:"token_endpoint,omitempty"`
	API           bool     `json:"api,omitempty"`
}

// EveryDPoPNonce is what dpop_nonce: true means.
func EveryDPoPNonce() *DPoPNonce {
	return &DPoPNonce{TokenEndpoint: []string{ClientPublic, ClientConfidential}, API: true}
}

// UnmarshalJSON takes the object or a boolean (true: everywhere; false: nowhere).
func (n *DPoPNonce) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true":
		*n = *EveryDPoPNonce()
		return nil
	case "false", "null":
		*n = DPoPNonce{}
		return nil
	}
	type plain DPoPNonce
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var p plain
	if err := d.Decode(&p); err != nil {
		return err
	}
	*n = DPoPNonce(p)
	return nil
}

// NonceAtToken says the target requires nonces of a public (or confidential) client
// at the token endpoint.
func (t *Target) NonceAtToken(public bool) bool {
	if t.DPoPNonce == nil {
		return false
	}
	kind := ClientConfidential
	if public {
		kind = ClientPublic
	}
	return slices.Contains(t.DPoPNonce.TokenEndpoint, kind)
}

// NonceAtAPI says the target requires nonces at the My Account API.
func (t *Target) NonceAtAPI() bool { return t.DPoPNonce != nil && t.DPoPNonce.API }

// DemandsNonces says the target requires nonces anywhere.
func (t *Target) DemandsNonces() bool {
	return t.DPoPNonce != nil && (t.DPoPNonce.API || len(t.DPoPNonce.TokenEndpoint) > 0)
}

// NativePublic says the native client is public (no secret), as a native
// application registered at Auth0 is.
func (t *Target) NativePublic() bool { return t.Clients.Native.ClientSecret == "" }

// dpopAlgNames are the asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037).
var dpopAlgNames = map[string]bool{"ES256": true, "ES384": true, "ES512": true, "RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true, "EdDSA": true}
