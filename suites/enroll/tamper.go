package enroll

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
)

// The FIDO server-conformance checklist, headless: one change to an otherwise valid
// passkey enrollment or login. Each spec also runs the untampered ceremony of the
// same kind, which must succeed, so that a refusal is about the change; refusals are
// judged as documented (steps_refusals.go), and a refused enrollment creates nothing.
// The wrong, reused, other user's and expired enrollment auth_sessions are the
// passkey driver's proofs in methods.go.

// Enrollment: one user each, as every spec writes to the My Account API.
var _ = framework.AreaOf("tamper", "passkey", "type:passkey").Describe("Tampered passkey enrollments", func() {
	register := func(mods authenticator.Mods) func(json.RawMessage) []byte {
		return func(options json.RawMessage) []byte {
			GinkgoHelper()
			att, _, err := authenticator.New().RegisterWith(options, framework.F.Target.WebAuthn.Origin, authenticator.ES256, mods)
			Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
			return att
		}
	}
	for _, tc := range []struct {
		name, req string
		mods      authenticator.Mods
	}{
		{"an attestation from another origin", "MA-ENR-011", authenticator.Mods{Origin: "https://evil.example"}},
		{"an attestation for another RP ID (rpIdHash)", "MA-ENR-012", authenticator.Mods{RPID: "evil.example"}},
		{"an attestation whose signature does not cover the clientDataJSON sent", "MA-ENR-013",
			authenticator.Mods{Edit: editClientData(func(cd map[string]any) { cd["crossOrigin"] = false })}},
		{"an attestation without user presence", "MA-ENR-014", authenticator.Mods{NoUP: true}},
		{"clientData of type webauthn.get", "MA-ENR-016", authenticator.Mods{Type: "webauthn.get"}},
		{"a truncated attestationObject", "MA-ENR-018",
			authenticator.Mods{Edit: editResponse("attestationObject", func(b []byte) []byte { return b[:len(b)/2] })}},
		{"a garbage attestationObject", "MA-ENR-018",
			authenticator.Mods{Edit: editResponse("attestationObject", func(b []byte) []byte { return randomBytes(len(b)) })}},
	} {
		It("refuses an enrollment verified with "+tc.name+", and creates nothing", framework.Req(tc.req), func(ctx SpecContext) {
			expectTamperedEnrollmentRefused(ctx, tc.name, register(tc.mods))
		})
	}

	It("refuses an enrollment verified without user verification when the options require it", framework.Req("MA-ENR-015"), func(ctx SpecContext) {
		expectTamperedEnrollmentRefused(ctx, "an attestation without user verification", func(options json.RawMessage) []byte {
			requireUserVerification(options)
			return register(authenticator.Mods{NoUV: true})(options)
		})
	})

	It("refuses an enrollment with a credential of an algorithm the options did not offer", framework.Req("MA-ENR-017"), func(ctx SpecContext) {
		expectTamperedEnrollmentRefused(ctx, "a credential of an algorithm not offered", func(options json.RawMessage) []byte {
			att, _ := unofferedAlgAttestation(options)
			return att
		})
	})

	It("issues creation options with fresh 16-byte challenges, the documented algorithms and residentKey required", framework.Req("MA-ENR-021", "MA-ENR-022", "MA-ENR-023"), func(ctx SpecContext) {
		d := passkeys()
		u := framework.BorrowUser(ctx, framework.Budget{spec.Write: 3})
		c := framework.Me(ctx, u)
		for range 3 {
			s := framework.StartMethod(ctx, c, d, u) // checks the algorithms and residentKey
			framework.ExpectFreshChallenge(framework.CreationOptions(s.Options()).Challenge)
		}
	})

	It("refuses a passkey signup with a credential of an algorithm the options did not offer", framework.Req("AUTH-PK-016"), func(ctx SpecContext) {
		host := framework.RequireCustomDomain()
		resp := framework.Call(framework.F.PasskeyRegister(ctx, host, harness.NewEmail()))
		Expect(resp).To(framework.HaveStatus(http.StatusOK), "POST /passkey/register")
		c := framework.DecodeCeremony(resp)
		att, alg := unofferedAlgAttestation(c.Options)
		framework.ExpectGrantRefused(framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, att, config.MeAudience(host), harness.ScopeReadMethods)),
			"a signup with a credential of "+alg.String()+", which the options did not offer")
		// The control: a signup answered with an offered algorithm.
		framework.NewUser(ctx)
	})
})

