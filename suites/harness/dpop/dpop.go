// Package dpop holds the suite's DPoP keys and builds the proofs it sends (RFC 9449):
// a proof is a JWT signed with go-jose by the client's own key, its public key in the
// header, naming the request it is for (htm, htu), when it was made (iat), a unique
// jti, the hash of the access token it accompanies (ath) and the server's nonce when
// the server asked for one. Options change a proof before (or after) it is signed,
// for the specs that check a target refuses wrong proofs.
package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Type is the typ of a DPoP proof (RFC 9449 §4.2).
const Type = "dpop+jwt"

// Key is a client's DPoP key pair. The private key never leaves it: proofs carry the
// public key only, and nothing prints a Key.
type Key struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	pub  jose.JSONWebKey
	jkt  string
}

// Alg is a JWS signature algorithm.
type Alg = jose.SignatureAlgorithm

// Algorithms the suite makes keys for: ES256 is what clients use (every vendor SDK
// makes P-256 keys); the others are tested where the target lists them (RFC 9449
// §4.2 allows any asymmetric algorithm the server accepts).
const (
	ES256 = jose.ES256
	RS256 = jose.RS256
	PS256 = jose.PS256
	EdDSA = jose.EdDSA
)

// Supported says the suite makes keys for alg.
func Supported(alg string) bool {
	switch jose.SignatureAlgorithm(alg) {
	case ES256, RS256, PS256, EdDSA:
		return true
	}
	return false
}

// NewKey generates a key for alg (ES256, RS256 or PS256 with 2048 bits, EdDSA Ed25519).
func NewKey(alg jose.SignatureAlgorithm) (*Key, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256, PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("dpop: no keys for %s", alg)
	}
	if err != nil {
		return nil, err
	}
	k := &Key{alg: alg, priv: priv, pub: jose.JSONWebKey{Key: priv.Public()}}
	sum, err := k.pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	k.jkt = base64.RawURLEncoding.EncodeToString(sum)
	return k, nil
}

// MustKey is NewKey for keys the suite cannot do without.
func MustKey(alg jose.SignatureAlgorithm) *Key {
	k, err := NewKey(alg)
	if err != nil {
		panic(err)
	}
	return k
}

// Alg is the key's signature algorithm.
func (k *Key) Alg() string { return string(k.alg) }

// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key, base64url: what a
// token bound to the key carries as cnf.jkt (RFC 9449 §6.1).
func (k *Key) Thumbprint() string { return k.jkt }

// String names the key without its material.
func (k *Key) String() string { return k.Alg() + " key " + k.jkt }

// ATH is the ath claim for an access token: base64url(SHA-256(token)) (RFC 9449 §4.2).
func ATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// HTU is the htu claim for a request URL: the URL without query and fragment
// (RFC 9449 §4.2), its path exactly as the request sends it (passkey|new stays so).
func HTU(rawURL string) string {
	s, _, _ := strings.Cut(rawURL, "#")
	s, _, _ = strings.Cut(s, "?")
	return s
}

// Proof is a proof before it is signed: its JOSE header and its claims. A nil value
// leaves the member out.
type Proof struct {
	Header map[string]any
	Claims map[string]any
	// Signer signs the proof (the key whose public key is in the header unless an
	// option changes the header).
	Signer *Key
	// after changes the compact serialization once signed.
	after []func(string) string
	// unsigned: alg none, no signature.
	unsigned bool
	// FixedNonce: the options chose the nonce (or none), so a demand for another
	// must not be answered by making the proof again with the server's.
	FixedNonce bool
}

// Option changes a proof.
type Option func(*Proof)

// WithClaim sets a claim (nil removes it).
func WithClaim(name string, v any) Option {
	return func(p *Proof) {
		p.Claims[name] = v
		if name == "nonce" {
			p.FixedNonce = true
		}
	}
}

// WithHeader sets a header member (nil removes it).
func WithHeader(name string, v any) Option { return func(p *Proof) { p.Header[name] = v } }

// SignedBy signs with another key while the header keeps the public key it had: a
// signature that does not verify with the jwk of the header.
func SignedBy(other *Key) Option { return func(p *Proof) { p.Signer = other } }

// WithKey makes the proof another key's: its public key in the header, signed by it.
func WithKey(other *Key) Option {
	return func(p *Proof) { p.Signer, p.Header["jwk"] = other, other.pub }
}

