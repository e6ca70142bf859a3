// Package cors holds the specs of cross-origin requests: the My Account API called
// from a browser application on another origin (the vendor's "Cross-Origin
// Requests": the application's Allowed Origins (CORS) hold its origin, and Allow
// Cross-Origin Authentication is on), as the vendor's browser SDK (auth0-spa-js's
// myAccount client) calls it.
package cors

import (
	"context"
	"sync"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// For every operation of our description (planned ones pending): the preflight a
// browser sends before it (on every domain: a preflight carries no token), a cheap
// real request of it from the allowed origin, and both from an origin no
// application allows. Each operation is an Ordered container of its own, so that
// workers share them out; its preflights and answers are sent once and judged by
// several specs (one requirement each). Users are lent by what is left of their
// per-user budget, as in the contract area.
var _ = framework.AreaOf("cors").Describe("CORS: the API called from a browser application on another origin", func() {
	var (
		mu   sync.Mutex
		pool *framework.Pool[*corsUser]
	)
	take := func(ctx context.Context, need framework.Budget) *corsUser {
		GinkgoHelper()
		host := framework.RequireCustomDomain()
		mu.Lock()
		if pool == nil {
			pool = newPool(host)
		}
		p := pool
		mu.Unlock()
		return p.Take(ctx, need, nil)
	}

	ops, err := spec.Operations()
	if err != nil {
		It("reads the operations of the description", framework.Req("MA-CORS-001"), func() { Fail(err.Error()) })
		return
	}
	for _, op := range ops {
		Describe(op.Name(), Ordered, ContinueOnFailure, func() {
			if op.Planned() {
				PIt("is planned (x-status: planned): the vendor announced it but does not serve it, so nothing is checked yet", framework.Req("MA-CORS-001"))
				return
			}
			var (
				origin      string
				preflights  []*harness.Response // from the allowed origin, one per domain
				answer      *harness.Response   // op from the allowed origin
				kind        = spec.KindOf(op.Method, nil)
				sdkNoClient = sdkHeaders[:3]
			)
			BeforeAll(func(ctx SpecContext) {
				origin = requireOrigin()
				framework.RequireServed(ctx, op)
				for _, host := range framework.F.Target.Domains() {
					preflights = append(preflights, preflight(ctx, op, host, origin))
				}
			})
			// The answer is sent by the first spec that needs it.
			answered := func(ctx SpecContext) *harness.Response {
				GinkgoHelper()
				if answer == nil {
					answer = send(ctx, op, take(ctx, framework.Budget{kind: 1}), origin)
				}
				return answer
			}

			It("answers a preflight from the allowed origin with that origin, "+op.Method+" and the headers Authorization, Content-Type and DPoP", framework.Req("MA-CORS-001"), func() {
				var failures []string
				for _, r := range preflights {
					failures = append(failures, preflightProblems(r, origin, op.Method, sdkNoClient)...)
				}
				framework.ExpectNoFailures(failures)
			})
			It("allows the Auth0-Client header of the vendor's JavaScript SDKs in that preflight", framework.Req("MA-CORS-002"), func() {
				var failures []string
				for _, r := range preflights {
					failures = append(failures, preflightProblems(r, origin, op.Method, sdkHeaders[3:])...)
				}
				framework.ExpectNoFailures(failures)
			})
			It("answers a request from the allowed origin with that origin", framework.Req("MA-CORS-003"), func(ctx SpecContext) {
				if why := allowsOrigin(answered(ctx), origin); why != "" {
					Fail(why)
				}
			})
			It("exposes the headers the vendor's browser SDK reads (Location, WWW-Authenticate, DPoP-Nonce) and the rate-limit headers", framework.Req("MA-CORS-004"), func(ctx SpecContext) {
				framework.ExpectNoFailures(exposeProblems(answered(ctx)))
			})
			It("says Vary: Origin where it names the origin", framework.Req("MA-CORS-005"), func(ctx SpecContext) {
				var failures []string
				for _, r := range append([]*harness.Response{answered(ctx)}, preflights...) {
					failures = append(failures, varyProblems(r)...)
				}
				framework.ExpectNoFailures(failures)
			})
			It("gives an origin no application allows no Access-Control-Allow-Origin, neither itself nor *", framework.Req("MA-CORS-006"), func(ctx SpecContext) {
				var failures []string
				for _, host := range framework.F.Target.Domains() {
					failures = append(failures, refusesOrigin(preflight(ctx, op, host, config.NotAllowedOrigin))...)
				}
				failures = append(failures, refusesOrigin(send(ctx, op, take(ctx, framework.Budget{kind: 1}), config.NotAllowedOrigin))...)
				framework.ExpectNoFailures(failures)
			})
		})
	}
})
