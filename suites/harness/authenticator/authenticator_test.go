package authenticator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

const (
	testRPID   = "login.conformance.test"
	testOrigin = "https://login.conformance.test"
)

// testUser is a go-webauthn relying-party user.
type testUser struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *testUser) WebAuthnID() []byte                         { return u.id }
func (u *testUser) WebAuthnName() string                       { return "alice@conformance.test" }
func (u *testUser) WebAuthnDisplayName() string                { return "Alice" }
func (u *testUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func newRP(t *testing.T) *webauthn.WebAuthn {
	t.Helper()
	rp, err := webauthn.New(&webauthn.Config{RPID: testRPID, RPDisplayName: "Conformance", RPOrigins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func newUser(n byte) *testUser { return &testUser{id: bytes.Repeat([]byte{n + 1}, 16)} }

// creationOptions are the inner creation options go-webauthn would send, with UV and a
// resident key required, as the My Account API asks.
func creationOptions(t *testing.T, rp *webauthn.WebAuthn, u *testUser, opts ...webauthn.RegistrationOption) ([]byte, *webauthn.SessionData) {
	t.Helper()
	opts = append([]webauthn.RegistrationOption{webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
		ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired,
	})}, opts...)
	creation, session, err := rp.BeginRegistration(u, opts...)
	if err != nil {
		t.Fatal(err)
	}
	options, err := json.Marshal(creation.Response)
	if err != nil {
		t.Fatal(err)
	}
	return options, session
}

func requestOptions(t *testing.T, rp *webauthn.WebAuthn, u *testUser) ([]byte, *webauthn.SessionData) {
	t.Helper()
	assertion, session, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		t.Fatal(err)
	}
	options, err := json.Marshal(assertion.Response)
	if err != nil {
		t.Fatal(err)
	}
	return options, session
}

// register runs one registration and has go-webauthn verify it.
func register(t *testing.T, rp *webauthn.WebAuthn, a *Authenticator, u *testUser, alg Alg) (*Passkey, *webauthn.Credential, error) {
	t.Helper()
	options, session := creationOptions(t, rp, u)
	resp, pk, err := a.Register(options, testOrigin, alg)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		return pk, nil, err
	}
	cred, err := rp.CreateCredential(u, *session, parsed)
	return pk, cred, err
}

func login(t *testing.T, rp *webauthn.WebAuthn, a *Authenticator, u *testUser, pk *Passkey, mod Mods) (*webauthn.Credential, error) {
	t.Helper()
	options, session := requestOptions(t, rp, u)
	resp, err := a.LoginWith(options, testOrigin, pk, mod)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		return nil, err
	}
	return rp.ValidateLogin(u, *session, parsed)
}

func TestAuthenticatorRegisterLogin(t *testing.T) {
	rp := newRP(t) // go-webauthn's default pubKeyCredParams offer EdDSA (-8) too
	for _, alg := range []Alg{ES256, RS256, EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			a, u := New(), newUser(0)
			pk, cred, err := register(t, rp, a, u, alg)
			if err != nil {
				t.Fatalf("registration rejected: %v", err)
			}
			if !bytes.Equal(cred.ID, pk.ID) || !bytes.Equal(cred.PublicKey, pk.PublicKeyCOSE()) || pk.RPID != testRPID || !bytes.Equal(pk.UserHandle, u.id) {
				t.Fatalf("passkey %+v does not match the RP's credential %+v", pk, cred)
			}
			if !cred.Flags.UserPresent || !cred.Flags.UserVerified || !cred.Flags.BackupEligible || !cred.Flags.BackupState {
				t.Fatalf("flags %+v: want UP, UV, BE, BS", cred.Flags)
			}
			u.creds = append(u.creds, *cred)
			if _, err := login(t, rp, a, u, pk, Mods{}); err != nil {
				t.Fatalf("assertion rejected: %v", err)
			}
		})
	}
}