// BadSignature changes the signature after signing.
func BadSignature() Option {
	return func(p *Proof) {
		p.after = append(p.after, func(s string) string {
			i := strings.LastIndexByte(s, '.')
			sig, err := base64.RawURLEncoding.DecodeString(s[i+1:])
			if err != nil || len(sig) == 0 {
				return s
			}
			sig[len(sig)/2] ^= 0x01
			return s[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
		})
	}
}

// AlgNone sends the proof unsigned, alg none (RFC 7519 §6).
func AlgNone() Option { return func(p *Proof) { p.unsigned = true } }

// PrivateJWK puts the whole key pair in the header's jwk, private part included.
func PrivateJWK() Option {
	return func(p *Proof) { p.Header["jwk"] = jose.JSONWebKey{Key: p.Signer.priv} }
}

// WithoutNonce leaves the nonce out even when the server asked for one.
func WithoutNonce() Option { return WithClaim("nonce", nil) }

// Request is what a proof is made for.
type Request struct {
	Method string
	URL    string
	// AccessToken is the token the proof accompanies ("" at the token endpoint).
	AccessToken string
	// Nonce is the server's nonce, if it gave one.
	Nonce string
}

// New is the proof k makes for r, before options apply.
func (k *Key) New(r Request) (*Proof, error) {
	htu := HTU(r.URL)
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	p := &Proof{
		Header: map[string]any{"typ": Type, "jwk": k.pub},
		Claims: map[string]any{"jti": base64.RawURLEncoding.EncodeToString(jti), "htm": r.Method, "htu": htu, "iat": time.Now().Unix()},
		Signer: k,
	}
	if r.AccessToken != "" {
		p.Claims["ath"] = ATH(r.AccessToken)
	}
	if r.Nonce != "" {
		p.Claims["nonce"] = r.Nonce
	}
	return p, nil
}

// Sign applies opts and serializes the proof (compact JWS).
func (p *Proof) Sign(opts ...Option) (string, error) {
	for _, o := range opts {
		o(p)
	}
	claims := map[string]any{}
	for name, v := range p.Claims {
		if v != nil {
			claims[name] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	var out string
	if p.unsigned {
		h := map[string]any{"alg": "none"}
		for name, v := range p.Header {
			if v != nil {
				h[name] = v
			}
		}
		hb, err := json.Marshal(h)
		if err != nil {
			return "", err
		}
		out = base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	} else {
		so := &jose.SignerOptions{}
		for name, v := range p.Header {
			if v != nil {
				so.WithHeader(jose.HeaderKey(name), v)
			}
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: p.Signer.alg, Key: p.Signer.priv}, so)
		if err != nil {
			return "", err
		}
		obj, err := signer.Sign(payload)
		if err != nil {
			return "", err
		}
		if out, err = obj.CompactSerialize(); err != nil {
			return "", err
		}
	}
	for _, f := range p.after {
		out = f(out)
	}
	return out, nil
}

// Make is New then Sign.
func (k *Key) Make(r Request, opts ...Option) (string, error) {
	p, err := k.New(r)
	if err != nil {
		return "", err
	}
	return p.Sign(opts...)
}

// Decoded is a proof as the evidence shows it: its header and claims, without the
// signature and without any private key material.
type Decoded struct {
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
	// Note says what the evidence left out or could not read.
	Note string `json:"note,omitempty"`
}

// privateMembers are the JWK members that carry private key material (RFC 7518 §6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// PrivateRemoved replaces private key material in a decoded jwk.
const PrivateRemoved = "(private key material: not shown)"

// Decode reads a proof's header and claims for the evidence. Private key members of
// the header's jwk are replaced by PrivateRemoved, so a report never holds one.
func Decode(proof string) Decoded {
	parts := strings.Split(strings.TrimSpace(proof), ".")
	if len(parts) != 3 {
		return Decoded{Note: "not a JWT in compact serialization"}
	}
	var d Decoded
	for i, dst := range []*map[string]any{&d.Header, &d.Claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, dst) != nil {
			d.Note = "a part is not base64url-encoded JSON"
			continue
		}
	}
	if jwk, ok := d.Header["jwk"].(map[string]any); ok {
		for _, m := range privateMembers {
			if _, ok := jwk[m]; ok {
				jwk[m] = PrivateRemoved
			}
		}
	}
	return d
}

// String shows the header and the claims a line each.
func (d Decoded) String() string {
	h, _ := json.Marshal(d.Header)
	c, _ := json.Marshal(d.Claims)
	s := "header " + string(h) + "\nclaims " + string(c)
	if d.Note != "" {
		s += "\n(" + d.Note + ")"
	}
	return s
}

// NonceKey is where a client keeps the nonce a server last gave (RFC 9449 §8, §9):
// per host, the authorization server's (anything but /me/) apart from the My Account
// API's, since nonces are only accepted by the server that issued them (§9).
func NonceKey(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	server := "authorization server"
	if strings.HasPrefix(u.Path, "/me/") {
		server = "resource server"
	}
	return strings.ToLower(u.Host) + " " + server
}
