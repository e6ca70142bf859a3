package suites

import (
	"net/http"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
)

// Who may call the My Account API: a token for its audience, with the operation's
// scope; nothing else.
var _ = Describe("Access to the My Account API", Label("access"), Ordered, ContinueOnFailure, func() {
	var (
		host string
		u    *user
	)

	BeforeAll(func(ctx SpecContext) {
		host = requireCustomDomain()
		u = signUp(ctx, authenticator.ES256)
	})

	It("refuses a request without a token with 401", Req("MA-AUTHZ-003"), func(ctx SpecContext) {
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/authentication-methods"},
			{http.MethodPost, "/authentication-methods"},
			{http.MethodGet, "/factors"},
		} {
			var body any
			if r.method == http.MethodPost {
				body = map[string]any{"type": "passkey"}
			}
			resp := call(F.Client.Do(ctx, &harness.Request{Method: r.method, URL: harness.MeURL(host, r.path), JSON: body, Deliberate: true}))
			Expect(resp).To(HaveStatus(http.StatusUnauthorized), "%s %s without Authorization", r.method, r.path)
		}
	})

	It("refuses a token whose audience is not https://{domain}/me/ with 401", Req("MA-AUTHZ-001"), func(ctx SpecContext) {
		resp := passkeyLogin(ctx, u, u.Passkeys[0], host, "", append([]string{"openid"}, harness.MethodScopes...)...)
		Expect(resp).To(HaveStatus(http.StatusOK), "a login without an audience")
		var t harness.Tokens
		Expect(resp.JSON(&t)).To(Succeed())
		resp = call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", t.AccessToken, nil))
		Expect(resp).To(HaveStatus(http.StatusUnauthorized), "a token issued without the My Account audience was accepted")
	})

	It("refuses a token without the operation's scope with 403", Req("MA-AUTHZ-002"), func(ctx SpecContext) {
		readOnly := signIn(ctx, u, u.Passkeys[0], host, harness.ScopeReadMethods).AccessToken
		createOnly := signIn(ctx, u, u.Passkeys[0], host, harness.ScopeCreateMethods).AccessToken

		resp := startEnrollment(ctx, host, readOnly)
		Expect(resp).To(HaveStatus(http.StatusForbidden), "POST /authentication-methods needs %s", harness.ScopeCreateMethods)

		resp = call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", createOnly, nil))
		Expect(resp).To(HaveStatus(http.StatusForbidden), "GET /authentication-methods needs %s", harness.ScopeReadMethods)

		resp = call(F.Me(ctx, http.MethodGet, host, "/factors", readOnly, nil))
		Expect(resp).To(HaveStatus(http.StatusForbidden), "GET /factors needs %s", harness.ScopeReadFactors)

		ms := listMethods(ctx, host, readOnly)
		Expect(ms).NotTo(BeEmpty())
		id, _ := ms[0]["id"].(string)
		resp = call(F.Me(ctx, http.MethodDelete, host, methodIDPath(id), readOnly, nil))
		Expect(resp).To(HaveStatus(http.StatusForbidden), "DELETE /authentication-methods/{id} needs %s", harness.ScopeDeleteMethods)
		Expect(methodIDs(listMethods(ctx, host, readOnly))).To(ContainElement(id), "a refused DELETE removed the method")
	})

	It("does not serve the API without its version in the path", Req("MA-API-002"), func(ctx SpecContext) {
		t := signIn(ctx, u, u.Passkeys[0], host).AccessToken
		resp := call(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: F.Target.BaseURL(host) + "/me/authentication-methods", Bearer: t, Deliberate: true}))
		Expect(resp).To(HaveStatus(http.StatusNotFound))
	})

	It("answers the read operations as the API description says", Req("MA-API-001"), func(ctx SpecContext) {
		// Every exchange of every spec is validated; this one walks the read operations
		// on their own so that a schema defect there shows as one clear failure.
		t := signIn(ctx, u, u.Passkeys[0], host).AccessToken
		Expect(call(F.Me(ctx, http.MethodGet, host, "/factors", t, nil))).To(HaveStatus(http.StatusOK))
		ms := listMethods(ctx, host, t)
		Expect(ms).NotTo(BeEmpty())
		for _, id := range methodIDs(ms) {
			Expect(call(F.Me(ctx, http.MethodGet, host, methodIDPath(id), t, nil))).To(HaveStatus(http.StatusOK))
		}
		Expect(call(F.Me(ctx, http.MethodGet, host, "/authentication-methods?type=passkey", t, nil))).To(HaveStatus(http.StatusOK))
	})
})
