package suites

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
)

// Passkey enrollment through the My Account API: start (202 + Location), verify
// (201), list, log in with it, delete (204), and it is gone.
var _ = Describe("Passkey enrollment through the My Account API", Label("enroll", "passkey"), func() {
	for _, alg := range []authenticator.Alg{authenticator.ES256, authenticator.RS256} {
		Context("of a second passkey, "+alg.String(), Ordered, func() {
			var (
				host     string
				u        *user
				token    string
				start    enrollment
				method   map[string]any
				newPK    *authenticator.Passkey
				methodID string
			)

			BeforeAll(func(ctx SpecContext) {
				host = requireCustomDomain()
				// The first passkey uses the other algorithm, so both are exercised in both roles.
				first := authenticator.ES256
				if alg == authenticator.ES256 {
					first = authenticator.RS256
				}
				u = signUp(ctx, first)
				token = signIn(ctx, u, u.Passkeys[0], host).AccessToken
			})

			It("answers 202 with a Location and WebAuthn creation options when enrollment starts", Req("MA-ENR-001", "MA-ENR-008"), func(ctx SpecContext) {
				resp := startEnrollment(ctx, host, token)
				Expect(resp).To(HaveStatus(http.StatusAccepted))
				start.Location = resp.Location()
				Expect(start.Location).NotTo(BeEmpty(), "POST /authentication-methods must answer with a Location header: clients take the method id from it")
				expectOnHost(start.Location, host)
				start.ceremony = decodeCeremony(resp)

				opts := creationOptions(start.Options)
				expectFreshChallenge(opts.Challenge)
				Expect(opts.RP.ID).To(Or(BeEmpty(), Equal(F.Target.RPHost())), "rp.id")
				Expect(opts.User.ID).NotTo(BeEmpty(), "user.id")
				var algs []int
				for _, p := range opts.PubKeyCredParams {
					Expect(p.Type).To(Equal("public-key"))
					algs = append(algs, p.Alg)
				}
				Expect(algs).To(ContainElements(int(authenticator.ES256), int(authenticator.RS256)), "pubKeyCredParams must offer ES256 (-7) and RS256 (-257)")
				Expect(opts.AuthenticatorSelection.ResidentKey).To(Equal("required"), "passkeys are discoverable: residentKey must be required")
			})

			It("answers 201 with a Location and the passkey's documented fields when enrollment is verified", Req("MA-ENR-002"), func(ctx SpecContext) {
				// A second device: the first holds a passkey named in excludeCredentials.
				att, pk, err := authenticator.New().Register(start.Options, F.Target.WebAuthn.Origin, alg)
				Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
				resp := verify(ctx, host, token, start.Location, start.AuthSession, att)
				Expect(resp).To(HaveStatus(http.StatusCreated))
				Expect(resp.Location()).NotTo(BeEmpty(), "verify must answer with a Location header")
				expectOnHost(resp.Location(), host)

				method = resp.Object()
				Expect(method).To(HaveKeyWithValue("type", "passkey"))
				methodID, _ = method["id"].(string)
				Expect(methodID).To(HavePrefix("passkey|"), "id")
				Expect(resp.Location()).To(HaveSuffix(url.PathEscape(methodID)), "Location must name the new method")
				Expect(method).To(HaveKeyWithValue("key_id", pk.IDString()), "key_id must be the credential id")
				Expect(method).To(HaveKeyWithValue("user_handle", base64.RawURLEncoding.EncodeToString(pk.UserHandle)), "user_handle")
				Expect(method).To(HaveKeyWithValue("credential_device_type", "multi_device"), "the authenticator reported a backup-eligible credential")
				Expect(method).To(HaveKeyWithValue("credential_backed_up", true))
				expectSameCOSEKey(method["public_key"], pk.PublicKeyCOSE())
				created, _ := method["created_at"].(string)
				_, err = time.Parse(time.RFC3339, created)
				Expect(err).NotTo(HaveOccurred(), "created_at %q must be an RFC 3339 date-time", created)
				if rp, ok := method["relying_party_id"]; ok {
					Expect(rp).To(Equal(F.Target.RPHost()), "relying_party_id")
				}
				newPK = pk
				u.Passkeys = append(u.Passkeys, pk)
			})

			It("lists the new passkey and returns it by id", Req("MA-ENR-003"), func(ctx SpecContext) {
				Expect(methodIDs(listMethods(ctx, host, token))).To(ContainElement(methodID))
				resp := call(F.Me(ctx, http.MethodGet, host, methodIDPath(methodID), token, nil))
				Expect(resp).To(HaveStatus(http.StatusOK))
				Expect(resp.Object()).To(And(HaveKeyWithValue("id", methodID), HaveKeyWithValue("key_id", method["key_id"])))
			})

			It("logs the user in with the new passkey", Req("MA-ENR-004"), func(ctx SpecContext) {
				t := signIn(ctx, u, newPK, host)
				Expect(claims(t.AccessToken)["sub"]).To(Equal(claims(token)["sub"]), "the new passkey must log in the same user")
			})

			It("answers 204 when the passkey is deleted", Req("MA-ENR-005"), func(ctx SpecContext) {
				resp := call(F.Me(ctx, http.MethodDelete, host, methodIDPath(methodID), token, nil))
				Expect(resp).To(HaveStatus(http.StatusNoContent))
				Expect(resp.Body).To(BeEmpty(), "204 has no body")
			})

			It("no longer lists a deleted passkey and answers 404 for it", Req("MA-ENR-006"), func(ctx SpecContext) {
				Expect(methodIDs(listMethods(ctx, host, token))).NotTo(ContainElement(methodID))
				resp := call(F.Me(ctx, http.MethodGet, host, methodIDPath(methodID), token, nil))
				Expect(resp).To(HaveStatus(http.StatusNotFound))
			})

			It("no longer logs in with a deleted passkey", Req("MA-ENR-007"), func(ctx SpecContext) {
				resp := passkeyLogin(ctx, u, newPK, host, harness.MeAudience(host), harness.ScopeReadMethods)
				Expect(resp.Status).To(BeNumerically(">=", 400), "a deleted passkey logged in: %s", resp.Body)
				Expect(resp.Status).To(BeNumerically("<", 500), "a deleted passkey must be refused as a client error: %s", resp.Body)
				Expect(resp.Object()).To(HaveKey("error"), "the refusal must carry an OAuth error")
				// The first passkey still works: the refusal is about the deleted one.
				signIn(ctx, u, u.Passkeys[0], host)
			})
		})
	}
})
