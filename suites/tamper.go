package suites

import (
	"crypto/rand"
	"encoding/json"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
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
		u = signUp(ctx, harness.ES256)
	})

	// tokenRequest finishes a login ceremony with a prepared assertion.
	tokenRequest := func(ctx SpecContext, authSession string, assertion []byte) *harness.Response {
		GinkgoHelper()
		return call(F.TokenByWebAuthn(ctx, host, authSession, assertion, harness.MeAudience(host), harness.ScopeReadMethods))
	}

	It("refuses a login assertion signed over another challenge", Req("AUTH-PK-004"), func(ctx SpecContext) {
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		assertion, err := u.Authn.LoginWith(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0], harness.Mods{Challenge: randomBytes(32)})
		Expect(err).NotTo(HaveOccurred())
		expectGrantRefused(tokenRequest(ctx, c.AuthSession, assertion))
	})

	It("refuses a login whose signature counter did not increase", Req("AUTH-PK-005"), func(ctx SpecContext) {
		login(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods)
		last := u.Passkeys[0].Counter // the counter the server saw last
		c := decodeCeremony(call(F.PasskeyChallenge(ctx, host)))
		assertion, err := u.Authn.LoginWith(c.Options, F.Target.WebAuthn.Origin, u.Passkeys[0], harness.Mods{Counter: &last})
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
		token := login(ctx, u, u.Passkeys[0], host).AccessToken
		before := methodIDs(listMethods(ctx, host, token))
		resp := startEnrollment(ctx, host, token)
		Expect(resp).To(HaveStatus(http.StatusAccepted))
		c := decodeCeremony(resp)
		att, _, err := harness.NewAuthenticator().RegisterWith(c.Options, F.Target.WebAuthn.Origin, harness.ES256, harness.Mods{Challenge: randomBytes(32)})
		Expect(err).NotTo(HaveOccurred())
		resp = verify(ctx, host, token, resp.Location(), c.AuthSession, att)
		Expect(resp).To(HaveStatus(http.StatusBadRequest), "an attestation over a challenge the server never issued was accepted")
		Expect(methodIDs(listMethods(ctx, host, token))).To(ConsistOf(before), "a refused verification changed the methods")
	})

	It("refuses an enrollment auth_session used a second time", Req("MA-ENR-010"), func(ctx SpecContext) {
		token := login(ctx, u, u.Passkeys[0], host).AccessToken
		resp := startEnrollment(ctx, host, token)
		Expect(resp).To(HaveStatus(http.StatusAccepted))
		location, c := resp.Location(), decodeCeremony(resp)
		att, _, err := harness.NewAuthenticator().Register(c.Options, F.Target.WebAuthn.Origin, harness.ES256)
		Expect(err).NotTo(HaveOccurred())
		resp = verify(ctx, host, token, location, c.AuthSession, att)
		Expect(resp).To(HaveStatus(http.StatusCreated))
		DeferCleanup(deleteMethod, host, token, resp.Object()["id"])
		before := methodIDs(listMethods(ctx, host, token))

		// Another device answers the same options with the same auth_session.
		att, _, err = harness.NewAuthenticator().Register(c.Options, F.Target.WebAuthn.Origin, harness.ES256)
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

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
