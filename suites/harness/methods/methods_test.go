package methods

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestRPIDFits(t *testing.T) {
	for _, tc := range []struct {
		rpID, host string
		want       bool
	}{
		{"", "login.example.com", true},
		{"login.example.com", "login.example.com", true},
		{"LOGIN.example.com", "login.example.com", true},
		{"example.com", "login.example.com", true},
		{"com", "login.example.com", false},
		{"ogin.example.com", "login.example.com", false},
		{"evil.example", "login.example.com", false},
		{"sub.login.example.com", "login.example.com", false},
	} {
		if got := RPIDFits(tc.rpID, tc.host); got != tc.want {
			t.Errorf("RPIDFits(%q, %q) = %v", tc.rpID, tc.host, got)
		}
	}
}

func TestLastSegmentAndID(t *testing.T) {
	for loc, want := range map[string]string{
		"https://h/me/v1/authentication-methods/passkey%7Cnew": "passkey|new",
		"https://h/me/v1/authentication-methods/passkey|new":   "passkey|new",
		"/me/v1/authentication-methods/totp%7Cdev_1":           "totp|dev_1",
		"": "",
	} {
		if got := LastSegment(loc); got != want {
			t.Errorf("LastSegment(%q) = %q", loc, got)
		}
	}
	s := NewStarted(nil, "https://h/me/v1/authentication-methods/email%7Cdev_2", []byte(`{"id":"email|dev_2","auth_session":"a"}`))
	if s.ID() != "email|dev_2" || s.AuthSession() != "a" || checkBodyID(s) != nil {
		t.Errorf("started %+v", s)
	}
	s.Location = "https://h/me/v1/authentication-methods/email%7Cdev_3"
	if checkBodyID(s) == nil {
		t.Error("a Location naming another id passed")
	}
}

func TestCheckChallenge(t *testing.T) {
	for ch, ok := range map[string]bool{
		"AAAAAAAAAAAAAAAAAAAAAA":    true,  // 16 bytes
		"AAAAAAAAAAA":               false, // 8 bytes
		"AAAAAAAAAAAAAAAAAAAAAA==":  false, // padding
		"not base64url, at all!!!!": false,
	} {
		if err := CheckChallenge(ch); (err == nil) != ok {
			t.Errorf("CheckChallenge(%q) = %v", ch, err)
		}
	}
}

