package contract

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/catalogue"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// Token shapes a schema cannot express (fixtures/catalogue): a My Account request
// with a malformed, tampered or foreign credential is refused with 401 and the
// documented error body. Everything the description expresses (no token, another
// audience, a missing scope, bad bodies and query strings, unknown ids) is the
// contract suite's (contract.go). Cases are spread over users by their per-user
// budget, as there.
var _ = framework.AreaOf("errors").Describe("Error catalogue: wrong credentials are refused", Ordered, ContinueOnFailure, func() {
	var (
		host string
		pool *userPool
	)

	BeforeAll(func(ctx SpecContext) {
		host = framework.RequireCustomDomain()
		pool = newUserPool(host)
		DeferCleanup(func(ctx SpecContext) { pool.cleanup(ctx) })
	})

	// One spec per requirement with all of its cases, each case on the representative
	// operations (or every served one), from the credential of a user with the budget.
	for _, g := range catalogue.AuthGroups {
		cases := slices.DeleteFunc(slices.Clone(catalogue.AuthCases), func(c catalogue.AuthCase) bool { return c.Req != g.Req })
		It("refuses "+g.What+" with 401", framework.Req(g.Req, "MA-ERR-001"), func(ctx SpecContext) {
			var failures []string
			for _, ac := range cases {
				// One request per operation, each on a user with the budget for it; the
				// credential is that user's.
				tokens := map[*contractUser]string{}
				for _, op := range representativeOps(ctx, ac.AllOperations) {
					u := pool.take(ctx, framework.Budget{kindOf(op, nil): 1}, nil)
					if _, ok := tokens[u]; !ok {
						tokens[u] = credential(ctx, u, host, ac.From, pool.scopes)
					}
					in := staticCall(op, u.methodID)
					if v, present := ac.Header(tokens[u]); present {
						in.Header = http.Header{"Authorization": {v}}
					}
					in.NoAuth = true
					failures = append(failures, framework.Refused(ctx, u.c, op.ID, in, op.Name()+", "+ac.Name, false, http.StatusUnauthorized)...)
				}
			}
			framework.ExpectNoFailures(failures)
		})
	}
})

// The token of the other domain comes from a login there, through the login page
// (its posts are limited per IP): the spec stands apart, under the container's name,
// to run after the others (LoginPromptPriority).
var _ = framework.AreaOf("errors").Describe("Error catalogue: wrong credentials are refused", SpecPriority(framework.LoginPromptPriority), func() {
	It("refuses a token issued on the tenant's other domain (another issuer) with 401", framework.Req("MA-AUTHZ-010"), func(ctx SpecContext) {
		// A validly signed token with another issuer: the only real source is the
		// tenant's other domain, reached through Universal Login there.
		host := framework.RequireCustomDomain()
		if framework.F.Target.Domain == host {
			Skip("the target has one domain")
		}
		other, why := framework.CanonicalMeToken(ctx)
		if other == "" {
			Skip(why)
		}
		Expect(framework.Claims(other)["iss"]).NotTo(Equal("https://"+host+"/"), "%s issued a token in the name of %s", framework.F.Target.Domain, host)
		// It is valid where it was issued, so its issuer is the only reason to refuse it
		// here. The login user's reads are scarce: a read while they last, else a
		// filtered read (probePath).
		path := framework.ProbePath(other)
		resp := framework.Call(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: config.MeURL(framework.F.Target.Domain, path), Bearer: other, Deliberate: true}))
		if resp.Status != http.StatusOK {
			framework.Undecided(fmt.Sprintf("the token of %s was refused by its own domain (GET %s answered %d)", framework.F.Target.Domain, path, resp.Status))
		}
		path = framework.ProbePath(other)
		resp = framework.Deliver(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, path), Bearer: other, Deliberate: true}))
		framework.ExpectNoFailures(framework.RefusalProblems("GET "+path+" with a token of "+framework.F.Target.Domain, resp, http.StatusUnauthorized))
	})
})

// representativeOps are the served operations a token-shape case runs on: every
// one, or the catalogue's representative few.
func representativeOps(ctx context.Context, all bool) []spec.Operation {
	GinkgoHelper()
	ops, err := spec.Operations()
	Expect(err).NotTo(HaveOccurred())
	var out []spec.Operation
	for _, op := range ops {
		if (all || slices.Contains(catalogue.Representative, op.ID)) && framework.Served(ctx, op) {
			out = append(out, op)
		}
	}
	return out
}

// credential is the credential a token-shape case starts from, of user u.
func credential(ctx SpecContext, u *contractUser, host, from string, scopes []string) string {
	GinkgoHelper()
	switch from {
	case catalogue.FromIDToken, catalogue.FromOtherAudience:
		audience := config.MeAudience(host)
		if from == catalogue.FromOtherAudience {
			audience = ""
		}
		t, err := framework.F.PasskeyLogin(ctx, host, u.Authn, u.Passkeys[0], audience, append([]string{"openid"}, scopes...)...)
		Expect(err).NotTo(HaveOccurred(), "a login with scope openid")
		if from == catalogue.FromIDToken {
			if t.IDToken == "" {
				Skip("the target issued no ID token for scope openid")
			}
			return t.IDToken
		}
		return t.AccessToken
	}
	tok, err := u.c.Session.Token(ctx)
	Expect(err).NotTo(HaveOccurred())
	return tok
}

// The expired-token spec stands apart from the Ordered container above so that it
// can run last (SpecPriority applies to whole Ordered containers; Serial puts it
// after every parallel spec too), while the token it waits for runs out during the
// other specs.
var _ = framework.AreaOf("errors").Describe("Error catalogue: an expired token", Serial, func() {
	It("refuses an expired token with 401", framework.Req("MA-AUTHZ-009"), SpecPriority(framework.ExpiryPriority), func(ctx SpecContext) {
		// The suite cannot mint a token the target would sign: it waits out one issued
		// when the run started, for as long as its expires_in says.
		t := expiredToken.Await(ctx).(freshToken)
		if t.status != http.StatusOK {
			framework.Undecided(fmt.Sprintf("the token, fresh, was refused (GET /authentication-methods answered %d when it was issued), so its refusal after expiry would prove nothing", t.status))
		}
		resp := framework.Deliver(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: config.MeURL(framework.RequireCustomDomain(), "/authentication-methods"), Bearer: t.token, Deliberate: true}))
		framework.ExpectNoFailures(framework.RefusalProblems("GET /authentication-methods with a token past its expires_in", resp, http.StatusUnauthorized))
	})
})

// freshToken is a My Account access token issued at the start of the run, and what
// the API answered it then (it must work while fresh, so that expiry is the only
// reason to refuse it later).
type freshToken struct {
	token  string
	status int
}

var expiredToken = framework.IssueAtStart("a My Account access token", append(framework.AreaOf("errors").Labels(), framework.Req("MA-AUTHZ-009")...), func(ctx context.Context) (any, time.Duration, error) {
	u, _, err := framework.SignUpQuietly(ctx)
	if err != nil {
		return nil, 0, err
	}
	resp, err := framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: config.MeURL(framework.F.Target.CustomDomain, "/authentication-methods"),
		Bearer: u.Signup.AccessToken, Deliberate: true})
	if err != nil {
		return nil, 0, err
	}
	return freshToken{token: u.Signup.AccessToken, status: resp.Status}, time.Duration(u.Signup.ExpiresIn) * time.Second, nil
})
