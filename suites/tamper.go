package suites

import (
	"context"
	"crypto/rand"
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
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, assertion))
	})

	It("refuses a login whose signature counter did not increase", Req("AUTH-PK-005"), func(ctx SpecContext) {
		signIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
		last := u.Passkeys[0].Counter // the counter the server saw last
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		assertion, err := u.Authn.LoginWith(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0], authenticator.Mods{Counter: &last})
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, assertion))
	})

	It("refuses a login auth_session used a second time", Req("AUTH-PK-006"), func(ctx SpecContext) {
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		first, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenRequest(ctx, c.AuthSession, first)).To(HaveStatus(http.StatusOK))
		// A fresh, valid assertion (the counter goes up) for the same challenge and session.
		second, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, second))
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

// verify posts an attestation to {Location}/verify.
func verify(ctx SpecContext, host, token, location, authSession string, attestation []byte) *harness.Response {
	GinkgoHelper()
	Expect(location).NotTo(BeEmpty(), "the enrollment answered without a Location")
	return send(ctx, &harness.Request{Method: http.MethodPost, URL: verifyURL(host, location), Bearer: token,
		JSON: map[string]any{"auth_session": authSession, "authn_response": json.RawMessage(attestation)}})
}

// deleteMethod removes a method the spec created; used with DeferCleanup.
func deleteMethod(ctx SpecContext, host, token string, id any) {
	s, _ := id.(string)
	if s == "" {
		return
	}
	_, _ = F.Me(ctx, http.MethodDelete, host, methodIDPath(s), token, nil)
}

// expectGrantRefused checks a token request was refused as a client error with an
// OAuth error body.
func expectGrantRefused(resp *harness.Response) {
	GinkgoHelper()
	Expect(resp.Status).To(BeNumerically(">=", 400), "the forged or replayed ceremony was accepted: %s", resp.Body)
	Expect(resp.Status).To(BeNumerically("<", 500), "a forged ceremony must be refused as a client error: %s", resp.Body)
	Expect(resp.Object()).To(HaveKey("error"), "the refusal must carry an OAuth error")
}

// unofferedAlgAttestation answers creation options with a credential of an algorithm
// they do not offer, as a client that ignores pubKeyCredParams would (the options are
// rewritten to offer it); it skips the spec when every algorithm the virtual
// authenticator can create is offered.
func unofferedAlgAttestation(options json.RawMessage) ([]byte, authenticator.Alg) {
	GinkgoHelper()
	offered := map[authenticator.Alg]bool{}
	for _, p := range creationOptions(options).PubKeyCredParams {
		offered[authenticator.Alg(p.Alg)] = true
	}
	alg := authenticator.Alg(0)
	for _, a := range []authenticator.Alg{authenticator.EdDSA, authenticator.RS256, authenticator.ES256} {
		if !offered[a] {
			alg = a
		}
	}
	if alg == 0 {
		Skip("the options offer every algorithm the virtual authenticator can create (EdDSA, ES256, RS256)")
	}
	var opts map[string]any
	Expect(json.Unmarshal(options, &opts)).To(Succeed())
	opts["pubKeyCredParams"] = []map[string]any{{"type": "public-key", "alg": int(alg)}}
	rewritten, err := json.Marshal(opts)
	Expect(err).NotTo(HaveOccurred())
	att, _, err := authenticator.New().Register(rewritten, F.Target.WebAuthn.Origin, alg)
	Expect(err).NotTo(HaveOccurred())
	return att, alg
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

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
		expectGrantRefused(call(F.TokenByWebAuthn(ctx, host, c.AuthSession, att, harness.MeAudience(host), harness.ScopeReadMethods)))
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
			expectGrantRefused(call(F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods)))
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
		expectGrantRefused(call(F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods)))
	})

	It("refuses a login with an expired auth_session", Req("AUTH-PK-015"), func(ctx SpecContext) {
		f := shortLived()
		c := decodeCeremony(call(f.PasskeyChallenge(ctx, host)))
		waitOutCeremony(ctx, c.Options)
		assertion, err := alice.Authn.Login(c.Options, F.Target.WebAuthn.Origin, alice.Passkeys[0])
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(call(f.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods)))
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

// shortLived is F with clients.short_lived in the native client's place, so that the
// framework's passkey calls use it; it skips when the target config names none.
func shortLived() *harness.Framework {
	GinkgoHelper()
	if F.Target.Clients.ShortLived.ClientID == "" {
		Skip("the target config has no clients.short_lived (a client whose access tokens and passkey ceremonies live a few seconds), so nothing expires within the time this suite allows")
	}
	f, t := *F, *F.Target
	t.Clients.Native = t.Clients.ShortLived
	f.Target = &t
	return &f
}

// loginAs is login through f's native client.
func loginAs(ctx context.Context, f *harness.Framework, u *user, pk *authenticator.Passkey, host string, scopes ...string) harness.Tokens {
	GinkgoHelper()
	c := decodeCeremony(call(f.PasskeyChallenge(ctx, host)))
	assertion, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, pk)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
	resp := call(f.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), scopes...))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, clients.short_lived)")
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "access_token")
	return t
}

// waitUntil sleeps until deadline, failing if the spec is interrupted first.
func waitUntil(ctx SpecContext, deadline time.Time, what string) {
	GinkgoHelper()
	select {
	case <-ctx.Done():
		Fail("interrupted while waiting for " + what)
	case <-time.After(time.Until(deadline)):
	}
}

// waitOutCeremony waits until the ceremony's timeout has passed, or skips when that
// is longer than the suite allows. The options' timeout is the only lifetime a client
// is told; a server keeps the auth_session about that long.
func waitOutCeremony(ctx SpecContext, options json.RawMessage) {
	GinkgoHelper()
	started := time.Now()
	var o struct {
		Timeout int `json:"timeout"`
	}
	_ = json.Unmarshal(options, &o)
	d := time.Duration(o.Timeout) * time.Millisecond
	if o.Timeout <= 0 || d+time.Second > maxExpiryWait {
		Skip(fmt.Sprintf("the options' timeout is %d ms; waiting an auth_session out takes longer than the %v this suite allows: give clients.short_lived a passkey ceremony lifetime of at most %v", o.Timeout, maxExpiryWait, maxLifetime))
	}
	waitUntil(ctx, started.Add(d+time.Second), "the auth_session to expire")
}

// verifyRequest is the request verify sends, deliberate (the error specs judge the answer).
func verifyRequest(host, token, location, authSession string, attestation []byte) *harness.Request {
	GinkgoHelper()
	Expect(location).NotTo(BeEmpty(), "the enrollment answered without a Location")
	return &harness.Request{Method: http.MethodPost, URL: verifyURL(host, location), Bearer: token, Deliberate: true,
		JSON: map[string]any{"auth_session": authSession, "authn_response": json.RawMessage(attestation)}}
}

// editResponse changes one base64url member of response (an unsigned edit).
func editResponse(member string, f func([]byte) []byte) func(map[string]any) {
	return func(m map[string]any) {
		r, _ := m["response"].(map[string]any)
		s, _ := r[member].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return
		}
		r[member] = base64.RawURLEncoding.EncodeToString(f(b))
	}
}

// editClientData changes clientDataJSON after it was signed.
func editClientData(f func(map[string]any)) func(map[string]any) {
	return editResponse("clientDataJSON", func(b []byte) []byte {
		var cd map[string]any
		if json.Unmarshal(b, &cd) != nil {
			return b
		}
		f(cd)
		out, _ := json.Marshal(cd)
		return out
	})
}
