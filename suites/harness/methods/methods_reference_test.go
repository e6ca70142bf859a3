package methods_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/oob"
)

// reference starts a reference tenant with every method type and the given faults,
// and a framework for it whose target names the tenant's hooks (as the runner's
// config does).
func reference(t *testing.T, faults ...string) *harness.Framework {
	t.Helper()
	tn, err := reftenant.Start(reftenant.Options{MethodTypes: reftenant.MethodTypes(), Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tn.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, tn.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := tn.Clients()
	yaml := "domain: " + tn.Domain() + "\ncustom_domain: " + tn.CustomDomain() + "\nca_file: " + ca +
		"\nresolve:\n  \"" + tn.Domain() + ":443\": \"" + tn.Addr() + "\"\n  \"" + tn.CustomDomain() + ":443\": \"" + tn.Addr() + "\"\n" +
		"clients:\n  native: {client_id: " + cs[0].ID + ", client_secret: '" + cs[0].Secret + "'}\n" +
		"rate_limit: {plan: early-access, requests_per_second: 1000, burst: 1000}\n" +
		"out_of_band: {url: 'https://" + tn.Domain() + "/__reference'}\n"
	tg, err := config.ParseTarget([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	f, err := harness.NewFramework(tg, harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// signUp creates a passkey user and a My Account client acting as them.
func signUp(t *testing.T, f *harness.Framework) (methods.User, *myaccount.Client) {
	t.Helper()
	ctx := context.Background()
	host := f.Target.CustomDomain
	u := methods.User{Email: harness.NewEmail(), Authn: authenticator.New()}
	resp, err := f.PasskeyRegister(ctx, host, u.Email)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("/passkey/register: %v %v", err, resp)
	}
	var c struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
	}
	_ = resp.JSON(&c)
	att, _, err := u.Authn.Register(c.Options, f.Target.WebAuthn.Origin, authenticator.ES256)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = f.TokenByWebAuthn(ctx, host, c.AuthSession, att, config.MeAudience(host), harness.MethodScopes...)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("signup: %v %v", err, resp)
	}
	var tok harness.Tokens
	_ = resp.JSON(&tok)
	parts := strings.Split(tok.AccessToken, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var cl struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(raw, &cl)
	u.ID = cl.Sub
	return u, myaccount.New(f.Client, host, harness.NewSession(host, tok, nil))
}

func env(f *harness.Framework) methods.Env {
	return methods.Env{Target: f.Target, OOB: oob.New(f.Target, f.Client)}
}

// start starts an enrollment with d and checks the 202.
func start(t *testing.T, c *myaccount.Client, d methods.Driver, u methods.User) *methods.Started {
	t.Helper()
	body := d.StartBody(u)
	resp, err := c.Start(context.Background(), body)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("%s: start: %v %s", d.Type(), err, resp.Body)
	}
	s := methods.NewStarted(body, resp.Location(), resp.Body)
	if err := d.CheckStarted(s); err != nil {
		t.Fatalf("%s: the reference's 202 fails the driver's check: %v", d.Type(), err)
	}
	return s
}

// Every enrollable driver completes an enrollment at the reference tenant, its
// wrong proof is refused, its method passes its check and its secrets are never
// shown again.
func TestDriversEnrollAtTheReference(t *testing.T) {
	f := reference(t)
	ctx := context.Background()
	for _, typ := range methods.Types() {
		t.Run(typ, func(t *testing.T) {
			d, err := methods.New(typ, env(f))
			if err != nil {
				t.Fatal(err)
			}
			if why := d.Unavailable(); why != "" {
				t.Fatalf("unavailable with the reference's hooks: %s", why)
			}
			u, c := signUp(t, f)
			if !d.Enrollable() {
				m, p, err := d.Seed(ctx, u)
				if err != nil {
					t.Fatalf("seed: %v", err)
				}
				if err := d.CheckMethod(nil, p, m); err != nil {
					t.Errorf("the seeded method fails its check: %v", err)
				}
				resp, _ := c.Start(ctx, d.StartBody(u))
				if resp.Status != http.StatusBadRequest {
					t.Errorf("POST of a %s answered %d", typ, resp.Status)
				}
				return
			}
			s := start(t, c, d, u)
			wrong, err := d.WrongProof(ctx, u, s)
			switch {
			case errors.Is(err, methods.ErrNoSuchProof):
			case err != nil:
				t.Fatalf("wrong proof: %v", err)
			default:
				resp, _ := c.Verify(ctx, s.Location, wrong)
				if resp.Status != http.StatusBadRequest {
					t.Errorf("the wrong proof answered %d: %s", resp.Status, resp.Body)
				}
				s = start(t, c, d, u)
			}
			p, err := d.Proof(ctx, u, s)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Verify(ctx, s.Location, p.Body)
			if err != nil || resp.Status != http.StatusCreated {
				t.Fatalf("verify: %v %s", err, resp.Body)
			}
			if err := d.CheckMethod(s, p, resp.Object()); err != nil {
				t.Errorf("the method fails its check: %v", err)
			}
			list, _ := c.Methods(ctx, "")
			for _, secret := range d.Secrets(s, p) {
				if secret == "" || strings.Contains(string(list.Body), secret) {
					t.Errorf("a secret of the enrollment (%q) is empty or listed", secret)
				}
			}
		})
	}
}

// The drivers' proofs tell a faulty tenant from an honest one: each fault accepts
// the wrong proof its driver makes, or lets the foreign proof through.
func TestWrongProofsMeetTheirFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ typ, fault string }{
		{methods.TOTP, reftenant.FaultTOTPAnyCode},
		{methods.Push, reftenant.FaultPushVerifyUnapproved},
		{methods.Password, reftenant.FaultPasswordPolicyIgnored},
		{methods.Passkey, reftenant.FaultAcceptAnyChallenge},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			f := reference(t, tc.fault)
			d, _ := methods.New(tc.typ, env(f))
			u, c := signUp(t, f)
			s := start(t, c, d, u)
			wrong, err := d.WrongProof(ctx, u, s)
			if err != nil {
				t.Fatal(err)
			}
			if resp, _ := c.Verify(ctx, s.Location, wrong); resp.Status != http.StatusCreated {
				t.Errorf("with %s the wrong proof answered %d", tc.fault, resp.Status)
			}
		})
	}
	for _, typ := range []string{methods.Email, methods.Phone} {
		t.Run("foreign "+typ, func(t *testing.T) {
			for _, fault := range []string{"", reftenant.FaultOTPCodeAnyMethod} {
				var faults []string
				if fault != "" {
					faults = append(faults, fault)
				}
				f := reference(t, faults...)
				d, _ := methods.New(typ, env(f))
				u, c := signUp(t, f)
				s, other := start(t, c, d, u), start(t, c, d, u)
				foreign, err := d.ForeignProof(ctx, u, s, other)
				if err != nil {
					t.Fatal(err)
				}
				want := http.StatusBadRequest
				if fault != "" {
					want = http.StatusCreated
				}
				if resp, _ := c.Verify(ctx, s.Location, foreign); resp.Status != want {
					t.Errorf("fault %q: the foreign proof answered %d, want %d", fault, resp.Status, want)
				}
			}
		})
	}
}
