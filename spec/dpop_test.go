package spec

import "testing"

// What DPoP adds to the wire validates, and a malformed DPoP-Nonce is named.
func TestDPoPResponses(t *testing.T) {
	v := newValidator(t)
	token := request(t, "POST", "https://"+custom+"/oauth/token")
	me := request(t, "GET", "https://"+custom+"/me/v1/factors")
	const nonce = "eyJ7S_oOQm-kKxX3yQzTtlOXpCQ2Y9Qg"
	for name, c := range map[string]struct {
		req    string
		status int
		kv     []string
		body   string
	}{
		"token_type DPoP": {"token", 200, []string{"DPoP-Nonce", nonce}, `{"access_token":"a.b.c","token_type":"DPoP","expires_in":600}`},
		"use_dpop_nonce":  {"token", 400, []string{"DPoP-Nonce", nonce}, `{"error":"use_dpop_nonce","error_description":"DPoP proof: the server requires a nonce"}`},
		"invalid proof":   {"token", 400, nil, `{"error":"invalid_dpop_proof","error_description":"DPoP proof: htm"}`},
		"API nonce":       {"me", 401, []string{"DPoP-Nonce", nonce, "WWW-Authenticate", `DPoP algs="ES256", error="use_dpop_nonce"`}, problem},
		"API refused key": {"me", 401, []string{"WWW-Authenticate", `DPoP algs="ES256", error="invalid_token"`}, problem},
	} {
		req := token
		if c.req == "me" {
			req = me
		}
		if err := v.ValidateResponse(req, nil, c.status, jsonHeader(c.kv...), []byte(c.body)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	mustFail(t, v.ValidateResponse(token, nil, 400, jsonHeader("DPoP-Nonce", `a "quoted" nonce`),
		[]byte(`{"error":"use_dpop_nonce","error_description":"x"}`)), "DPoP-Nonce")
	mustFail(t, v.ValidateResponse(me, nil, 401, jsonHeader("DPoP-Nonce", "a b"), []byte(problem)), "DPoP-Nonce")
}
