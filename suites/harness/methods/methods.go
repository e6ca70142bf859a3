// Package methods has one driver per authentication method type of the My Account
// API: what its enrollment sends and gets back, the proof that completes it (and
// the wrong ones a server must refuse), what PATCH may change, and whether the
// method logs the user in. The suites run one generic lifecycle per driver, the way
// the Kubernetes storage e2e suites run every test suite per driver; adding a type
// is its branch in spec/myaccount.yaml, one driver here and one implementation in
// the reference tenant.
//
// Drivers are plain Go (no Ginkgo): they answer with errors, and ErrNoSuchProof or
// an Unavailable reason when a check does not apply to their type or target.
package methods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/oob"
)

// Method types, as the API spells them.
const (
	Passkey          = "passkey"
	WebAuthnRoaming  = "webauthn-roaming"
	WebAuthnPlatform = "webauthn-platform"
	TOTP             = "totp"
	RecoveryCode     = "recovery-code"
	Email            = "email"
	Phone            = "phone"
	Push             = "push-notification"
	Password         = "password"
)

// Types are the types there is a driver for, in the order the suites register them.
func Types() []string {
	return []string{Passkey, WebAuthnRoaming, WebAuthnPlatform, TOTP, RecoveryCode, Email, Phone, Push, Password}
}

// Env is what the drivers use of the run.
type Env struct {
	Target *config.Target
	// OOB delivers out-of-band proofs; nil when the target config names no source.
	OOB oob.Source
}

// User is who enrolls.
type User struct {
	ID    string // the user id (the tokens' sub)
	Email string
	Authn *authenticator.Authenticator
}

// Flow is how a method of a type logs its user in, where the API's documents give a
// flow the suite can drive.
type Flow int

const (
	// FlowNone: no login flow the suite drives (a second factor).
	FlowNone Flow = iota
	// FlowPasskey: native passkey login (/passkey/challenge and the webauthn grant).
	FlowPasskey
	// FlowPassword: Universal Login with the email and the password.
	FlowPassword
)

// Patch is what PATCH may change on a method of a type (PatchOf).
type Patch struct {
	// Name says the type's methods have a name, which PATCH changes.
	Name bool
	// Preferred lists the channels preferred_authentication_method takes (phone).
	Preferred []string
	// NameUndocumented says the type has no name and the vendor does not say what a
	// PATCH with one does (a passkey, PROTOCOL §10): refused with 400, or answered
	// 200 with nothing changed, both conform. For the other types without a name the
	// API refuses one (MA-MTH-006).
	NameUndocumented bool
}

// PatchOf is what PATCH may change on a method of typ, as the description says:
// the members of AuthenticationMethodUpdate that the type's schema has
// (spec.MethodPatchable), the channels its preferred_authentication_method takes.
func PatchOf(typ string) Patch {
	var p Patch
	for _, m := range spec.MethodPatchable(typ) {
		switch m {
		case "name":
			p.Name = true
		case "preferred_authentication_method":
			p.Preferred = spec.MethodMemberEnum(typ, m)
		}
	}
	p.NameUndocumented = typ == Passkey && !p.Name
	return p
}

// Started is an enrollment the target answered with 202.
type Started struct {
	// Request is the start body that was sent.
	Request map[string]any
	// Location is the 202's Location header as sent.
	Location string
	// Body is the 202's JSON body, Raw as it came.
	Body map[string]any
	Raw  []byte
	At   time.Time
}

// NewStarted reads a 202 answer.
func NewStarted(request map[string]any, location string, raw []byte) *Started {
	s := &Started{Request: request, Location: location, Raw: raw, At: time.Now()}
	_ = json.Unmarshal(raw, &s.Body)
	return s
}

// AuthSession is the 202's auth_session.
func (s *Started) AuthSession() string { return str(s.Body, "auth_session") }

