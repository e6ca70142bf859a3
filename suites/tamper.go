package suites

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// Forged and replayed passkey ceremonies: what a server accepts that it should
// refuse. Each spec changes one thing of an otherwise valid ceremony.
var _ = Describe("Replayed and forged passkey ceremonies", Label("tamper", "passkey"), Ordered, ContinueOnFailure, func() {
	var (
		host string
		u    *user
	)

	BeforeAll(func(ctx SpecContext) {
		host = requireCustomDomain()
		u = signUp(ctx, authenticator.ES256)
	})

	// tokenRequest finishes a login ceremony with a prepared assertion.
	tokenRequest := func(ctx SpecContext, authSession string, assertion []byte) *harness.Response {
		GinkgoHelper()
		return call(F.TokenByWebAuthn(ctx, host, authSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods))
	}

	It("refuses a login assertion signed over another challenge", Req("AUTH-PK-004"), func(ctx SpecContext) {
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		assertion, err := u.Authn.LoginWith(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0], authenticator.Mods{Challenge: randomBytes(32)})
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, assertion), "the forged or replayed ceremony")
	})

	It("refuses a login whose signature counter did not increase", Req("AUTH-PK-005"), func(ctx SpecContext) {
		signIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
		last := u.Passkeys[0].Counter // the counter the server saw last
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		assertion, err := u.Authn.LoginWith(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0], authenticator.Mods{Counter: &last})
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, assertion), "the forged or replayed ceremony")
	})

	It("refuses a login auth_session used a second time", Req("AUTH-PK-006"), func(ctx SpecContext) {
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		first, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenRequest(ctx, c.AuthSession, first)).To(HaveStatus(http.StatusOK))
		// A fresh, valid assertion (the counter goes up) for the same challenge and session.
		second, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, second), "the forged or replayed ceremony")
	})

	It("refuses an enrollment verified with an attestation over another challenge, and creates nothing", Req("MA-ENR-009"), func(ctx SpecContext) {
		token := signIn(ctx, u, u.Passkeys[0], host).AccessToken
		before := methodIDs(listMethods(ctx, host, token))
		resp := startEnrollment(ctx, host, token)
		Expect(resp).To(HaveStatus(http.StatusAccepted))
		c := decodeCeremony(resp)
		att, _, err := authenticator.New().RegisterWith(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256, authenticator.Mods{Challenge: randomBytes(32)})
		Expect(err).NotTo(HaveOccurred())
		resp = verify(ctx, host, token, resp.Location(), c.AuthSession, att)
		Expect(resp).To(HaveStatus(http.StatusBadRequest), "an attestation over a challenge the server never issued was accepted")
		Expect(methodIDs(listMethods(ctx, host, token))).To(ConsistOf(before), "a refused verification changed the methods")
	})

	It("refuses an enrollment auth_session used a second time", Req("MA-ENR-010"), func(ctx SpecContext) {
		token := signIn(ctx, u, u.Passkeys[0], host).AccessToken
		resp := startEnrollment(ctx, host, token)
		Expect(resp).To(HaveStatus(http.StatusAccepted))
		location, c := resp.Location(), decodeCeremony(resp)
		att, _, err := authenticator.New().Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
		Expect(err).NotTo(HaveOccurred())
		resp = verify(ctx, host, token, location, c.AuthSession, att)
		Expect(resp).To(HaveStatus(http.StatusCreated))
		DeferCleanup(deleteMethod, host, token, resp.Object()["id"])
		before := methodIDs(listMethods(ctx, host, token))

		// Another device answers the same options with the same auth_session.
		att, _, err = authenticator.New().Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
		Expect(err).NotTo(HaveOccurred())
		resp = verify(ctx, host, token, location, c.AuthSession, att)
		Expect(resp.Status).To(BeNumerically(">=", 400), "a used enrollment auth_session verified another passkey: %s", resp.Body)
		Expect(resp.Status).To(BeNumerically("<", 500), "%s", resp.Body)
		Expect(methodIDs(listMethods(ctx, host, token))).To(ConsistOf(before), "a refused verification changed the methods")
	})
})

