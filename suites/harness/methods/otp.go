package methods

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/oob"
)

// TOTPDriver: an authenticator app (RFC 6238). The 202's barcode_uri carries the
// secret and its parameters; the suite computes codes from it as the app would.
type TOTPDriver struct{ base }

// Type implements Driver.
func (d *TOTPDriver) Type() string { return TOTP }

// StartBody implements Driver.
func (d *TOTPDriver) StartBody(User) map[string]any { return map[string]any{"type": TOTP} }

// key reads the otpauth:// URI of a 202.
func (d *TOTPDriver) key(s *Started) (*otp.Key, error) {
	uri := str(s.Body, "barcode_uri")
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, fmt.Errorf("barcode_uri is not an otpauth:// URI: %w", err)
	}
	if k.Type() != "totp" || k.Secret() == "" {
		return nil, fmt.Errorf("barcode_uri is not a TOTP key with a secret (type %q)", k.Type())
	}
	return k, nil
}

// CheckStarted implements Driver: id, auth_session, an otpauth://totp/ URI with a
// secret, and manual_input_code (when given) the same secret.
func (d *TOTPDriver) CheckStarted(s *Started) error {
	if err := checkBodyID(s); err != nil {
		return err
	}
	k, err := d.key(s)
	if err != nil {
		return err
	}
	if m, ok := s.Body["manual_input_code"].(string); ok {
		norm := func(v string) string { return strings.ToUpper(strings.ReplaceAll(strings.TrimRight(v, "="), " ", "")) }
		if norm(m) != norm(k.Secret()) {
			return errors.New("manual_input_code is not the secret of barcode_uri")
		}
	}
	return nil
}

func totpOpts(k *otp.Key) totp.ValidateOpts {
	return totp.ValidateOpts{Period: uint(k.Period()), Digits: k.Digits(), Algorithm: k.Algorithm()}
}

// codeAt is the key's code at t.
func codeAt(k *otp.Key, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(k.Secret(), t, totpOpts(k))
}

// Proof implements Driver: the current code.
func (d *TOTPDriver) Proof(_ context.Context, _ User, s *Started) (Proof, error) {
	k, err := d.key(s)
	if err != nil {
		return Proof{}, err
	}
	code, err := codeAt(k, time.Now())
	if err != nil {
		return Proof{}, err
	}
	return Proof{Body: map[string]any{"auth_session": s.AuthSession(), "otp_code": code}}, nil
}

// WrongProof implements Driver: a code of the right secret from an hour ago, which
// no clock drift allowance covers (one that happens to equal a current code is
// skipped).
func (d *TOTPDriver) WrongProof(_ context.Context, _ User, s *Started) (map[string]any, error) {
	k, err := d.key(s)
	if err != nil {
		return nil, err
	}
	period := time.Duration(k.Period()) * time.Second
	now := time.Now()
	current := map[string]bool{}
	for i := -2; i <= 2; i++ {
		c, err := codeAt(k, now.Add(time.Duration(i)*period))
		if err != nil {
			return nil, err
		}
		current[c] = true
	}
	for back := time.Hour; back < 2*time.Hour; back += period {
		c, err := codeAt(k, now.Add(-back))
		if err != nil {
			return nil, err
		}
		if !current[c] {
			return map[string]any{"auth_session": s.AuthSession(), "otp_code": c}, nil
		}
	}
	return nil, errors.New("every code of the last two hours equals a current one")
}

// Lacks implements Driver: a TOTP proof is tied to the enrollment's secret.
func (d *TOTPDriver) Lacks(ProofKind) string { return "" }

// ForeignProof implements Driver: the current code of the other enrollment's secret.
func (d *TOTPDriver) ForeignProof(ctx context.Context, u User, s, other *Started) (map[string]any, error) {
	p, err := d.Proof(ctx, u, other)
	if err != nil {
		return nil, err
	}
	own, err := d.Proof(ctx, u, s)
	if err != nil {
		return nil, err
	}
	if p.Body["otp_code"] == own.Body["otp_code"] {
		return nil, noSuchProof("the two enrollments' current codes happen to be equal")
	}
	return map[string]any{"auth_session": s.AuthSession(), "otp_code": p.Body["otp_code"]}, nil
}

// CheckMethod implements Driver.
func (d *TOTPDriver) CheckMethod(_ *Started, _ Proof, m map[string]any) error {
	return CheckCommon(TOTP, m)
}

