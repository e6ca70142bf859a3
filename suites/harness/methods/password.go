package methods

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// PasswordDriver: a password for the user's database identity, the other first
// factor. The 202 states the policy; the suite makes a password that keeps every
// rule it states (and, for the wrong proof, one that breaks one), and afterwards the
// user logs in with it through Universal Login.
type PasswordDriver struct{ base }

// Type implements Driver.
func (d *PasswordDriver) Type() string { return Password }

// Primary implements Driver.
func (d *PasswordDriver) Primary() bool { return true }

// Flow implements Driver.
func (d *PasswordDriver) Flow() Flow { return FlowPassword }

// StartBody implements Driver.
func (d *PasswordDriver) StartBody(User) map[string]any { return map[string]any{"type": Password} }

// PasswordPolicy is what the suite reads of a PasswordPolicy.
type PasswordPolicy struct {
	Complexity struct {
		MinLength            int      `json:"min_length"`
		CharacterTypes       []string `json:"character_types"`
		CharacterTypeRule    string   `json:"character_type_rule"`
		IdenticalCharacters  string   `json:"identical_characters"`
		SequentialCharacters string   `json:"sequential_characters"`
	} `json:"complexity"`
}

func (d *PasswordDriver) policy(s *Started) (PasswordPolicy, error) {
	var b struct {
		Policy *PasswordPolicy `json:"policy"`
	}
	if err := json.Unmarshal(s.Raw, &b); err != nil || b.Policy == nil {
		return PasswordPolicy{}, errors.New("the 202 body has no policy")
	}
	return *b.Policy, nil
}

// CheckStarted implements Driver.
func (d *PasswordDriver) CheckStarted(s *Started) error {
	if err := checkBodyID(s); err != nil {
		return err
	}
	_, err := d.policy(s)
	return err
}

// Password character classes.
var passwordClasses = map[string]string{
	"uppercase": "ABCDEFGHJKLMNPQRSTUVWXYZ",
	"lowercase": "abcdefghijkmnpqrstuvwxyz",
	"number":    "23456789",
	"special":   "!#%*+-=?@^_~",
}

const (
	passwordLength    = 20
	maxPasswordLength = 64 // within bcrypt's 72 bytes
	passwordAttempts  = 100
)

// MakePassword returns a random password of length n from the classes named,
// with at least one of each, no character repeated next to itself and no run of
// three consecutive characters (abc, 321): it keeps every rule a policy can state
// about identical and sequential characters.
func MakePassword(n int, classes []string) (string, error) {
	var alphabet string
	for _, c := range classes {
		alphabet += passwordClasses[c]
	}
	if alphabet == "" || n < len(classes) {
		return "", fmt.Errorf("no password of %d characters has one of each of %v", n, classes)
	}
	for range passwordAttempts {
		b := make([]byte, n)
		for i := range b {
			k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			b[i] = alphabet[k.Int64()]
		}
		if p := string(b); wellFormed(p, classes) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no well-formed password of %d characters of %v in %d attempts", n, classes, passwordAttempts)
}

func wellFormed(p string, classes []string) bool {
	for _, c := range classes {
		if !strings.ContainsAny(p, passwordClasses[c]) {
			return false
		}
	}
	for i := 1; i < len(p); i++ {
		if p[i] == p[i-1] {
			return false
		}
		if i >= 2 {
			d1, d2 := int(p[i-1])-int(p[i-2]), int(p[i])-int(p[i-1])
			if d1 == d2 && (d1 == 1 || d1 == -1) {
				return false
			}
		}
	}
	return true
}

// classesOf are the character types a policy names (all four when it names none).
func classesOf(p PasswordPolicy) []string {
	var out []string
	for _, c := range p.Complexity.CharacterTypes {
		if _, ok := passwordClasses[c]; ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []string{"uppercase", "lowercase", "number", "special"}
	}
	return out
}

// Proof implements Driver: a password that keeps the stated policy (every
// character type, random, so no profile data and no dictionary word).
func (d *PasswordDriver) Proof(_ context.Context, _ User, s *Started) (Proof, error) {
	p, err := d.policy(s)
	if err != nil {
		return Proof{}, err
	}
	n := min(max(p.Complexity.MinLength, passwordLength), max(p.Complexity.MinLength, maxPasswordLength))
	pw, err := MakePassword(n, classesOf(p))
	if err != nil {
		return Proof{}, err
	}
	return Proof{Body: map[string]any{"auth_session": s.AuthSession(), "new_password": pw}, Password: pw}, nil
}

// WrongProof implements Driver: a password that breaks one stated rule: one
// character shorter than min_length, else only lower-case letters where the policy
// asks for several character types, else a character repeated three times.
func (d *PasswordDriver) WrongProof(_ context.Context, _ User, s *Started) (map[string]any, error) {
	p, err := d.policy(s)
	if err != nil {
		return nil, err
	}
	classes := classesOf(p)
	var pw string
	switch c := p.Complexity; {
	case c.MinLength >= 2:
		pw, err = MakePassword(c.MinLength-1, classes[:min(len(classes), c.MinLength-1)])
	case len(classes) >= 2 && (c.CharacterTypeRule == "all" || c.CharacterTypeRule == "three_of_four"):
		pw, err = MakePassword(passwordLength, []string{"lowercase"})
	case c.IdenticalCharacters == "block":
		pw, err = MakePassword(passwordLength, classes)
		pw = pw[:1] + pw[:1] + pw
	default:
		return nil, noSuchProof("the stated policy has no rule a password can break")
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"auth_session": s.AuthSession(), "new_password": pw}, nil
}

// CheckMethod implements Driver.
func (d *PasswordDriver) CheckMethod(_ *Started, _ Proof, m map[string]any) error {
	return CheckCommon(Password, m)
}

// Secrets implements Driver: the password.
func (d *PasswordDriver) Secrets(_ *Started, p Proof) []string {
	if p.Password == "" {
		return nil
	}
	return []string{p.Password}
}