// ID is the id of the method being enrolled: the body's, or the last segment of
// the Location (a passkey's 202 has no id).
func (s *Started) ID() string {
	if id := str(s.Body, "id"); id != "" {
		return id
	}
	return LastSegment(s.Location)
}

// Options is the WebAuthn creation options of the 202, if any.
func (s *Started) Options() json.RawMessage {
	var b struct {
		Options json.RawMessage `json:"authn_params_public_key"`
	}
	_ = json.Unmarshal(s.Raw, &b)
	return b.Options
}

// LastSegment is the percent-decoded last path segment of a URL ("" if none).
func LastSegment(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	p := u.EscapedPath()
	seg := p[strings.LastIndex(p, "/")+1:]
	id, err := url.PathUnescape(seg)
	if err != nil {
		return ""
	}
	return id
}

// Proof is a verify body that completes an enrollment, with what the suite needs to
// recognise and use the method it creates.
type Proof struct {
	Body map[string]any
	// Passkey is the credential a WebAuthn proof created, and its authenticator.
	Passkey *authenticator.Passkey
	Authn   *authenticator.Authenticator
	// Password is the password a password proof set.
	Password string
}

// ProofKind names the proofs a type may lack.
type ProofKind int

// Proof kinds.
const (
	// WrongKind is a proof that must be refused (WrongProof).
	WrongKind ProofKind = iota
	// ForeignKind is the proof of another pending enrollment (ForeignProof).
	ForeignKind
	// OtherPathKind is another pending enrollment's auth_session and proof sent to
	// this one's path (Started.Location).
	OtherPathKind
)

// ErrNoSuchProof says a type has no proof of the kind asked for (a recovery code
// has nothing to get wrong); the error tells why.
var ErrNoSuchProof = errors.New("no such proof for this type")

func noSuchProof(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNoSuchProof, fmt.Sprintf(format, args...))
}

// Driver is what the suites know of one method type.
type Driver interface {
	// Type is the API's name of the type.
	Type() string
	// Primary says the type is a first factor: deleting the user's last one is refused.
	Primary() bool
	// Enrollable says POST /authentication-methods may start one.
	Enrollable() bool
	// Unavailable says why the driver cannot run against the target ("" when it can):
	// an out-of-band proof with no source configured.
	Unavailable() string
	// StartBody is the body of POST /authentication-methods for u.
	StartBody(u User) map[string]any
	// CheckStarted checks the 202 body is the type's documented one.
	CheckStarted(s *Started) error
	// Proof is the verify body that completes s.
	Proof(ctx context.Context, u User, s *Started) (Proof, error)
	// Lacks says why the type has no proof of a kind ("" when it has one), without
	// a target: the suites skip those checks before making a user for them.
	Lacks(kind ProofKind) string
	// WrongProof is a verify body with s's auth_session and a proof the target must
	// refuse (ErrNoSuchProof when the type has none).
	WrongProof(ctx context.Context, u User, s *Started) (map[string]any, error)
	// ForeignProof is a verify body with s's auth_session and the proof that would
	// complete other, another pending enrollment of the same user and type
	// (ErrNoSuchProof when the type's proof is not tied to the enrollment).
	ForeignProof(ctx context.Context, u User, s, other *Started) (map[string]any, error)
	// Again is the verify body a client would send to complete s a second time,
	// after first completed it: the same body, or for a passkey another device's
	// answer to the same options.
	Again(ctx context.Context, u User, s *Started, first Proof) (map[string]any, error)
	// Expires says the type's 202 states how long its auth_session lives, and
	// Lifetime how long that is for s (or 0 and why not).
	Expires() bool
	Lifetime(s *Started) (time.Duration, string)
	// CheckMethod checks the method the verify (or Seed) answered against what was enrolled.
	CheckMethod(s *Started, p Proof, m map[string]any) error
	// Secrets are values of s and p that the target must never show again once the
	// method exists (a recovery code, a password, a TOTP secret).
	Secrets(s *Started, p Proof) []string
	// Flow is how the method logs the user in.
	Flow() Flow
	// Seed creates a method of a type POST cannot enroll, the way the target's own
	// flows would (the reference's hook); ErrNotSeedable when the target cannot.
	Seed(ctx context.Context, u User) (map[string]any, Proof, error)
}

