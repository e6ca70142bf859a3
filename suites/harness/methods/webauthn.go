package methods

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/oob"
)

// PasskeyDriver: a discoverable WebAuthn credential, the first factor. The 202 has
// creation options and no id (the Location names the enrollment, passkey|new at
// Auth0); the virtual authenticator answers them.
type PasskeyDriver struct {
	env Env
	// Alg is the credential algorithm the proofs use (ES256 unless set).
	Alg authenticator.Alg
}

// Type implements Driver.
func (d *PasskeyDriver) Type() string { return Passkey }

// Primary implements Driver.
func (d *PasskeyDriver) Primary() bool { return true }

// Enrollable implements Driver.
func (d *PasskeyDriver) Enrollable() bool { return true }

// Unavailable implements Driver.
func (d *PasskeyDriver) Unavailable() string { return "" }

// Flow implements Driver.
func (d *PasskeyDriver) Flow() Flow { return FlowPasskey }

// Secrets implements Driver.
func (d *PasskeyDriver) Secrets(*Started, Proof) []string { return nil }

// Seed implements Driver.
func (d *PasskeyDriver) Seed(context.Context, User) (map[string]any, Proof, error) {
	return nil, Proof{}, ErrNotSeedable
}

// StartBody implements Driver.
func (d *PasskeyDriver) StartBody(User) map[string]any { return map[string]any{"type": Passkey} }

// documentedAlgs are the algorithms the vendor's register page offers (PROTOCOL §9).
var documentedAlgs = []int{int(authenticator.EdDSA), int(authenticator.ES256), int(authenticator.RS256)}

