package dpop

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// verify parses a proof as a server does (RFC 9449 §4.3): the signature with the jwk
// of its header; it returns the header's key and the claims.
func verify(t *testing.T, proof string) (*jose.JSONWebKey, map[string]any, error) {
	t.Helper()
	tok, err := jwt.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA})
	if err != nil {
		return nil, nil, err
	}
	jwk := tok.Headers[0].JSONWebKey
	if jwk == nil {
		t.Fatalf("no jwk in %s", proof)
	}
	var c map[string]any
	return jwk, c, tok.Claims(jwk.Key, &c)
}

func TestProofsAreWhatRFC9449Says(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{ES256, RS256, PS256, EdDSA} {
		k := MustKey(alg)
		u := "https://login.example.test/me/v1/authentication-methods/passkey|new/verify?x=1#frag"
		proof, err := k.Make(Request{Method: "POST", URL: u, AccessToken: "the-token", Nonce: "n-1"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseSigned(proof, []jose.SignatureAlgorithm{alg})
		if err != nil {
			t.Fatal(err)
		}
		if typ := tok.Headers[0].ExtraHeaders["typ"]; typ != Type {
			t.Errorf("%s: typ %v", alg, typ)
		}
		jwk, c, err := verify(t, proof)
		if err != nil {
			t.Fatalf("%s: the proof does not verify with its own jwk: %v", alg, err)
		}
		if !jwk.IsPublic() {
			t.Errorf("%s: the jwk is not a public key", alg)
		}
		sum, _ := jwk.Thumbprint(crypto.SHA256)
		if got := base64.RawURLEncoding.EncodeToString(sum); got != k.Thumbprint() {
			t.Errorf("%s: thumbprint %s, the jwk's is %s", alg, k.Thumbprint(), got)
		}
		want := map[string]any{"htm": "POST", "htu": "https://login.example.test/me/v1/authentication-methods/passkey|new/verify",
			"ath": ATH("the-token"), "nonce": "n-1"}
		for name, v := range want {
			if c[name] != v {
				t.Errorf("%s: %s = %v, want %v", alg, name, c[name], v)
			}
		}
		if iat, _ := c["iat"].(float64); time.Since(time.Unix(int64(iat), 0)) > time.Minute {
			t.Errorf("%s: iat %v", alg, c["iat"])
		}
		if jti, _ := c["jti"].(string); len(jti) < 16 {
			t.Errorf("%s: jti %q carries fewer than 96 bits", alg, jti)
		}
	}
	// Every proof is new.
	k := MustKey(ES256)
	a, _ := k.Make(Request{Method: "GET", URL: "https://a.test/x"})
	b, _ := k.Make(Request{Method: "GET", URL: "https://a.test/x"})
	if Decode(a).Claims["jti"] == Decode(b).Claims["jti"] {
		t.Error("two proofs share a jti")
	}
	if _, ok := Decode(a).Claims["ath"]; ok {
		t.Error("a proof without an access token has ath")
	}
	// ath is base64url(SHA-256) of the token (RFC 9449 §4.2's example).
	if got := ATH("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Errorf("ATH %s", got)
	}
}

func TestOptionsBreakWhatTheyName(t *testing.T) {
	k, other := MustKey(ES256), MustKey(ES256)
	r := Request{Method: "GET", URL: "https://a.test/me/v1/factors", AccessToken: "t", Nonce: "n"}
	for _, c := range []struct {
		name     string
		opt      Option
		verifies bool
		check    func(d Decoded) bool
	}{
		{"claim", WithClaim("htm", "DELETE"), true, func(d Decoded) bool { return d.Claims["htm"] == "DELETE" }},
		{"claim removed", WithClaim("ath", nil), true, func(d Decoded) bool { _, ok := d.Claims["ath"]; return !ok }},
		{"header", WithHeader("typ", "JWT"), true, func(d Decoded) bool { return d.Header["typ"] == "JWT" }},
		{"signed by another key", SignedBy(other), false, func(d Decoded) bool { return d.Header["jwk"].(map[string]any)["x"] != nil }},
		{"another key's proof", WithKey(other), true, func(d Decoded) bool { return true }},
		{"bad signature", BadSignature(), false, func(d Decoded) bool { return d.Claims["htm"] == "GET" }},
		{"private jwk", PrivateJWK(), false, // go-jose refuses a private embedded key
			func(d Decoded) bool { return d.Header["jwk"].(map[string]any)["d"] == PrivateRemoved }},
		{"no nonce", WithoutNonce(), true, func(d Decoded) bool { _, ok := d.Claims["nonce"]; return !ok }},
	} {
		p, err := k.New(r)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := p.Sign(c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, _, err = verify(t, proof)
		if (err == nil) != c.verifies {
			t.Errorf("%s: verifies %v, want %v", c.name, err == nil, c.verifies)
		}
		if !c.check(Decode(proof)) {
			t.Errorf("%s: %s", c.name, Decode(proof))
		}
	}
	// WithKey: the other key's public key, verifying with it.
	proof, _ := k.Make(r, WithKey(other))
	jwk, _, err := verify(t, proof)
	if sum, _ := jwk.Thumbprint(crypto.SHA256); err != nil || base64.RawURLEncoding.EncodeToString(sum) != other.Thumbprint() {
		t.Errorf("WithKey: %v", err)
	}
	// alg none: no signature at all.
	proof, _ = k.Make(r, AlgNone())
	if !strings.HasSuffix(proof, ".") || Decode(proof).Header["alg"] != "none" || Decode(proof).Claims["htm"] != "GET" {
		t.Errorf("alg none: %s", proof)
	}
	// A private key never reaches the evidence, whatever the proof holds.
	raw, _ := json.Marshal(jose.JSONWebKey{Key: MustKey(RS256).priv})
	var private map[string]any
	_ = json.Unmarshal(raw, &private)
	proof, _ = k.Make(r, WithHeader("jwk", private), AlgNone())
	shown := Decode(proof).String()
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if v := private[m].(string); strings.Contains(shown, v) {
			t.Errorf("the private member %s is shown: %s", m, shown)
		}
	}
}

func TestHTUDropsQueryAndFragmentOnly(t *testing.T) {
	for in, want := range map[string]string{
		"https://a.test/oauth/token":                        "https://a.test/oauth/token",
		"https://a.test:8443/me/v1/factors?take=1":          "https://a.test:8443/me/v1/factors",
		"https://a.test/me/v1/authentication-methods#x":     "https://a.test/me/v1/authentication-methods",
		"https://a.test/me/v1/authentication-methods/a%7Cb": "https://a.test/me/v1/authentication-methods/a%7Cb",
		"https://a.test/me/v1/authentication-methods/a|b?":  "https://a.test/me/v1/authentication-methods/a|b",
	} {
		if got := HTU(in); got != want {
			t.Errorf("HTU(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  []Challenge
	}{
		{[]string{`DPoP algs="ES256 RS256 PS256 EdDSA", error="invalid_dpop_proof", error_description="DPoP proof: htm \"X\""`},
			[]Challenge{{Scheme: "DPoP", Params: map[string]string{"algs": "ES256 RS256 PS256 EdDSA", "error": "invalid_dpop_proof", "error_description": `DPoP proof: htm "X"`}}}},
		{[]string{`Bearer, DPoP algs="ES256 PS256"`},
			[]Challenge{{Scheme: "Bearer", Params: map[string]string{}}, {Scheme: "DPoP", Params: map[string]string{"algs": "ES256 PS256"}}}},
		{[]string{`Bearer realm="https://a/me/", error="invalid_token", DPoP algs=ES256`},
			[]Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": "https://a/me/", "error": "invalid_token"}}, {Scheme: "DPoP", Params: map[string]string{"algs": "ES256"}}}},
		{[]string{`Bearer realm="x"`, `dpop ERROR = "use_dpop_nonce" ,algs="ES256"`},
			[]Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": "x"}}, {Scheme: "dpop", Params: map[string]string{"error": "use_dpop_nonce", "algs": "ES256"}}}},
		{[]string{`Negotiate abc==, DPoP`},
			[]Challenge{{Scheme: "Negotiate", Params: map[string]string{}, Token68: "abc=="}, {Scheme: "DPoP", Params: map[string]string{}}}},
		{[]string{``, `"not a challenge"`}, nil},
	} {
		got := ParseChallenges(c.lines)
		if len(got) != len(c.want) {
			t.Errorf("%q: %+v, want %+v", c.lines, got, c.want)
			continue
		}
		for i := range got {
			g, w := got[i], c.want[i]
			if g.Scheme != w.Scheme || g.Token68 != w.Token68 || len(g.Params) != len(w.Params) {
				t.Errorf("%q: challenge %d %+v, want %+v", c.lines, i, g, w)
				continue
			}
			for k, v := range w.Params {
				if g.Params[k] != v {
					t.Errorf("%q: challenge %d %s=%q, want %q", c.lines, i, k, g.Params[k], v)
				}
			}
		}
	}
	h := http.Header{"Www-Authenticate": {`Bearer realm="x", DPoP algs="ES256 RS256", error="use_dpop_nonce"`}, "Dpop-Nonce": {"n"}}
	if c, ok := Find(h, "dpop"); !ok || strings.Join(c.Algs(), ",") != "ES256,RS256" {
		t.Errorf("Find: %+v %v", c, ok)
	}
	for _, c := range []struct {
		status int
		h      http.Header
		body   string
		want   bool
	}{
		{401, h, "", true},
		{401, http.Header{"Www-Authenticate": {`DPoP error="invalid_dpop_proof"`}, "Dpop-Nonce": {"n"}}, "", false},
		{400, http.Header{"Dpop-Nonce": {"n"}}, `{"error":"use_dpop_nonce"}`, true},
		{400, http.Header{}, `{"error":"use_dpop_nonce"}`, false},
		{400, http.Header{"Dpop-Nonce": {"n"}}, `{"error":"invalid_dpop_proof"}`, false},
		// spa-js answers invalid_dpop_nonce as a demand too.
		{400, http.Header{"Dpop-Nonce": {"n"}}, `{"error":"invalid_dpop_nonce"}`, true},
		{401, http.Header{"Www-Authenticate": {`DPoP error="invalid_dpop_nonce"`}, "Dpop-Nonce": {"n"}}, "", true},
		{200, http.Header{"Dpop-Nonce": {"n"}}, `{}`, false},
	} {
		if got := NonceDemanded(c.status, c.h, []byte(c.body)); got != c.want {
			t.Errorf("NonceDemanded(%d, %v, %s) = %v", c.status, c.h, c.body, got)
		}
	}
}

func TestNonceKeysKeepServersApart(t *testing.T) {
	token, api := NonceKey("https://A.test/oauth/token"), NonceKey("https://a.test/me/v1/factors?x")
	if token == api || token != NonceKey("https://a.test/oauth/token") || api != NonceKey("https://a.test/me/v1/authentication-methods") ||
		NonceKey("https://b.test/oauth/token") == token {
		t.Errorf("keys %q %q", token, api)
	}
}