func TestOtherCode(t *testing.T) {
	for in, want := range map[string]string{"123456": "123457", "000009": "000000", "ABC": "ABA", "xyA": "xyB", "": "000000"} {
		if got := otherCode(in); got != want {
			t.Errorf("otherCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func policyStarted(t *testing.T, complexity string) *Started {
	t.Helper()
	raw := `{"id":"password|dev_1","auth_session":"s","policy":{"complexity":` + complexity + `}}`
	return NewStarted(nil, "https://h/me/v1/authentication-methods/password%7Cdev_1", []byte(raw))
}

// keeps checks a password against the rules a complexity object can state.
func keeps(pw string, minLength int, classes []string, rule string) bool {
	if len(pw) < minLength {
		return false
	}
	n := 0
	for _, c := range classes {
		if strings.ContainsAny(pw, passwordClasses[c]) {
			n++
		}
	}
	switch rule {
	case "all":
		return n == len(classes)
	case "three_of_four":
		return n >= 3
	}
	return true
}

func TestPasswordsKeepAndBreakThePolicy(t *testing.T) {
	d := &PasswordDriver{}
	ctx := context.Background()
	for name, tc := range map[string]struct {
		complexity string
		min        int
		rule       string
		breakable  bool
	}{
		"auth0 default":   {`{"min_length":12,"character_types":["uppercase","lowercase","number","special"],"character_type_rule":"three_of_four","identical_characters":"block"}`, 12, "three_of_four", true},
		"long":            {`{"min_length":40,"character_types":["lowercase","number"],"character_type_rule":"all"}`, 40, "all", true},
		"types only":      {`{"min_length":0,"character_types":["lowercase","number"],"character_type_rule":"all"}`, 0, "all", true},
		"identical only":  {`{"min_length":1,"identical_characters":"block"}`, 1, "", true},
		"nothing to miss": {`{"min_length":0,"identical_characters":"allow"}`, 0, "", false},
	} {
		t.Run(name, func(t *testing.T) {
			s := policyStarted(t, tc.complexity)
			p, err := d.policy(s)
			if err != nil {
				t.Fatal(err)
			}
			classes := classesOf(p)
			for range 20 {
				proof, err := d.Proof(ctx, User{}, s)
				if err != nil {
					t.Fatal(err)
				}
				if pw := proof.Password; !keeps(pw, tc.min, classes, tc.rule) || !wellFormed(pw, classes) || proof.Body["new_password"] != pw {
					t.Fatalf("the proof's password %q breaks the policy", pw)
				}
			}
			wrong, err := d.WrongProof(ctx, User{}, s)
			if !tc.breakable {
				if !errors.Is(err, ErrNoSuchProof) {
					t.Errorf("a policy without rules gave a wrong password: %v %v", wrong, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pw := wrong["new_password"].(string)
			if keeps(pw, tc.min, classes, tc.rule) && wellFormed(pw, classes) {
				t.Errorf("the wrong password %q keeps the policy", pw)
			}
		})
	}
	if _, err := MakePassword(2, []string{"uppercase", "lowercase", "number"}); err == nil {
		t.Error("a password shorter than its classes was made")
	}
}

func TestTOTPProofs(t *testing.T) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "i", AccountName: "a", Digits: otp.DigitsEight, Period: 30})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := totp.Generate(totp.GenerateOpts{Issuer: "i", AccountName: "b"})
	body := func(k *otp.Key) []byte {
		b, _ := json.Marshal(map[string]string{"id": "totp|dev_1", "auth_session": "s", "barcode_uri": k.URL(), "manual_input_code": k.Secret()})
		return b
	}
	s := NewStarted(nil, "https://h/me/v1/authentication-methods/totp%7Cdev_1", body(key))
	o := NewStarted(nil, "https://h/me/v1/authentication-methods/totp%7Cdev_1", body(other))
	d := &TOTPDriver{}
	if err := d.CheckStarted(s); err != nil {
		t.Fatal(err)
	}
	opts := totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1}
	p, _ := d.Proof(context.Background(), User{}, s)
	if ok, _ := totp.ValidateCustom(p.Body["otp_code"].(string), key.Secret(), time.Now(), opts); !ok {
		t.Errorf("the proof's code %v is not valid", p.Body["otp_code"])
	}
	w, _ := d.WrongProof(context.Background(), User{}, s)
	if ok, _ := totp.ValidateCustom(w["otp_code"].(string), key.Secret(), time.Now(), opts); ok {
		t.Errorf("the wrong code %v is valid", w["otp_code"])
	}
	f, err := d.ForeignProof(context.Background(), User{}, s, o)
	if err == nil && f["otp_code"] == p.Body["otp_code"] {
		t.Error("the foreign proof is the enrollment's own code")
	}
	if got := d.Secrets(s, p); len(got) != 1 || got[0] != key.Secret() {
		t.Errorf("secrets %v", got)
	}
	bad := NewStarted(nil, s.Location, []byte(`{"id":"totp|dev_1","auth_session":"s","barcode_uri":"`+key.URL()+`","manual_input_code":"AAAA"}`))
	if d.CheckStarted(bad) == nil {
		t.Error("a manual_input_code that is not the secret passed")
	}
}

// What PATCH may change comes from the description, not the drivers.
func TestPatchOf(t *testing.T) {
	if p := PatchOf(Passkey); p.Name || !p.NameUndocumented {
		t.Errorf("passkey %+v: no name, and what a name does is undocumented", p)
	}
	if p := PatchOf(TOTP); !p.Name || p.NameUndocumented || p.Preferred != nil {
		t.Errorf("totp %+v", p)
	}
	if p := PatchOf(Phone); !p.Name || len(p.Preferred) != 2 {
		t.Errorf("phone %+v", p)
	}
	if p := PatchOf(Password); p.Name || p.NameUndocumented {
		t.Errorf("password %+v: no name, which the API refuses (MA-MTH-006)", p)
	}
}
