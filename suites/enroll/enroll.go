package enroll

import (
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