func TestAuthenticatorWireShape(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser(0)
	options, session := creationOptions(t, rp, u)
	resp, pk, err := a.Register(options, testOrigin, ES256)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.CreateCredential(u, *session, parsed)
	if err != nil {
		t.Fatal(err)
	}
	u.creds = append(u.creds, *cred)
	want := `{"id":"ID","rawId":"ID","type":"public-key","authenticatorAttachment":"platform","response":{"clientDataJSON":"X","attestationObject":"X"}}`
	checkShape(t, resp, pk, want)

	options, _ = requestOptions(t, rp, u)
	resp, err = a.Login(options, testOrigin, pk)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"id":"ID","rawId":"ID","type":"public-key","authenticatorAttachment":"platform","response":{"clientDataJSON":"X","authenticatorData":"X","signature":"X","userHandle":"X"}}`
	checkShape(t, resp, pk, want)
}

// checkShape compares a response with want after replacing the id with ID and every other
// string with X; it also rejects padded or non-url base64.
func checkShape(t *testing.T, resp []byte, pk *Passkey, want string) {
	t.Helper()
	if bytes.ContainsAny(resp, "=+/") {
		t.Errorf("not base64url without padding: %s", resp)
	}
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "rawId"} {
		if m[k] != pk.IDString() {
			t.Errorf("%s = %v, want %s", k, m[k], pk.IDString())
		}
		m[k] = "ID"
	}
	r := m["response"].(map[string]any)
	for k := range r {
		r[k] = "X"
	}
	got, _ := json.Marshal(m)
	var w map[string]any
	_ = json.Unmarshal([]byte(want), &w)
	wantNorm, _ := json.Marshal(w)
	if !bytes.Equal(got, wantNorm) {
		t.Errorf("shape\n got %s\nwant %s", got, wantNorm)
	}
}

// Without the padding fix about 1 ES256 key in 128 has a short coordinate and is rejected.
func TestAuthenticatorManyES256Registrations(t *testing.T) {
	rp, a := newRP(t), New()
	for i := 0; i < 300; i++ {
		if _, _, err := register(t, rp, a, newUser(byte(i)), ES256); err != nil {
			t.Fatalf("registration %d rejected: %v", i, err)
		}
	}
}

func TestAuthenticatorCounterIncreases(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser(0)
	pk, cred, err := register(t, rp, a, u, ES256)
	if err != nil {
		t.Fatal(err)
	}
	u.creds = []webauthn.Credential{*cred}
	last := cred.Authenticator.SignCount
	for i := 0; i < 5; i++ {
		got, err := login(t, rp, a, u, pk, Mods{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Authenticator.SignCount <= last || got.Authenticator.CloneWarning || got.Authenticator.SignCount != pk.Counter {
			t.Fatalf("login %d: count %d after %d (passkey %d, clone warning %v)", i, got.Authenticator.SignCount, last, pk.Counter, got.Authenticator.CloneWarning)
		}
		last = got.Authenticator.SignCount
		u.creds = []webauthn.Credential{*got}
	}
	// A replayed counter (Mods.Counter) leaves pk.Counter alone and is flagged.
	replay := pk.Counter
	got, err := login(t, rp, a, u, pk, Mods{Counter: &replay})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Authenticator.CloneWarning || pk.Counter != replay {
		t.Fatalf("replayed counter %d: clone warning %v, passkey counter %d", replay, got.Authenticator.CloneWarning, pk.Counter)
	}
}

func TestAuthenticatorOptionErrors(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser(0)
	pk, cred, err := register(t, rp, a, u, ES256)
	if err != nil {
		t.Fatal(err)
	}
	u.creds = []webauthn.Credential{*cred}
	options, _ := creationOptions(t, rp, u)

	t.Run("unoffered alg", func(t *testing.T) {
		only := edit(t, options, func(m map[string]any) {
			m["pubKeyCredParams"] = []any{map[string]any{"type": "public-key", "alg": -8}, map[string]any{"type": "public-key", "alg": -7}}
		})
		_, _, err := a.Register(only, testOrigin, RS256)
		if err == nil || !strings.Contains(err.Error(), "[EdDSA ES256]") {
			t.Fatalf("err = %v, want one naming the offered algs", err)
		}
		if _, _, err := a.Register(only, testOrigin, ES256); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("excludeCredentials", func(t *testing.T) {
		excl, _ := creationOptions(t, rp, u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
		_, _, err := a.Register(excl, testOrigin, ES256)
		if !errors.Is(err, ErrInvalidState) || !strings.Contains(err.Error(), pk.IDString()) {
			t.Fatalf("err = %v, want ErrInvalidState naming %s", err, pk.IDString())
		}
		// Another authenticator does not hold the passkey.
		if _, _, err := New().Register(excl, testOrigin, ES256); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("allowCredentials", func(t *testing.T) {
		req, _ := requestOptions(t, rp, u)
		other := *pk
		other.ID = []byte("another credential")
		if _, err := a.Login(req, testOrigin, &other); !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("err = %v, want ErrNotAllowed", err)
		}
	})
	t.Run("rp id", func(t *testing.T) {
		foreign := edit(t, options, func(m map[string]any) { m["rp"].(map[string]any)["id"] = "tenant.conformance.test" })
		if _, _, err := a.Register(foreign, testOrigin, ES256); !errors.Is(err, ErrSecurity) {
			t.Fatalf("err = %v, want ErrSecurity", err)
		}
		// Missing rp.id: the origin's host.
		derived := edit(t, options, func(m map[string]any) { delete(m["rp"].(map[string]any), "id") })
		if _, pk, err := a.Register(derived, testOrigin, ES256); err != nil || pk.RPID != testRPID {
			t.Fatalf("derived rp id: %v %v", pk, err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, o := range [][]byte{
			edit(t, options, func(m map[string]any) { m["challenge"] = "not base64url!" }),
			edit(t, options, func(m map[string]any) { delete(m, "challenge") }),
			edit(t, options, func(m map[string]any) { delete(m, "pubKeyCredParams") }),
			edit(t, options, func(m map[string]any) { m["user"] = 7 }),
			[]byte(`null`), []byte(`"string"`), nil,
		} {
			if _, _, err := a.Register(o, testOrigin, ES256); err == nil || !strings.Contains(err.Error(), "options: "+string(o)) {
				t.Errorf("options %s: err = %v, want one quoting the options", o, err)
			}
		}
		req, _ := requestOptions(t, rp, u)
		for _, o := range [][]byte{
			edit(t, req, func(m map[string]any) { m["challenge"] = "padded=" }),
			edit(t, req, func(m map[string]any) { delete(m, "challenge") }),
			[]byte(`null`), []byte(`[]`), nil,
		} {
			if _, err := a.Login(o, testOrigin, pk); err == nil || !strings.Contains(err.Error(), "options: "+string(o)) {
				t.Errorf("login options %s: err = %v, want one quoting the options", o, err)
			}
		}
	})
	t.Run("panic", func(t *testing.T) {
		// A key virtualwebauthn cannot parse makes it panic while signing.
		broken := *pk
		broken.cred.Key = &virtualwebauthn.Key{Type: virtualwebauthn.KeyTypeEC2, Data: []byte("garbage")}
		req, _ := requestOptions(t, rp, u)
		_, err := a.Login(req, testOrigin, &broken)
		if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), string(req)) {
			t.Fatalf("err = %v, want a recovered panic quoting the options", err)
		}
	})
}

func TestAuthenticatorMods(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser(0)
	pk, cred, err := register(t, rp, a, u, ES256)
	if err != nil {
		t.Fatal(err)
	}
	u.creds = []webauthn.Credential{*cred}
	for name, c := range map[string]struct {
		mod  Mods
		want string // in go-webauthn's error
	}{
		"type":      {Mods{Type: "webauthn.create"}, "type"},
		"challenge": {Mods{Challenge: []byte("another challenge of 32 bytes...")}, "challenge"},
		"origin":    {Mods{Origin: "https://evil.conformance.test"}, "origin"},
		"rp id":     {Mods{RPID: "tenant.conformance.test"}, "RP Hash"},
		"no UV":     {Mods{NoUV: true}, "verif"},
		"no UP":     {Mods{NoUP: true}, "presence"},
		"signature": {Mods{Edit: func(m map[string]any) { m["response"].(map[string]any)["signature"] = "AAAA" }}, "ignature"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := login(t, rp, a, u, pk, c.mod)
			if err == nil {
				t.Fatal("tampered assertion accepted")
			}
			if pe := (*protocol.Error)(nil); errors.As(err, &pe) {
				err = errors.New(pe.Details + " " + pe.DevInfo)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.want)) {
				t.Fatalf("err = %v, want one about %q", err, c.want)
			}
		})
	}

	// Signed-data edits are re-signed: the signature still verifies.
	options, _ := requestOptions(t, rp, u)
	resp, err := a.LoginWith(options, testOrigin, pk, Mods{Type: "webauthn.create"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	checkSig(t, pk, parsed.Raw.AssertionResponse.AuthenticatorData, parsed.Raw.AssertionResponse.ClientDataJSON, parsed.Response.Signature)
	if parsed.Response.CollectedClientData.Type != "webauthn.create" {
		t.Fatalf("clientData type %q", parsed.Response.CollectedClientData.Type)
	}

	options, _ = creationOptions(t, rp, newUser(1))
	resp, pk2, err := New().RegisterWith(options, testOrigin, ES256, Mods{Type: "webauthn.get"})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	checkSig(t, pk2, pc.Response.AttestationObject.RawAuthData, pc.Raw.AttestationResponse.ClientDataJSON, pc.Response.AttestationObject.AttStatement["sig"].([]byte))
}

func checkSig(t *testing.T, pk *Passkey, authData, clientDataJSON, sig []byte) {
	t.Helper()
	key, err := webauthncose.ParsePublicKey(pk.PublicKeyCOSE())
	if err != nil {
		t.Fatal(err)
	}
	cdh := sha256.Sum256(clientDataJSON)
	if ok, err := webauthncose.VerifySignature(key, append(append([]byte(nil), authData...), cdh[:]...), sig); !ok {
		t.Fatalf("re-signed data does not verify: %v", err)
	}
}

func edit(t *testing.T, options []byte, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(options, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EdDSA is built by hand (virtualwebauthn has none): an OKP Ed25519 COSE key, refused
// when -8 is not offered, and refused by the RP when its session does not offer it.
func TestAuthenticatorEdDSA(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser(0)
	pk, cred, err := register(t, rp, a, u, EdDSA)
	if err != nil {
		t.Fatalf("EdDSA registration rejected: %v", err)
	}
	key, err := webauthncose.ParsePublicKey(pk.PublicKeyCOSE())
	if err != nil {
		t.Fatal(err)
	}
	okp, ok := key.(webauthncose.OKPPublicKeyData)
	if !ok || okp.Algorithm != int64(EdDSA) || okp.KeyType != int64(webauthncose.OctetKey) || len(okp.XCoord) != 32 {
		t.Fatalf("COSE key %+v: want OKP, alg -8, 32-byte x", key)
	}
	if pk.Alg != EdDSA || cred.AttestationFormat != "packed" {
		t.Fatalf("passkey alg %v, attestation format %q", pk.Alg, cred.AttestationFormat)
	}
	u.creds = append(u.creds, *cred)
	if _, err := login(t, rp, a, u, pk, Mods{}); err != nil {
		t.Fatalf("EdDSA assertion rejected: %v", err)
	}
	if _, err := login(t, rp, a, u, pk, Mods{NoUV: true}); err == nil {
		t.Fatal("EdDSA assertion without UV accepted by an RP that requires UV")
	}

	options, _ := creationOptions(t, rp, newUser(1))
	notOffered := edit(t, options, func(m map[string]any) {
		m["pubKeyCredParams"] = []any{map[string]any{"type": "public-key", "alg": -7}, map[string]any{"type": "public-key", "alg": -257}}
	})
	if _, _, err := a.Register(notOffered, testOrigin, EdDSA); err == nil || !strings.Contains(err.Error(), "EdDSA (-8) not offered") {
		t.Fatalf("EdDSA not offered: err = %v", err)
	}
	// A tampering client sends it anyway: an RP whose session offered only -7, -257 refuses it.
	expectRefusedUnoffered(t, rp, a, EdDSA, webauthncose.AlgES256, webauthncose.AlgRS256)
}

// expectRefusedUnoffered registers a credential of alg against options that offer
// it, and expects an RP whose session offered only offered to refuse it.
func expectRefusedUnoffered(t *testing.T, rp *webauthn.WebAuthn, a *Authenticator, alg Alg, offered ...webauthncose.COSEAlgorithmIdentifier) {
	t.Helper()
	options, session := creationOptions(t, rp, newUser(1))
	resp, _, err := a.Register(options, testOrigin, alg)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	session.CredParams = nil
	for _, o := range offered {
		session.CredParams = append(session.CredParams, protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: o})
	}
	if _, err := rp.CreateCredential(newUser(1), *session, parsed); err == nil {
		t.Fatalf("RP accepted a %v credential it did not offer", alg)
	}
}

// ES384 is built by hand too: an EC2 P-384 COSE key signed with SHA-384, which an RP
// that offers -35 verifies, and refuses when its session offered only Auth0's -8,
// -7 and -257.
func TestAuthenticatorES384(t *testing.T) {
	rp, a, u := newRP(t), New(), newUser(0)
	pk, cred, err := register(t, rp, a, u, ES384)
	if err != nil {
		t.Fatalf("ES384 registration rejected: %v", err)
	}
	key, err := webauthncose.ParsePublicKey(pk.PublicKeyCOSE())
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := key.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Algorithm != int64(ES384) || ec.Curve != 2 || len(ec.XCoord) != 48 || len(ec.YCoord) != 48 {
		t.Fatalf("COSE key %+v: want EC2, alg -35, P-384, 48-byte coordinates", key)
	}
	u.creds = append(u.creds, *cred)
	if _, err := login(t, rp, a, u, pk, Mods{}); err != nil {
		t.Fatalf("ES384 assertion rejected: %v", err)
	}
	expectRefusedUnoffered(t, rp, a, ES384, webauthncose.AlgEdDSA, webauthncose.AlgES256, webauthncose.AlgRS256)
}