// Secrets implements Driver: the key's secret.
func (d *TOTPDriver) Secrets(s *Started, _ Proof) []string {
	if k, err := d.key(s); err == nil {
		return []string{k.Secret()}
	}
	return nil
}

// OTPDriver: email or phone. The start names an address; the target sends a code
// there, which arrives out of band (the reference's outbox, or the user's command).
type OTPDriver struct {
	base
	typ string
}

// Type implements Driver.
func (d *OTPDriver) Type() string { return d.typ }

// Unavailable implements Driver.
func (d *OTPDriver) Unavailable() string {
	if d.typ == Email {
		return d.needOOB("the code of an email enrollment")
	}
	return d.needOOB("the code of a phone enrollment")
}

// StartBody implements Driver: a fresh address per enrollment, so that every code
// the suite reads belongs to one enrollment (example.com and the 555-01xx numbers
// of every area code are reserved for fiction).
func (d *OTPDriver) StartBody(User) map[string]any {
	if d.typ == Email {
		return map[string]any{"type": Email, "email": harness.NewEmail()}
	}
	area, _ := rand.Int(rand.Reader, big.NewInt(800))
	line, _ := rand.Int(rand.Reader, big.NewInt(100))
	number := fmt.Sprintf("+1%03d55501%02d", 200+area.Int64(), line.Int64())
	return map[string]any{"type": Phone, "phone_number": number, "preferred_authentication_method": oob.SMS}
}

// address and channel the code of s goes to.
func (d *OTPDriver) address(s *Started) (string, string) {
	if d.typ == Email {
		return str(s.Request, "email"), oob.Email
	}
	ch := str(s.Request, "preferred_authentication_method")
	if ch == "" {
		ch = oob.SMS
	}
	return str(s.Request, "phone_number"), ch
}

// CheckStarted implements Driver.
func (d *OTPDriver) CheckStarted(s *Started) error { return checkBodyID(s) }

func (d *OTPDriver) code(ctx context.Context, s *Started) (string, error) {
	if d.env.OOB == nil {
		return "", errors.New(d.Unavailable())
	}
	to, ch := d.address(s)
	return d.env.OOB.Code(ctx, ch, to)
}

// Proof implements Driver: the code sent to the enrollment's address.
func (d *OTPDriver) Proof(ctx context.Context, _ User, s *Started) (Proof, error) {
	code, err := d.code(ctx, s)
	if err != nil {
		return Proof{}, err
	}
	return Proof{Body: map[string]any{"auth_session": s.AuthSession(), "otp_code": code}}, nil
}

// WrongProof implements Driver: the sent code with its last digit changed.
func (d *OTPDriver) WrongProof(ctx context.Context, _ User, s *Started) (map[string]any, error) {
	code, err := d.code(ctx, s)
	if err != nil {
		return nil, err
	}
	return map[string]any{"auth_session": s.AuthSession(), "otp_code": otherCode(code)}, nil
}

// otherCode changes a code's last character (a digit stays a digit).
func otherCode(code string) string {
	if code == "" {
		return "000000"
	}
	last := code[len(code)-1]
	switch {
	case last >= '0' && last <= '9':
		last = '0' + (last-'0'+1)%10
	case last == 'A':
		last = 'B'
	default:
		last = 'A'
	}
	return code[:len(code)-1] + string(last)
}

// Lacks implements Driver: a code is sent for one enrollment.
func (d *OTPDriver) Lacks(ProofKind) string { return "" }

// ForeignProof implements Driver: the code sent for the other enrollment.
func (d *OTPDriver) ForeignProof(ctx context.Context, _ User, s, other *Started) (map[string]any, error) {
	own, err := d.code(ctx, s)
	if err != nil {
		return nil, err
	}
	code, err := d.code(ctx, other)
	if err != nil {
		return nil, err
	}
	if code == own {
		return nil, noSuchProof("the two enrollments were sent the same code")
	}
	return map[string]any{"auth_session": s.AuthSession(), "otp_code": code}, nil
}

// CheckMethod implements Driver: the address is the one enrolled (phone: and its
// channel), when s is known.
func (d *OTPDriver) CheckMethod(s *Started, _ Proof, m map[string]any) error {
	if err := CheckCommon(d.typ, m); err != nil || s == nil {
		return err
	}
	to, ch := d.address(s)
	if d.typ == Email {
		if !strings.EqualFold(str(m, "email"), to) {
			return fmt.Errorf("email is %q, the enrollment's address is %q", m["email"], to)
		}
		return nil
	}
	if str(m, "phone_number") != to {
		return fmt.Errorf("phone_number is %q, the enrollment's number is %q", m["phone_number"], to)
	}
	if str(m, "preferred_authentication_method") != ch {
		return fmt.Errorf("preferred_authentication_method is %q, the enrollment asked for %q", m["preferred_authentication_method"], ch)
	}
	return nil
}

