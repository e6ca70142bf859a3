package enroll

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
)

// Passkeys of the other documented algorithm: the passkey driver's lifecycle
// (methods.go) enrolls and logs in with ES256; here a user whose first passkey is
// RS256 enrolls an RS256 passkey and logs in with it, so RS256 is exercised in both
// roles. One user: 3 writes (start, verify, DELETE).
var _ = framework.AreaOf("enroll", "passkey", "method", "type:passkey").Describe("Passkey enrollment with RS256", func() {
	It("enrolls an RS256 passkey for a user whose first passkey is RS256, and logs in with it", framework.Req("MA-ENR-001", "MA-ENR-004", "MA-ENR-008"), func(ctx SpecContext) {
		host := framework.RequireCustomDomain()
		d := passkeys()
		d.Alg = authenticator.RS256
		u := framework.SignUp(ctx, authenticator.RS256)
		c := framework.Me(ctx, u)
		e := framework.VerifyMethod(ctx, c, d, u, framework.StartMethod(ctx, c, d, u))
		t := framework.SignIn(ctx, u, e.Proof.Passkey, host)
		Expect(framework.Claims(t.AccessToken)["sub"]).To(Equal(u.Subject), "the new passkey must log in the same user")
	})
})

// Asked with use_exclude_credentials: true, the creation options of a passkey
// enrollment name the user's passkeys in excludeCredentials (so that an
// authenticator holding one does not make a second for the same account), by the
// credential ids the API lists as their key_id. Only where the target config says
// the target honours it (use_exclude_credentials: true). One user: 1 filtered read,
// 1 write (a ceremony left to expire).
var _ = framework.AreaOf("enroll", "passkey", "method", "type:passkey").Describe("Passkey enrollment with use_exclude_credentials", func() {
	It("names the user's passkeys in excludeCredentials when the enrollment asks for it", framework.Req("MA-ENR-028"), func(ctx SpecContext) {
		framework.RequireCustomDomain()
		if !framework.F.Target.UseExcludeCredentials {
			Skip("the target config does not say use_exclude_credentials: true")
		}
		u := framework.NewUser(ctx)
		c := framework.Me(ctx, u)
		resp := framework.Call(c.Methods(ctx, "passkey"))
		Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /authentication-methods?type=passkey")
		var listed struct {
			Methods []struct {
				KeyID string `json:"key_id"`
			} `json:"authentication_methods"`
		}
		Expect(resp.JSON(&listed)).To(Succeed())
		Expect(listed.Methods).NotTo(BeEmpty(), "a user signed up with a passkey lists none")
		resp = framework.Call(c.Start(ctx, map[string]any{"type": "passkey", "use_exclude_credentials": true}))
		Expect(resp).To(framework.HaveStatus(http.StatusAccepted), "POST /authentication-methods {type: passkey, use_exclude_credentials: true}")
		var excluded []string
		for _, x := range framework.CreationOptions(framework.DecodeCeremony(resp).Options).ExcludeCredentials {
			excluded = append(excluded, strings.TrimRight(x.ID, "="))
		}
		for _, m := range listed.Methods {
			Expect(excluded).To(ContainElement(strings.TrimRight(m.KeyID, "=")),
				"excludeCredentials %v lacks the user's passkey %s (its key_id)", excluded, m.KeyID)
		}
	})
})