// ErrNotSeedable says the driver cannot create a method by other means than POST.
var ErrNotSeedable = errors.New("the suite cannot create a method of this type on this target")

// New is the driver of typ.
func New(typ string, env Env) (Driver, error) {
	switch typ {
	case Passkey:
		return &PasskeyDriver{env: env, Alg: authenticator.ES256}, nil
	case WebAuthnRoaming, WebAuthnPlatform:
		return &WebAuthnDriver{base: base{env}, typ: typ}, nil
	case TOTP:
		return &TOTPDriver{base{env}}, nil
	case RecoveryCode:
		return &RecoveryCodeDriver{base{env}}, nil
	case Email, Phone:
		return &OTPDriver{base: base{env}, typ: typ}, nil
	case Push:
		return &PushDriver{base{env}}, nil
	case Password:
		return &PasswordDriver{base{env}}, nil
	}
	return nil, fmt.Errorf("methods: no driver for type %q", typ)
}

// base is what most drivers share.
type base struct{ env Env }

func (base) Primary() bool       { return false }
func (base) Enrollable() bool    { return true }
func (base) Unavailable() string { return "" }
func (base) Flow() Flow          { return FlowNone }
func (base) Again(_ context.Context, _ User, _ *Started, first Proof) (map[string]any, error) {
	return first.Body, nil
}
func (base) Expires() bool { return false }
func (base) Lifetime(*Started) (time.Duration, string) {
	return 0, "the 202 states no lifetime for the auth_session (no expires_in, no WebAuthn timeout)"
}

// notTied is why a type has no foreign proof.
const notTied = "its proof is not tied to one enrollment"

func (base) Lacks(kind ProofKind) string {
	if kind == ForeignKind {
		return notTied
	}
	return ""
}
func (base) ForeignProof(context.Context, User, *Started, *Started) (map[string]any, error) {
	return nil, noSuchProof(notTied)
}
func (base) Seed(context.Context, User) (map[string]any, Proof, error) {
	return nil, Proof{}, ErrNotSeedable
}
func (base) Secrets(*Started, Proof) []string { return nil }

// session is the verify body with only the auth_session.
func session(s *Started) map[string]any { return map[string]any{"auth_session": s.AuthSession()} }

// needOOB is the Unavailable reason of a driver whose proof arrives out of band.
func (b base) needOOB(what string) string {
	if b.env.OOB == nil {
		return what + " reaches the user out of band, and the target config has neither out_of_band.url nor out_of_band.command to read it"
	}
	return ""
}

// CheckCommon checks what every AuthenticationMethod has and the method's type.
func CheckCommon(typ string, m map[string]any) error {
	if t, _ := m["type"].(string); t != typ {
		return fmt.Errorf("type is %q, want %q", m["type"], typ)
	}
	if str(m, "id") == "" {
		return errors.New("the method has no id")
	}
	if _, err := time.Parse(time.RFC3339, str(m, "created_at")); err != nil {
		return fmt.Errorf("created_at %q is not an RFC 3339 date-time", m["created_at"])
	}
	return nil
}

// checkBodyID checks a 202 body's id is what the Location names.
func checkBodyID(s *Started) error {
	id := str(s.Body, "id")
	if id == "" {
		return errors.New("the 202 body has no id")
	}
	if s.AuthSession() == "" {
		return errors.New("the 202 body has no auth_session")
	}
	if got := LastSegment(s.Location); got != id {
		return fmt.Errorf("the Location %s names %q, the body's id is %q", s.Location, got, id)
	}
	return nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