// CreationOptions is what the suite reads of WebAuthn creation options.
type CreationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	Timeout                int `json:"timeout"`
	AuthenticatorSelection struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	ExcludeCredentials []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"excludeCredentials"`
}

// ParseCreationOptions reads creation options.
func ParseCreationOptions(raw []byte) (CreationOptions, error) {
	var o CreationOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		return o, fmt.Errorf("authn_params_public_key is not a JSON object: %w", err)
	}
	return o, nil
}

// MinChallengeBytes is the least randomness a challenge carries (WebAuthn §13.4.3).
const MinChallengeBytes = 16

// CheckChallenge checks a challenge is base64url without padding of at least 16 bytes.
func CheckChallenge(ch string) error {
	b, err := base64.RawURLEncoding.DecodeString(ch)
	if err != nil {
		return fmt.Errorf("challenge %q is not base64url without padding", ch)
	}
	if len(b) < MinChallengeBytes {
		return fmt.Errorf("the challenge carries %d bytes, fewer than %d", len(b), MinChallengeBytes)
	}
	return nil
}

// RPIDFits says an rp.id is acceptable for passkeys bound to host: absent (the
// origin's host), the host itself, or a parent domain of it (Auth0 lets the RP ID be
// a parent of the custom domain).
func RPIDFits(rpID, host string) bool {
	rpID, host = strings.ToLower(rpID), strings.ToLower(host)
	return rpID == "" || rpID == host || (strings.Contains(rpID, ".") && strings.HasSuffix(host, "."+rpID))
}

// CheckStarted implements Driver: the passkey options as documented (PROTOCOL §3):
// a challenge of at least 16 bytes, rp and user, ES256 and RS256 offered and only
// documented algorithms, residentKey required.
func (d *PasskeyDriver) CheckStarted(s *Started) error {
	var problems []string
	if s.Location == "" {
		problems = append(problems, "no Location header: clients take the method id from it")
	}
	if s.AuthSession() == "" {
		problems = append(problems, "no auth_session")
	}
	raw := s.Options()
	if len(raw) == 0 {
		return errors.New("no authn_params_public_key (the creation options)")
	}
	o, err := ParseCreationOptions(raw)
	if err != nil {
		return err
	}
	if err := CheckChallenge(o.Challenge); err != nil {
		problems = append(problems, err.Error())
	}
	if host := d.env.Target.RPHost(); !RPIDFits(o.RP.ID, host) {
		problems = append(problems, fmt.Sprintf("rp.id %q is neither %s nor a parent domain of it", o.RP.ID, host))
	}
	if o.User.ID == "" {
		problems = append(problems, "no user.id")
	}
	var algs []int
	for _, p := range o.PubKeyCredParams {
		if p.Type != "public-key" {
			problems = append(problems, fmt.Sprintf("pubKeyCredParams has type %q", p.Type))
		}
		if !slices.Contains(documentedAlgs, p.Alg) {
			problems = append(problems, fmt.Sprintf("pubKeyCredParams offers alg %d; the documented ones are %v", p.Alg, documentedAlgs))
		}
		algs = append(algs, p.Alg)
	}
	if !slices.Contains(algs, int(authenticator.ES256)) || !slices.Contains(algs, int(authenticator.RS256)) {
		problems = append(problems, fmt.Sprintf("pubKeyCredParams offers %v; it must offer ES256 (-7) and RS256 (-257)", algs))
	}
	if o.AuthenticatorSelection.ResidentKey != "required" {
		problems = append(problems, fmt.Sprintf("authenticatorSelection.residentKey is %q: passkeys are discoverable, it must be \"required\"", o.AuthenticatorSelection.ResidentKey))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Proof implements Driver: a second device answers the options (the user's own
// authenticator holds the signup passkey, which excludeCredentials names).
func (d *PasskeyDriver) Proof(_ context.Context, _ User, s *Started) (Proof, error) {
	a := authenticator.New()
	att, pk, err := a.Register(s.Options(), d.env.Target.WebAuthn.Origin, d.Alg)
	if err != nil {
		return Proof{}, fmt.Errorf("the virtual authenticator could not answer the creation options: %w", err)
	}
	return Proof{Body: attestationBody(s, att), Passkey: pk, Authn: a}, nil
}

// WrongProof implements Driver: an attestation signed over another challenge.
func (d *PasskeyDriver) WrongProof(_ context.Context, _ User, s *Started) (map[string]any, error) {
	att, _, err := authenticator.New().RegisterWith(s.Options(), d.env.Target.WebAuthn.Origin, d.Alg, authenticator.Mods{Challenge: RandomBytes(32)})
	if err != nil {
		return nil, fmt.Errorf("the virtual authenticator could not answer the creation options: %w", err)
	}
	return attestationBody(s, att), nil
}

// noForeignPasskey is why a passkey has no foreign proof of its own.
const noForeignPasskey = "an attestation answering another enrollment's options is one over another challenge, which the wrong proof already is"

// Lacks implements Driver.
func (d *PasskeyDriver) Lacks(kind ProofKind) string {
	switch kind {
	case ForeignKind:
		return noForeignPasskey
	case OtherPathKind:
		return "every pending passkey enrollment has the same Location (passkey|new): the auth_session alone says which is verified"
	}
	return ""
}

// ForeignProof implements Driver.
func (d *PasskeyDriver) ForeignProof(context.Context, User, *Started, *Started) (map[string]any, error) {
	return nil, noSuchProof(noForeignPasskey)
}

// Again implements Driver: another device answers the same options.
func (d *PasskeyDriver) Again(ctx context.Context, u User, s *Started, _ Proof) (map[string]any, error) {
	p, err := d.Proof(ctx, u, s)
	return p.Body, err
}

// Expires implements Driver: the options state a timeout.
func (d *PasskeyDriver) Expires() bool { return true }

// Lifetime implements Driver: the options' timeout.
func (d *PasskeyDriver) Lifetime(s *Started) (time.Duration, string) {
	return OptionsTimeout(s.Options())
}

// OptionsTimeout is the lifetime WebAuthn options state (their timeout), or 0 and why not.
func OptionsTimeout(raw []byte) (time.Duration, string) {
	var o struct {
		Timeout int `json:"timeout"`
	}
	_ = json.Unmarshal(raw, &o)
	if o.Timeout <= 0 {
		return 0, "the WebAuthn options state no timeout"
	}
	return time.Duration(o.Timeout) * time.Millisecond, ""
}

// CheckMethod implements Driver: the passkey's documented fields describe the
// credential the authenticator created.
func (d *PasskeyDriver) CheckMethod(_ *Started, p Proof, m map[string]any) error {
	if err := CheckCommon(Passkey, m); err != nil {
		return err
	}
	var problems []string
	if id := str(m, "id"); !strings.HasPrefix(id, "passkey|") {
		problems = append(problems, fmt.Sprintf("id %q does not start with passkey|", id))
	}
	pk := p.Passkey
	if got := str(m, "key_id"); got != pk.IDString() {
		problems = append(problems, fmt.Sprintf("key_id is %q, the credential id is %q", got, pk.IDString()))
	}
	if got, want := str(m, "user_handle"), base64.RawURLEncoding.EncodeToString(pk.UserHandle); got != want {
		problems = append(problems, fmt.Sprintf("user_handle is %q, the options' user.id is %q", got, want))
	}
	// The virtual authenticator reports a backup-eligible, backed-up credential.
	if m["credential_device_type"] != "multi_device" || m["credential_backed_up"] != true {
		problems = append(problems, fmt.Sprintf("credential_device_type %v, credential_backed_up %v: the authenticator reported a backed-up multi-device credential", m["credential_device_type"], m["credential_backed_up"]))
	}
	if err := SameCOSEKey(m["public_key"], pk.PublicKeyCOSE()); err != nil {
		problems = append(problems, err.Error())
	}
	if rp, ok := m["relying_party_id"].(string); ok && !RPIDFits(rp, d.env.Target.RPHost()) {
		problems = append(problems, fmt.Sprintf("relying_party_id %q is not the RP ID of %s", rp, d.env.Target.RPHost()))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func attestationBody(s *Started, att []byte) map[string]any {
	return map[string]any{"auth_session": s.AuthSession(), "authn_response": json.RawMessage(att)}
}

// SameCOSEKey compares a standard-base64 COSE key the target returned with the
// authenticator's, as CBOR maps (encodings may order keys differently).
func SameCOSEKey(got any, want []byte) error {
	s, ok := got.(string)
	if !ok {
		return errors.New("public_key must be a string")
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return errors.New("public_key must be standard base64")
	}
	var g, w map[int]any
	if err := cbor.Unmarshal(raw, &g); err != nil {
		return errors.New("public_key must be a COSE key")
	}
	if err := cbor.Unmarshal(want, &w); err != nil {
		return err
	}
	if !reflect.DeepEqual(g, w) {
		return errors.New("public_key is not the credential's public key")
	}
	return nil
}

// WebAuthnDriver: a security key (webauthn-roaming) or platform authenticator
// (webauthn-platform) used as a second factor. The API lists, gets, renames and
// deletes them but does not enroll them: a real tenant enrolls them during a
// Universal Login MFA challenge, the reference tenant through its webauthn hook.
type WebAuthnDriver struct {
	base
	typ string
}

// Type implements Driver.
func (d *WebAuthnDriver) Type() string { return d.typ }

// Enrollable implements Driver.
func (d *WebAuthnDriver) Enrollable() bool { return false }

// Unavailable implements Driver.
func (d *WebAuthnDriver) Unavailable() string {
	if _, ok := d.env.OOB.(*oob.Hooks); !ok {
		return "a " + d.typ + " method is enrolled through Universal Login MFA on a real tenant; the suite creates one only through the reference tenant's webauthn hook (out_of_band.url)"
	}
	return ""
}

// StartBody implements Driver.
func (d *WebAuthnDriver) StartBody(User) map[string]any { return map[string]any{"type": d.typ} }

// CheckStarted implements Driver.
func (d *WebAuthnDriver) CheckStarted(*Started) error {
	return errors.New("the API does not enroll " + d.typ + " methods")
}

// Proof implements Driver.
func (d *WebAuthnDriver) Proof(context.Context, User, *Started) (Proof, error) {
	return Proof{}, noSuchProof("the API does not enroll %s methods", d.typ)
}

// Lacks implements Driver.
func (d *WebAuthnDriver) Lacks(ProofKind) string {
	return "the API does not enroll " + d.typ + " methods"
}

// WrongProof implements Driver.
func (d *WebAuthnDriver) WrongProof(context.Context, User, *Started) (map[string]any, error) {
	return nil, noSuchProof("the API does not enroll %s methods", d.typ)
}

// Seed implements Driver: the hook's ceremony, answered by a new authenticator.
func (d *WebAuthnDriver) Seed(ctx context.Context, u User) (map[string]any, Proof, error) {
	if d.env.OOB == nil {
		return nil, Proof{}, ErrNotSeedable
	}
	a := authenticator.New()
	var pk *authenticator.Passkey
	m, err := d.env.OOB.SeedWebAuthn(ctx, u.ID, d.typ, func(options []byte) ([]byte, error) {
		att, p, err := a.Register(options, d.env.Target.WebAuthn.Origin, authenticator.ES256)
		pk = p
		return att, err
	})
	if errors.Is(err, oob.ErrUnsupported) {
		return nil, Proof{}, fmt.Errorf("%w: %s", ErrNotSeedable, d.Unavailable())
	}
	if err != nil {
		return nil, Proof{}, err
	}
	return m, Proof{Passkey: pk, Authn: a}, nil
}

// CheckMethod implements Driver: key_id and public_key, when given, are the credential's.
func (d *WebAuthnDriver) CheckMethod(_ *Started, p Proof, m map[string]any) error {
	if err := CheckCommon(d.typ, m); err != nil {
		return err
	}
	if k, ok := m["key_id"].(string); ok && p.Passkey != nil && k != p.Passkey.IDString() {
		return fmt.Errorf("key_id is %q, the credential id is %q", k, p.Passkey.IDString())
	}
	if pub, ok := m["public_key"]; ok && p.Passkey != nil {
		return SameCOSEKey(pub, p.Passkey.PublicKeyCOSE())
	}
	return nil
}

// RandomBytes returns n random bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
