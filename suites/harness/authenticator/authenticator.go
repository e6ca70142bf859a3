// Package authenticator is the virtual WebAuthn authenticator the suite signs up,
// logs in and enrolls passkeys with: descope/virtualwebauthn with the fixes and the
// tampering knobs a conformance suite needs (PROTOCOL §8).
package authenticator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/descope/virtualwebauthn"
	"github.com/fxamacker/cbor/v2"
)

// Alg is a COSE algorithm identifier as used in pubKeyCredParams.
type Alg int

// The algorithms the virtual authenticator can create credentials for.
const (
	ES256 Alg = -7
	RS256 Alg = -257
	EdDSA Alg = -8  // Ed25519, built by hand: virtualwebauthn has none
	ES384 Alg = -35 // ECDSA P-384 with SHA-384, built by hand likewise
)

func (a Alg) String() string {
	switch a {
	case ES256:
		return "ES256"
	case RS256:
		return "RS256"
	case EdDSA:
		return "EdDSA"
	case ES384:
		return "ES384"
	case -36:
		return "ES512"
	case -37:
		return "PS256"
	}
	return fmt.Sprintf("Alg(%d)", int(a))
}

// Errors a real client would raise as a DOMException; test with errors.Is.
var (
	// ErrInvalidState: excludeCredentials names a passkey this authenticator holds.
	ErrInvalidState = errors.New("InvalidStateError")
	// ErrNotAllowed: the passkey is not usable for the request options
	// (not in allowCredentials, or scoped to another RP ID).
	ErrNotAllowed = errors.New("NotAllowedError")
	// ErrSecurity: the RP ID is not the origin's host or a parent domain of it.
	ErrSecurity = errors.New("SecurityError")
)

// Authenticator is one virtual passkey authenticator (one user handle per registration).
// It is safe for use by one goroutine.
type Authenticator struct {
	aaguid   [16]byte
	passkeys []*Passkey
}

// New returns an empty authenticator with a random AAGUID.
func New() *Authenticator {
	return &Authenticator{aaguid: virtualwebauthn.NewAuthenticator().Aaguid}
}

// Passkeys returns the passkeys registered so far, oldest first.
func (a *Authenticator) Passkeys() []*Passkey { return append([]*Passkey(nil), a.passkeys...) }

// Passkey is one credential an Authenticator holds.
type Passkey struct {
	ID         []byte // credential id
	Alg        Alg
	UserHandle []byte // user.id of the creation options
	RPID       string
	Counter    uint32 // signature counter of the last assertion (0 after registration)

	cred virtualwebauthn.Credential // holds the private key (for EdDSA and ES384: a carrier key, see newCredential)
	ed   ed25519.PrivateKey         // the EdDSA key; nil for other algorithms
	p384 *ecdsa.PrivateKey          // the ES384 key; nil for other algorithms
}

// byHand says the key is not virtualwebauthn's: the responses are signed again.
func (p *Passkey) byHand() bool { return p.ed != nil || p.p384 != nil }

// PrivateKeyPKCS8 is the credential's private key (PKCS #8 DER), for handing the
// passkey to a browser's virtual authenticator.
func (p *Passkey) PrivateKeyPKCS8() []byte { return p.cred.Key.Data }

// IDString is the credential id in base64url without padding, as it appears on the wire.
func (p *Passkey) IDString() string { return b64(p.ID) }

// PublicKeyCOSE is the COSE_Key that the attestation carries.
func (p *Passkey) PublicKeyCOSE() []byte {
	if p.ed != nil {
		return okpCOSEKey(p.ed.Public().(ed25519.PublicKey))
	}
	if p.p384 != nil {
		return p384COSEKey(&p.p384.PublicKey)
	}
	return p.cred.Key.AttestationData()
}

// Sign signs sha256(authData || sha256(clientDataJSON)) with the credential key, the way
// both ceremonies do; tampering specs use it to re-sign data they changed.
func (p *Passkey) Sign(authData, clientDataJSON []byte) ([]byte, error) {
	cdh := sha256.Sum256(clientDataJSON)
	signed := append(append([]byte(nil), authData...), cdh[:]...)
	if p.ed != nil {
		return ed25519.Sign(p.ed, signed), nil // EdDSA signs the message itself, not a digest
	}
	if p.p384 != nil {
		digest := sha512.Sum384(signed)
		return ecdsa.SignASN1(rand.Reader, p.p384, digest[:])
	}
	digest := sha256.Sum256(signed)
	return p.cred.Key.Sign(digest[:])
}