// Login: the Authentication API has no per-user limit on the webauthn grant, so one
// user answers them all.
var _ = framework.AreaOf("tamper", "passkey").Describe("Tampered passkey logins", Ordered, func() {
	var (
		host string
		u    *framework.User
	)

	BeforeAll(func(ctx SpecContext) {
		host = framework.RequireCustomDomain()
		// Logins, and one enrollment started (the enrollment's auth_session presented
		// at login): the Authentication API has no per-user limit, My Account one write.
		u = framework.BorrowUser(ctx, framework.Budget{spec.Write: 1})
	})

	login := func(mods authenticator.Mods) func(json.RawMessage) []byte {
		return func(options json.RawMessage) []byte {
			GinkgoHelper()
			assertion, err := u.Authn.LoginWith(options, framework.F.Target.WebAuthn.Origin, u.Passkeys[0], mods)
			Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
			return assertion
		}
	}

	for _, tc := range []struct {
		name, req string
		mods      func() authenticator.Mods
	}{
		{"signed over another challenge", "AUTH-PK-004", func() authenticator.Mods { return authenticator.Mods{Challenge: randomBytes(32)} }},
		{"from another origin", "AUTH-PK-007", func() authenticator.Mods { return authenticator.Mods{Origin: "https://evil.example"} }},
		{"for another RP ID (rpIdHash)", "AUTH-PK-008", func() authenticator.Mods { return authenticator.Mods{RPID: "evil.example"} }},
		{"with a signature that does not verify", "AUTH-PK-009", func() authenticator.Mods {
			return authenticator.Mods{Edit: editResponse("signature", func(b []byte) []byte {
				b = append([]byte(nil), b...)
				b[len(b)-1] ^= 0x01
				return b
			})}
		}},
		{"without user presence", "AUTH-PK-010", func() authenticator.Mods { return authenticator.Mods{NoUP: true} }},
		{"whose clientData type is webauthn.create", "AUTH-PK-012", func() authenticator.Mods { return authenticator.Mods{Type: "webauthn.create"} }},
		{"whose signature counter did not increase", "AUTH-PK-005", func() authenticator.Mods {
			last := u.Passkeys[0].Counter // the counter the target saw last (each spec ends with a login)
			return authenticator.Mods{Counter: &last}
		}},
	} {
		It("refuses a login assertion "+tc.name, framework.Req(tc.req), func(ctx SpecContext) {
			framework.SignIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods) // the target has seen a counter
			expectTamperedLoginRefused(ctx, u, tc.name, login(tc.mods()))
		})
	}

	It("refuses a login assertion without user verification when the options require it", framework.Req("AUTH-PK-011"), func(ctx SpecContext) {
		expectTamperedLoginRefused(ctx, u, "without user verification", func(options json.RawMessage) []byte {
			requireUserVerification(options)
			return login(authenticator.Mods{NoUV: true})(options)
		})
	})

	It("refuses a login auth_session used a second time", framework.Req("AUTH-PK-006"), func(ctx SpecContext) {
		c := framework.DecodeCeremony(framework.Call(framework.F.PasskeyChallenge(ctx, host)))
		first, err := u.Authn.Login(c.Options, framework.F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		// The control is the first use: the untampered ceremony logs in.
		Expect(framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, first, config.MeAudience(host), harness.ScopeReadMethods))).To(framework.HaveStatus(http.StatusOK))
		// A fresh, valid assertion (the counter goes up) for the same challenge and session.
		second, err := u.Authn.Login(c.Options, framework.F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		framework.ExpectGrantRefused(framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, second, config.MeAudience(host), harness.ScopeReadMethods)), "an auth_session used a second time")
	})

	It("refuses a login that presents an enrollment's auth_session", framework.Req("AUTH-PK-014"), func(ctx SpecContext) {
		c := framework.Me(ctx, u, harness.ScopeCreateMethods)
		s := framework.StartMethod(ctx, c, passkeys(), u)
		o, err := methods.ParseCreationOptions(s.Options())
		Expect(err).NotTo(HaveOccurred())
		challenge, err := base64.RawURLEncoding.DecodeString(o.Challenge)
		Expect(err).NotTo(HaveOccurred())
		// A valid assertion over the enrollment's challenge, presented with its session.
		lc := framework.DecodeCeremony(framework.Call(framework.F.PasskeyChallenge(ctx, host)))
		assertion := login(authenticator.Mods{Challenge: challenge})(lc.Options)
		framework.ExpectGrantRefused(framework.Call(framework.F.TokenByWebAuthn(ctx, host, s.AuthSession(), assertion, config.MeAudience(host), harness.ScopeReadMethods)),
			"a login with an enrollment's auth_session")
		// The control: a login ceremony of its own logs in.
		framework.SignIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
	})

	It("issues login challenges of at least 16 bytes that are never repeated", framework.Req("AUTH-PK-013"), func(ctx SpecContext) {
		for range 3 {
			var o struct {
				Challenge string `json:"challenge"`
			}
			Expect(json.Unmarshal(framework.DecodeCeremony(framework.Call(framework.F.PasskeyChallenge(ctx, host))).Options, &o)).To(Succeed())
			framework.ExpectFreshChallenge(o.Challenge)
		}
	})
})

// An expired login auth_session: issued when the run starts, answered once the
// request options' timeout (its stated lifetime) has passed.
var expiredLoginLabels = append(framework.AreaOf("tamper", "passkey").Labels(), framework.Req("AUTH-PK-015")...)

var expiredLogin = framework.IssueAtStart("a passkey login's auth_session", expiredLoginLabels, func(ctx context.Context) (any, time.Duration, error) {
	host := framework.F.Target.CustomDomain
	if host == "" {
		return nil, 0, fmt.Errorf("the target config has no custom_domain")
	}
	resp, err := framework.F.PasskeyChallenge(ctx, host)
	if err != nil {
		return nil, 0, err
	}
	if resp.Status != http.StatusOK {
		return nil, 0, fmt.Errorf("POST /passkey/challenge answered %d: %.300s", resp.Status, resp.Body)
	}
	var c framework.Ceremony
	if err := resp.JSON(&c); err != nil {
		return nil, 0, err
	}
	lifetime, _ := methods.OptionsTimeout(c.Options)
	return c, lifetime, nil
})

var _ = framework.AreaOf("tamper", "passkey").Describe("Expired passkey logins", func() {
	It("refuses a login with an expired auth_session", expiredLoginLabels, SpecPriority(framework.ExpiryPriority), func(ctx SpecContext) {
		host := framework.RequireCustomDomain()
		c := expiredLogin.Await(ctx).(framework.Ceremony)
		u := framework.BorrowUser(ctx, framework.Budget{}) // logins only
		assertion, err := u.Authn.Login(c.Options, framework.F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		framework.ExpectGrantRefused(framework.Call(framework.F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, config.MeAudience(host), harness.ScopeReadMethods)), "a login with an expired auth_session")
		// The control: a ceremony answered before it expires logs in.
		framework.SignIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
	})
})