// The FIDO server-conformance checklist, headless: one change to an otherwise valid
// enrollment or login. Every refusal leaves the user's methods as they were.
var _ = Describe("Tampered passkey ceremonies", Label("tamper", "passkey"), Ordered, ContinueOnFailure, func() {
	var (
		host       string
		alice, bob *user
		token      string // alice, My Account scopes
	)

	BeforeAll(func(ctx SpecContext) {
		host = requireCustomDomain()
		alice, bob = signUp(ctx, authenticator.ES256), signUp(ctx, authenticator.ES256)
		token = signIn(ctx, alice, alice.Passkeys[0], host).AccessToken
	})

	// enrollment starts one for token's user and returns the options and where to verify.
	enrollmentFor := func(ctx SpecContext, tok string) (ceremony, string) {
		GinkgoHelper()
		resp := startEnrollment(ctx, host, tok)
		Expect(resp).To(HaveStatus(http.StatusAccepted), "POST /authentication-methods")
		return decodeCeremony(resp), resp.Location()
	}

	// expectEnrollRefused checks a verify answered 400 with the error body and created nothing.
	expectEnrollRefused := func(ctx SpecContext, resp *harness.Response, before []string, what string) {
		GinkgoHelper()
		expectNoFailures(refusalProblems(what, resp, http.StatusBadRequest))
		Expect(methodIDs(listMethods(ctx, host, token))).To(ConsistOf(before), "a refused verification changed the methods")
	}

	type enrollCase struct {
		name, req string
		// mods returns the tampering for these options, or a reason to skip.
		mods func(opts json.RawMessage) (authenticator.Mods, string)
	}
	for _, ec := range []enrollCase{
		{"an attestation from another origin", "MA-ENR-011", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Origin: "https://evil.example"}, ""
		}},
		{"an attestation for another RP ID (rpIdHash)", "MA-ENR-012", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{RPID: "evil.example"}, ""
		}},
		{"an attestation whose signature does not cover the clientDataJSON sent", "MA-ENR-013", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Edit: editClientData(func(cd map[string]any) { cd["crossOrigin"] = false })}, ""
		}},
		{"an attestation without user presence", "MA-ENR-014", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{NoUP: true}, ""
		}},
		{"an attestation without user verification when the options require it", "MA-ENR-015", func(opts json.RawMessage) (authenticator.Mods, string) {
			var o struct {
				Sel struct {
					UV string `json:"userVerification"`
				} `json:"authenticatorSelection"`
			}
			_ = json.Unmarshal(opts, &o)
			if o.Sel.UV != "required" {
				return authenticator.Mods{}, fmt.Sprintf("the creation options ask for userVerification %q, not \"required\": an attestation without UV is acceptable", o.Sel.UV)
			}
			return authenticator.Mods{NoUV: true}, ""
		}},
		{"clientData of type webauthn.get", "MA-ENR-016", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Type: "webauthn.get"}, ""
		}},
		{"a truncated attestationObject", "MA-ENR-018", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Edit: editResponse("attestationObject", func(b []byte) []byte { return b[:len(b)/2] })}, ""
		}},
		{"a garbage attestationObject", "MA-ENR-018", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Edit: editResponse("attestationObject", func(b []byte) []byte { return randomBytes(len(b)) })}, ""
		}},
	} {
		It("refuses an enrollment verified with "+ec.name+", and creates nothing", Req(ec.req), func(ctx SpecContext) {
			before := methodIDs(listMethods(ctx, host, token))
			c, location := enrollmentFor(ctx, token)
			mods, skip := ec.mods(c.Options)
			if skip != "" {
				Skip(skip)
			}
			att, _, err := authenticator.New().RegisterWith(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256, mods)
			Expect(err).NotTo(HaveOccurred())
			expectEnrollRefused(ctx, deliver(F.Client.Do(ctx, verifyRequest(host, token, location, c.AuthSession, att))), before, ec.name)
		})
	}

	It("refuses an enrollment with a credential of an algorithm the options did not offer", Req("MA-ENR-017"), func(ctx SpecContext) {
		before := methodIDs(listMethods(ctx, host, token))
		c, location := enrollmentFor(ctx, token)
		att, alg := unofferedAlgAttestation(c.Options)
		expectEnrollRefused(ctx, deliver(F.Client.Do(ctx, verifyRequest(host, token, location, c.AuthSession, att))), before, alg.String()+" not offered")
	})

	It("refuses a passkey signup with a credential of an algorithm the options did not offer", Req("AUTH-PK-016"), func(ctx SpecContext) {
		resp := call(F.PasskeyRegister(ctx, host, harness.NewEmail()))
		Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/register")
		c := decodeCeremony(resp)
		att, _ := unofferedAlgAttestation(c.Options)
		expectGrantRefused(call(F.TokenByWebAuthn(ctx, host, c.AuthSession, att, harness.MeAudience(host), harness.ScopeReadMethods)), "the forged or replayed ceremony")
	})

	It("refuses an enrollment auth_session of another user, and creates nothing for either", Req("MA-ENR-019"), func(ctx SpecContext) {
		bobToken := signIn(ctx, bob, bob.Passkeys[0], host).AccessToken
		bobBefore := methodIDs(listMethods(ctx, host, bobToken))
		before := methodIDs(listMethods(ctx, host, token))
		c, location := enrollmentFor(ctx, bobToken)
		att, _, err := authenticator.New().Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
		Expect(err).NotTo(HaveOccurred())
		// Alice presents Bob's auth_session with a valid answer to Bob's options.
		resp := deliver(F.Client.Do(ctx, verifyRequest(host, token, location, c.AuthSession, att)))
		Expect(resp.Status).To(BeNumerically(">=", 400), "another user's auth_session enrolled a passkey: %s", resp.Body)
		expectEnrollRefused(ctx, resp, before, "another user's auth_session")
		Expect(methodIDs(listMethods(ctx, host, bobToken))).To(ConsistOf(bobBefore), "the other user's methods changed")
	})

	It("refuses an expired enrollment auth_session", Req("MA-ENR-020"), func(ctx SpecContext) {
		// The enrollment's lifetime may follow the client of the token that started it:
		// start it with a short-lived token, then verify with a fresh long-lived one, so
		// that the expired session is the only reason to refuse.
		f := shortLived()
		short := loginAs(ctx, f, alice, alice.Passkeys[0], host, harness.ScopeCreateMethods).AccessToken
		c, location := enrollmentFor(ctx, short)
		waitOutCeremony(ctx, c.Options)
		fresh := signIn(ctx, alice, alice.Passkeys[0], host).AccessToken
		before := methodIDs(listMethods(ctx, host, fresh))
		att, _, err := authenticator.New().Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
		Expect(err).NotTo(HaveOccurred())
		expectEnrollRefused(ctx, deliver(F.Client.Do(ctx, verifyRequest(host, fresh, location, c.AuthSession, att))), before, "an expired auth_session")

		// Control: the same steps without the wait succeed, so the refusal was the expiry.
		short = loginAs(ctx, f, alice, alice.Passkeys[0], host, harness.ScopeCreateMethods).AccessToken
		c, location = enrollmentFor(ctx, short)
		att, _, err = authenticator.New().Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
		Expect(err).NotTo(HaveOccurred())
		resp := deliver(F.Client.Do(ctx, verifyRequest(host, fresh, location, c.AuthSession, att)))
		if resp.Status == http.StatusCreated {
			DeferCleanup(deleteMethod, host, fresh, resp.Object()["id"])
		} else {
			Fail(fmt.Sprintf("%san enrollment started with a token of clients.short_lived and verified at once with a token of clients.native was refused too (%d), so the refusal after the wait proves nothing", verdict.InconclusivePrefix, resp.Status))
		}
	})

	It("issues creation options with fresh 16-byte challenges, the documented algorithms and residentKey required", Req("MA-ENR-021", "MA-ENR-022", "MA-ENR-023"), func(ctx SpecContext) {
		documented := []int{-8, -7, -257}
		for range 3 {
			c, _ := enrollmentFor(ctx, token)
			o := creationOptions(c.Options)
			expectFreshChallenge(o.Challenge)
			Expect(o.PubKeyCredParams).NotTo(BeEmpty(), "pubKeyCredParams")
			for _, p := range o.PubKeyCredParams {
				Expect(p.Type).To(Equal("public-key"), "pubKeyCredParams type")
				Expect(documented).To(ContainElement(p.Alg), "pubKeyCredParams offers alg %d; the documented ones are %v", p.Alg, documented)
			}
			Expect(o.AuthenticatorSelection.ResidentKey).To(Equal("required"), "authenticatorSelection.residentKey")
		}
	})

	// Login: the same changes to an assertion for the webauthn grant.
	type loginCase struct {
		name, req string
		mods      func(opts json.RawMessage) (authenticator.Mods, string)
	}
	for _, lc := range []loginCase{
		{"from another origin", "AUTH-PK-007", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Origin: "https://evil.example"}, ""
		}},
		{"for another RP ID (rpIdHash)", "AUTH-PK-008", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{RPID: "evil.example"}, ""
		}},
		{"with a signature that does not verify", "AUTH-PK-009", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Edit: editResponse("signature", func(b []byte) []byte {
				b = append([]byte(nil), b...)
				b[len(b)-1] ^= 0x01
				return b
			})}, ""
		}},
		{"without user presence", "AUTH-PK-010", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{NoUP: true}, ""
		}},
		{"without user verification when the options require it", "AUTH-PK-011", func(opts json.RawMessage) (authenticator.Mods, string) {
			var o struct {
				UV string `json:"userVerification"`
			}
			_ = json.Unmarshal(opts, &o)
			if o.UV != "required" {
				return authenticator.Mods{}, fmt.Sprintf("the request options ask for userVerification %q, not \"required\": an assertion without UV is acceptable", o.UV)
			}
			return authenticator.Mods{NoUV: true}, ""
		}},
		{"whose clientData type is webauthn.create", "AUTH-PK-012", func(json.RawMessage) (authenticator.Mods, string) {
			return authenticator.Mods{Type: "webauthn.create"}, ""
		}},
	} {
		It("refuses a login assertion "+lc.name, Req(lc.req), func(ctx SpecContext) {
			c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
			mods, skip := lc.mods(c.Options)
			if skip != "" {
				Skip(skip)
			}
			assertion, err := alice.Authn.LoginWith(c.Options, F.Target.WebAuthn.Origin, alice.Passkeys[0], mods)
			Expect(err).NotTo(HaveOccurred())
			expectGrantRefused(call(F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods)), "the forged or replayed ceremony")
		})
	}

	It("refuses a login that presents an enrollment's auth_session", Req("AUTH-PK-014"), func(ctx SpecContext) {
		c, _ := enrollmentFor(ctx, token)
		challenge, err := base64.RawURLEncoding.DecodeString(creationOptions(c.Options).Challenge)
		Expect(err).NotTo(HaveOccurred())
		// A valid assertion over the enrollment's challenge, for the login endpoint.
		lc := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		assertion, err := alice.Authn.LoginWith(lc.Options, F.Target.WebAuthn.Origin, alice.Passkeys[0], authenticator.Mods{Challenge: challenge})
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(call(F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods)), "the forged or replayed ceremony")
	})

	It("refuses a login with an expired auth_session", Req("AUTH-PK-015"), func(ctx SpecContext) {
		f := shortLived()
		c := decodeCeremony(call(f.PasskeyChallenge(ctx, host)))
		waitOutCeremony(ctx, c.Options)
		assertion, err := alice.Authn.Login(c.Options, F.Target.WebAuthn.Origin, alice.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(call(f.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods)), "the forged or replayed ceremony")
	})

	It("issues login challenges of at least 16 bytes that are never repeated", Req("AUTH-PK-013"), func(ctx SpecContext) {
		for range 3 {
			var o struct {
				Challenge string `json:"challenge"`
			}
			Expect(json.Unmarshal(decodeCeremony(call(F.PasskeyChallenge(ctx, host))).Options, &o)).To(Succeed())
			expectFreshChallenge(o.Challenge)
		}
	})
})

// maxExpiryWait bounds how long a spec waits for a token or auth_session to expire
// (its stated lifetime plus one second).
const maxExpiryWait = 10 * time.Second

// maxLifetime is the longest stated lifetime the suite waits out.
const maxLifetime = maxExpiryWait - time.Second