// Mods tampers with one ceremony; the zero value changes nothing. Everything but Edit
// goes into signed data, and the signature is computed over the changed data.
type Mods struct {
	Challenge  []byte  // clientData challenge instead of the options' challenge
	Origin     string  // clientData origin instead of the origin argument (RP ID checks still use the argument)
	RPID       string  // RP ID used instead of the options' one (rpIdHash, passkey scope); skips the RP ID checks
	Type       string  // clientData type instead of "webauthn.create" / "webauthn.get"
	NoUP, NoUV bool    // clear the user-present / user-verified flags
	Counter    *uint32 // signed counter instead of 0 (Register) or pk.Counter+1 (Login); pk.Counter is left unchanged
	// Edit runs last on the finished JSON object, after signing: for unsigned edits
	// (signature, userHandle, ids, added or removed members).
	Edit func(response map[string]any)
}

// Register answers creation options (the inner `authn_params_public_key` JSON object) with
// an attestation response JSON object ready for authn_response. See RegisterWith.
func (a *Authenticator) Register(options []byte, origin string, alg Alg) ([]byte, *Passkey, error) {
	return a.RegisterWith(options, origin, alg, Mods{})
}

// RegisterWith is Register with tampering. It checks the options as a browser would:
// challenge, rp.name, user.{id,name,displayName} and pubKeyCredParams present (an empty
// pubKeyCredParams means ES256 and RS256); alg offered; rp.id (default: the origin's host)
// equal to or a parent of the origin's host; no excludeCredentials entry held here.
// The answer is {id, rawId, type, authenticatorAttachment:"platform",
// response:{clientDataJSON, attestationObject}} with `packed` self-attestation and
// UP, UV, BE, BS set. On success the passkey is kept for later excludeCredentials checks.
// alg is ES256, RS256, EdDSA (an OKP Ed25519 key) or ES384 (an EC2 P-384 key), the
// last two built by hand. To send an alg the
// options do not offer, rewrite their pubKeyCredParams first.
func (a *Authenticator) RegisterWith(options []byte, origin string, alg Alg, mod Mods) (response []byte, pk *Passkey, err error) {
	defer recoverInto(&err, "register", options)
	o, err := a.readCreation(options, origin, alg, mod)
	if err != nil {
		return nil, nil, err
	}
	pk, err = newPasskey(alg)
	if err != nil {
		return nil, nil, optErr("register", options, "%v", err)
	}
	pk.UserHandle, pk.RPID = o.userHandle, o.rpID
	cred := pk.cred
	if mod.Counter != nil {
		cred.Counter = *mod.Counter
	}
	if mod.Challenge != nil {
		o.challenge = mod.Challenge
	}
	rp := virtualwebauthn.RelyingParty{ID: o.rpID, Name: o.rpName, Origin: clientOrigin(origin, mod)}
	raw := virtualwebauthn.CreateAttestationResponse(rp, a.vwa(pk, mod), cred, virtualwebauthn.AttestationOptions{
		Challenge: o.challenge, RelyingPartyID: rp.ID, RelyingPartyName: rp.Name,
		UserID: string(o.userHandle), UserName: o.userName, UserDisplayName: o.displayName,
	})
	var res attestationJSON
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		return nil, nil, optErr("register", options, "virtualwebauthn output: %v", err)
	}
	res.AuthenticatorAttachment = "platform"
	if mod.Type != "" || pk.byHand() {
		if err := res.resign(pk, mod.Type); err != nil {
			return nil, nil, optErr("register", options, "%v", err)
		}
	}
	if response, err = finish(res, mod.Edit); err != nil {
		return nil, nil, optErr("register", options, "%v", err)
	}
	a.passkeys = append(a.passkeys, pk)
	return response, pk, nil
}