// PushDriver: an authenticator app that receives push notifications. The 202's
// barcode_uri is scanned by the app (the out-of-band source approves it); verify
// succeeds only after that.
type PushDriver struct{ base }

// Type implements Driver.
func (d *PushDriver) Type() string { return Push }

// Unavailable implements Driver.
func (d *PushDriver) Unavailable() string {
	return d.needOOB("the approval of a push-notification enrollment (the app scanning its barcode)")
}

// StartBody implements Driver.
func (d *PushDriver) StartBody(User) map[string]any { return map[string]any{"type": Push} }

// CheckStarted implements Driver.
func (d *PushDriver) CheckStarted(s *Started) error {
	if err := checkBodyID(s); err != nil {
		return err
	}
	u, err := url.Parse(str(s.Body, "barcode_uri"))
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("barcode_uri %q is not a URI", s.Body["barcode_uri"])
	}
	return nil
}

// Proof implements Driver: the app enrolls, then the verify.
func (d *PushDriver) Proof(ctx context.Context, _ User, s *Started) (Proof, error) {
	if d.env.OOB == nil {
		return Proof{}, errors.New(d.Unavailable())
	}
	if err := d.env.OOB.ApprovePush(ctx, str(s.Body, "barcode_uri")); err != nil {
		return Proof{}, err
	}
	return Proof{Body: session(s)}, nil
}

// Lacks implements Driver: an approval is of one enrollment's barcode.
func (d *PushDriver) Lacks(ProofKind) string { return "" }

// ForeignProof implements Driver: the app scans the other enrollment's barcode,
// then s is verified.
func (d *PushDriver) ForeignProof(ctx context.Context, u User, s, other *Started) (map[string]any, error) {
	if _, err := d.Proof(ctx, u, other); err != nil {
		return nil, err
	}
	return session(s), nil
}

// WrongProof implements Driver: the verify before the app has enrolled.
func (d *PushDriver) WrongProof(_ context.Context, _ User, s *Started) (map[string]any, error) {
	return session(s), nil
}

// CheckMethod implements Driver.
func (d *PushDriver) CheckMethod(_ *Started, _ Proof, m map[string]any) error {
	return CheckCommon(Push, m)
}

// RecoveryCodeDriver: a recovery code, shown once in the 202; the verify (the user
// confirms having stored it) carries only the auth_session.
type RecoveryCodeDriver struct{ base }

// Type implements Driver.
func (d *RecoveryCodeDriver) Type() string { return RecoveryCode }

// StartBody implements Driver.
func (d *RecoveryCodeDriver) StartBody(User) map[string]any {
	return map[string]any{"type": RecoveryCode}
}

// CheckStarted implements Driver.
func (d *RecoveryCodeDriver) CheckStarted(s *Started) error {
	if err := checkBodyID(s); err != nil {
		return err
	}
	if str(s.Body, "recovery_code") == "" {
		return errors.New("the 202 body has no recovery_code")
	}
	return nil
}

// Proof implements Driver.
func (d *RecoveryCodeDriver) Proof(_ context.Context, _ User, s *Started) (Proof, error) {
	return Proof{Body: session(s)}, nil
}

// noWrongRecovery is why a recovery code has no wrong proof.
const noWrongRecovery = "its verify carries only the auth_session: there is no proof to get wrong"

// Lacks implements Driver.
func (d *RecoveryCodeDriver) Lacks(kind ProofKind) string {
	if kind == WrongKind {
		return noWrongRecovery
	}
	return notTied
}

// WrongProof implements Driver.
func (d *RecoveryCodeDriver) WrongProof(context.Context, User, *Started) (map[string]any, error) {
	return nil, noSuchProof(noWrongRecovery)
}

// CheckMethod implements Driver.
func (d *RecoveryCodeDriver) CheckMethod(_ *Started, _ Proof, m map[string]any) error {
	return CheckCommon(RecoveryCode, m)
}

// Secrets implements Driver: the code is shown once, in the 202.
func (d *RecoveryCodeDriver) Secrets(s *Started, _ Proof) []string {
	return []string{str(s.Body, "recovery_code")}
}