// Login answers request options ({challenge, rpId, timeout, userVerification, allowCredentials?})
// with an assertion JSON object. See LoginWith.
func (a *Authenticator) Login(options []byte, origin string, pk *Passkey) ([]byte, error) {
	return a.LoginWith(options, origin, pk, Mods{})
}

// LoginWith is Login with tampering. It checks the options as a browser would: challenge
// present; rpId (default: the origin's host) equal to or a parent of the origin's host and
// equal to pk.RPID; pk listed in a non-empty allowCredentials. It increments pk.Counter
// and signs it. The answer is {id, rawId, type, authenticatorAttachment:"platform",
// response:{clientDataJSON, authenticatorData, signature, userHandle}}, UP, UV, BE, BS set.
func (a *Authenticator) LoginWith(options []byte, origin string, pk *Passkey, mod Mods) (response []byte, err error) {
	defer recoverInto(&err, "login", options)
	if pk == nil {
		return nil, optErr("login", options, "no passkey given")
	}
	var o struct {
		Challenge        *string          `json:"challenge"`
		RPID             string           `json:"rpId"`
		AllowCredentials []credDescriptor `json:"allowCredentials"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, optErr("login", options, "options are not a JSON object: %v", err)
	}
	if o.Challenge == nil {
		return nil, optErr("login", options, "challenge missing")
	}
	challenge, err := unb64(*o.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, optErr("login", options, "challenge %q is not non-empty base64url without padding", *o.Challenge)
	}
	rpID, err := effectiveRPID(o.RPID, origin, mod.RPID)
	if err != nil {
		return nil, optErr("login", options, "%w", err)
	}
	if mod.RPID == "" && rpID != pk.RPID {
		return nil, optErr("login", options, "%w: passkey %s belongs to RP ID %q, options ask for %q", ErrNotAllowed, pk.IDString(), pk.RPID, rpID)
	}
	if len(o.AllowCredentials) > 0 {
		allowed := false
		for _, c := range o.AllowCredentials {
			id, err := unb64(c.ID)
			if err != nil {
				return nil, optErr("login", options, "allowCredentials id %q is not base64url without padding", c.ID)
			}
			allowed = allowed || (c.Type == "public-key" && bytes.Equal(id, pk.ID))
		}
		if !allowed {
			return nil, optErr("login", options, "%w: passkey %s is not in allowCredentials", ErrNotAllowed, pk.IDString())
		}
	}

	// virtualwebauthn never increments the counter: do it per assertion, like a real authenticator.
	cred := pk.cred
	if mod.Counter != nil {
		cred.Counter = *mod.Counter
	} else {
		pk.Counter++
		cred.Counter = pk.Counter
	}
	if mod.Challenge != nil {
		challenge = mod.Challenge
	}
	rp := virtualwebauthn.RelyingParty{ID: rpID, Origin: clientOrigin(origin, mod)}
	raw := virtualwebauthn.CreateAssertionResponse(rp, a.vwa(pk, mod), cred, virtualwebauthn.AssertionOptions{
		Challenge: challenge, RelyingPartyID: rp.ID,
	})
	var res assertionJSON
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		return nil, optErr("login", options, "virtualwebauthn output: %v", err)
	}
	res.AuthenticatorAttachment = "platform"
	if mod.Type != "" || pk.byHand() {
		if err := res.resign(pk, mod.Type); err != nil {
			return nil, optErr("login", options, "%v", err)
		}
	}
	if response, err = finish(res, mod.Edit); err != nil {
		return nil, optErr("login", options, "%v", err)
	}
	return response, nil
}

// vwa is the virtualwebauthn authenticator for one ceremony: it carries the user handle
// and the flags; a multi-device passkey has BE and BS set.
func (a *Authenticator) vwa(pk *Passkey, mod Mods) virtualwebauthn.Authenticator {
	return virtualwebauthn.Authenticator{
		Aaguid: a.aaguid,
		Options: virtualwebauthn.AuthenticatorOptions{
			UserHandle:      pk.UserHandle,
			UserNotPresent:  mod.NoUP,
			UserNotVerified: mod.NoUV,
			BackupEligible:  true,
			BackupState:     true,
		},
	}
}

// newCredential generates the key itself: virtualwebauthn encodes EC2 coordinates
// without left padding, so a coordinate with a leading zero byte (about 1 key in 128)
// would give a malformed COSE key. Only keys with two full 32-byte coordinates are used.
// virtualwebauthn has neither EdDSA nor ES384: for them, an ES256 carrier credential
// lets virtualwebauthn build the response, and resign swaps in the key and signature.
func newPasskey(alg Alg) (*Passkey, error) {
	carrier := ES256
	if alg != EdDSA && alg != ES384 {
		carrier = alg
	}
	cred, err := newCredential(carrier)
	if err != nil {
		return nil, err
	}
	pk := &Passkey{ID: cred.ID, Alg: alg, cred: cred}
	switch alg {
	case EdDSA:
		_, pk.ed, err = ed25519.GenerateKey(rand.Reader)
	case ES384:
		pk.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return pk, err
}

// newCredential is virtualwebauthn's credential of an algorithm it has.
func newCredential(alg Alg) (virtualwebauthn.Credential, error) {
	var (
		kt  virtualwebauthn.KeyType
		key any
	)
	switch alg {
	case ES256:
		kt = virtualwebauthn.KeyTypeEC2
		for {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return virtualwebauthn.Credential{}, err
			}
			pub, err := k.PublicKey.Bytes() // 0x04 || X (32) || Y (32)
			if err != nil {
				return virtualwebauthn.Credential{}, err
			}
			if pub[1] != 0 && pub[33] != 0 {
				key = k
				break
			}
		}
	case RS256:
		kt = virtualwebauthn.KeyTypeRSA
		k, err := rsa.GenerateKey(rand.Reader, 2048) // modulus is always exactly 256 bytes
		if err != nil {
			return virtualwebauthn.Credential{}, err
		}
		key = k
	default:
		return virtualwebauthn.Credential{}, fmt.Errorf("%v is not supported by the virtual authenticator (ES256, RS256, EdDSA and ES384 only)", alg)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key) // the format NewCredentialWithImportedKey parses
	if err != nil {
		return virtualwebauthn.Credential{}, err
	}
	return virtualwebauthn.NewCredentialWithImportedKey(kt, der), nil
}

// effectiveRPID is the RP ID a browser would use: the options' one, else the origin's
// host; it must be the host or a parent domain of it (origins without a host, such as
// android:apk-key-hash:…, are not checked). override skips all of that.
func effectiveRPID(fromOptions, origin, override string) (string, error) {
	if override != "" {
		return override, nil
	}
	host := ""
	if u, err := url.Parse(origin); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	rpID := strings.ToLower(fromOptions)
	if rpID == "" {
		if host == "" {
			return "", fmt.Errorf("no RP ID in the options and origin %q has no host", origin)
		}
		return host, nil
	}
	if host != "" && host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("%w: RP ID %q is not the host of origin %q or a parent domain of it", ErrSecurity, rpID, origin)
	}
	return rpID, nil
}

func clientOrigin(origin string, mod Mods) string {
	if mod.Origin != "" {
		return mod.Origin
	}
	return origin
}

type credDescriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type attestationJSON struct {
	ID                      string `json:"id"`
	RawID                   string `json:"rawId"`
	Type                    string `json:"type"`
	AuthenticatorAttachment string `json:"authenticatorAttachment"`
	Response                struct {
		ClientDataJSON    string `json:"clientDataJSON"`
		AttestationObject string `json:"attestationObject"`
	} `json:"response"`
}

type assertionJSON struct {
	ID                      string `json:"id"`
	RawID                   string `json:"rawId"`
	Type                    string `json:"type"`
	AuthenticatorAttachment string `json:"authenticatorAttachment"`
	Response                struct {
		ClientDataJSON    string `json:"clientDataJSON"`
		AuthenticatorData string `json:"authenticatorData"`
		Signature         string `json:"signature"`
		UserHandle        string `json:"userHandle"`
	} `json:"response"`
}

// clientData keeps the member order browsers use (type first).
type clientData struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	Origin    string `json:"origin"`
}

// retypeClientData changes the clientData type (unless typ is empty) and returns the
// new clientDataJSON.
func retypeClientData(encoded, typ string) ([]byte, error) {
	raw, err := unb64(encoded)
	if err != nil || typ == "" {
		return raw, err
	}
	var cd clientData
	if err := json.Unmarshal(raw, &cd); err != nil {
		return nil, err
	}
	cd.Type = typ
	return json.Marshal(cd)
}

// attestationObject is what virtualwebauthn emits: `packed` self-attestation.
type attestationObject struct {
	Fmt      string  `cbor:"fmt"`
	AttStmt  attStmt `cbor:"attStmt"`
	AuthData []byte  `cbor:"authData"`
}

type attStmt struct {
	Alg int64  `cbor:"alg"`
	Sig []byte `cbor:"sig"`
}

// resign retypes clientData (typ "" keeps it), swaps in the EdDSA public key for an
// EdDSA passkey, and signs the attestation again with the passkey's key.
func (r *attestationJSON) resign(pk *Passkey, typ string) error {
	cdj, err := retypeClientData(r.Response.ClientDataJSON, typ)
	if err != nil {
		return err
	}
	raw, err := unb64(r.Response.AttestationObject)
	if err != nil {
		return err
	}
	var ao attestationObject
	if err := cbor.Unmarshal(raw, &ao); err != nil {
		return err
	}
	if pk.byHand() {
		if ao.AuthData, err = withCredentialKey(ao.AuthData, pk.PublicKeyCOSE()); err != nil {
			return err
		}
		ao.AttStmt.Alg = int64(pk.Alg)
	}
	if ao.AttStmt.Sig, err = pk.Sign(ao.AuthData, cdj); err != nil {
		return err
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return err
	}
	if raw, err = em.Marshal(ao); err != nil {
		return err
	}
	r.Response.ClientDataJSON, r.Response.AttestationObject = b64(cdj), b64(raw)
	return nil
}

// resign retypes clientData (typ "" keeps it) and signs the assertion again.
func (r *assertionJSON) resign(pk *Passkey, typ string) error {
	cdj, err := retypeClientData(r.Response.ClientDataJSON, typ)
	if err != nil {
		return err
	}
	authData, err := unb64(r.Response.AuthenticatorData)
	if err != nil {
		return err
	}
	sig, err := pk.Sign(authData, cdj)
	if err != nil {
		return err
	}
	r.Response.ClientDataJSON, r.Response.Signature = b64(cdj), b64(sig)
	return nil
}

// withCredentialKey replaces the credential public key in authData's attested credential
// data (rpIdHash 32, flags 1, signCount 4, aaguid 16, credentialIdLength 2, credentialId,
// COSE key). virtualwebauthn writes no extensions, so the key runs to the end.
func withCredentialKey(authData, coseKey []byte) ([]byte, error) {
	const fixed = 32 + 1 + 4 + 16 + 2
	if len(authData) < fixed || authData[32]&0x40 == 0 || authData[32]&0x80 != 0 {
		return nil, fmt.Errorf("authData has no attested credential data or has extensions")
	}
	end := fixed + int(binary.BigEndian.Uint16(authData[fixed-2:fixed]))
	if len(authData) < end {
		return nil, fmt.Errorf("authData credential id is truncated")
	}
	return append(append([]byte(nil), authData[:end]...), coseKey...), nil
}

// finish marshals the response, through the Edit hook when there is one.
func finish(v any, edit func(map[string]any)) ([]byte, error) {
	out, err := json.Marshal(v)
	if err != nil || edit == nil {
		return out, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, err
	}
	edit(m)
	return json.Marshal(m)
}

// recoverInto turns a panic (virtualwebauthn panics instead of returning errors) into an
// error that quotes the server's options, which are what the failure is usually about.
func recoverInto(err *error, ceremony string, options []byte) {
	if r := recover(); r != nil {
		*err = optErr(ceremony, options, "virtual authenticator panicked: %v", r)
	}
}

// optErr formats an error about a ceremony and quotes the options (shortened).
func optErr(ceremony string, options []byte, format string, args ...any) error {
	const limit = 2000
	quoted := string(options)
	if len(quoted) > limit {
		quoted = quoted[:limit] + "…"
	}
	return fmt.Errorf("authenticator: %s: %w; options: %s", ceremony, fmt.Errorf(format, args...), quoted)
}

func containsAlg(algs []Alg, a Alg) bool {
	for _, x := range algs {
		if x == a {
			return true
		}
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
