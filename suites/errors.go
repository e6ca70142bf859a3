package suites

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/catalogue"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// The error catalogue (fixtures/catalogue): wrong credentials and bad inputs, per
// operation. Each refusal must carry the documented error body, and a read after it
// must show that nothing was created or changed. Specs collect every failing case
// before failing, so one report lists them all.
var _ = Describe("Error catalogue: refused requests change nothing", Label("errors"), Ordered, ContinueOnFailure, func() {
	var (
		host       string
		alice, bob *user
		full       harness.Tokens // alice, every scope of the catalogue, with an ID token
		methodID   string         // alice's passkey method
		bobMethod  map[string]any // bob's, as he sees it
		bobToken   string
	)

	// state is what a refused request must not change: alice's methods and their names.
	var baseline string
	state := func(ctx SpecContext) string {
		GinkgoHelper()
		var out []string
		for _, m := range listMethods(ctx, host, full.AccessToken) {
			out = append(out, fmt.Sprintf("%v name=%v", m["id"], m["name"]))
		}
		slices.Sort(out)
		return strings.Join(out, "; ")
	}

	// expectUnchanged reads the state after a spec's refusals. Nothing in this
	// container may change it, so one read per spec compares with the previous one;
	// after a change the new state is the baseline, so that only the spec that
	// changed it fails.
	expectUnchanged := func(ctx SpecContext) {
		GinkgoHelper()
		prev, now := baseline, state(ctx)
		baseline = now
		Expect(now).To(Equal(prev), "a refused request changed the user's methods")
	}

	BeforeAll(func(ctx SpecContext) {
		host = requireCustomDomain()
		alice, bob = signUp(ctx, authenticator.ES256), signUp(ctx, authenticator.ES256)
		full = signIn(ctx, alice, alice.Passkeys[0], host, append([]string{"openid", "offline_access"}, catalogueScopes()...)...)
		ms := listMethods(ctx, host, full.AccessToken)
		Expect(ms).NotTo(BeEmpty())
		methodID, _ = ms[0]["id"].(string)
		bobToken = signIn(ctx, bob, bob.Passkeys[0], host).AccessToken
		bms := listMethods(ctx, host, bobToken)
		Expect(bms).NotTo(BeEmpty())
		bobMethod = bms[0]
		baseline = state(ctx)
	})

	// opRequest builds the request of an operation with its placeholders filled in.
	opRequest := func(op catalogue.Operation, body string) *harness.Request {
		path := strings.ReplaceAll(op.Path, catalogue.MethodID, url.PathEscape(methodID))
		r := &harness.Request{Method: op.Method, URL: harness.MeURL(host, path), Header: http.Header{}, Deliberate: true}
		if body != "" {
			body = strings.ReplaceAll(body, catalogue.AuthSession, "catalogue-not-a-session")
			body = strings.ReplaceAll(body, catalogue.AuthnResponse, `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`)
			r.Body = []byte(body)
			r.Header.Set("Content-Type", catalogue.JSON)
		}
		return r
	}

	// Wrong credentials, one spec per requirement with all of its cases.
	for _, g := range catalogue.AuthGroups {
		cases := slices.DeleteFunc(slices.Clone(catalogue.AuthCases), func(c catalogue.AuthCase) bool { return c.Req != g.Req })
		It("refuses "+g.What+" with 401", Req(g.Req, "MA-ERR-001", "MA-ERR-010"), func(ctx SpecContext) {
			var failures, skipped []string
			ran := 0
			for _, ac := range cases {
				token := full.AccessToken
				switch ac.From {
				case catalogue.FromIDToken:
					if full.IDToken == "" {
						skipped = append(skipped, ac.Name+": the target issued no ID token for scope openid")
						continue
					}
					token = full.IDToken
				case catalogue.FromOtherAudience:
					resp := passkeyLogin(ctx, alice, alice.Passkeys[0], host, "", append([]string{"openid"}, catalogueScopes()...)...)
					Expect(resp).To(HaveStatus(http.StatusOK), "a login without an audience (a token for /userinfo)")
					var t harness.Tokens
					Expect(resp.JSON(&t)).To(Succeed())
					token = t.AccessToken
				}
				ran++
				for _, op := range catalogue.Operations {
					if !ac.AllOperations && !slices.Contains(catalogue.Representative, op.Name()) {
						continue
					}
					r := opRequest(op, op.Body)
					if v, present := ac.Header(token); present {
						r.Header.Set("Authorization", v)
					}
					resp := deliver(F.Client.Do(ctx, r))
					failures = append(failures, refusalProblems(op.Name()+", "+ac.Name, resp, http.StatusUnauthorized)...)
				}
			}
			if ran == 0 {
				Skip(strings.Join(skipped, "; "))
			}
			expectNoFailures(failures)
			expectUnchanged(ctx)
		})
	}

	It("refuses an expired token with 401", Req("MA-AUTHZ-009"), func(ctx SpecContext) {
		// The suite cannot mint a token the target would sign; it can only wait one out,
		// so it needs a client whose tokens live a few seconds.
		f := shortLived()
		t := loginAs(ctx, f, alice, alice.Passkeys[0], host, harness.ScopeReadFactors)
		issued := time.Now()
		ttl := time.Duration(t.ExpiresIn) * time.Second
		if t.ExpiresIn <= 0 || ttl+time.Second > maxExpiryWait {
			Skip(fmt.Sprintf("the access tokens of clients.short_lived live %d s (expires_in); waiting one out takes longer than the %v this suite allows: give that client a token lifetime of at most %v", t.ExpiresIn, maxExpiryWait, maxLifetime))
		}
		// The same token is accepted while fresh, so that expiry is the only reason to refuse it later.
		resp := call(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: harness.MeURL(host, "/factors"), Bearer: t.AccessToken, Deliberate: true}))
		if resp.Status != http.StatusOK {
			Fail(fmt.Sprintf("%sa fresh token of clients.short_lived was refused (GET /factors answered %d), so its refusal after expiry would prove nothing", verdict.InconclusivePrefix, resp.Status))
		}
		waitUntil(ctx, issued.Add(ttl+time.Second), "the access token to expire")
		resp = deliver(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: harness.MeURL(host, "/factors"), Bearer: t.AccessToken, Deliberate: true}))
		expectNoFailures(refusalProblems("GET /factors with a token past its expires_in", resp, http.StatusUnauthorized))
	})

	It("refuses a token issued on the tenant's other domain (another issuer) with 401", Req("MA-AUTHZ-010"), func(ctx SpecContext) {
		// A validly signed token with another issuer: the only real source is the
		// tenant's other domain, reached through Universal Login there.
		if F.Target.Domain == host {
			Skip("the target has one domain")
		}
		other, why := canonicalMeToken(ctx)
		if other == "" {
			Skip(why)
		}
		Expect(claims(other)["iss"]).NotTo(Equal("https://"+host+"/"), "%s issued a token in the name of %s", F.Target.Domain, host)
		// It is valid where it was issued, so its issuer is the only reason to refuse it here.
		resp := call(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: harness.MeURL(F.Target.Domain, "/factors"), Bearer: other, Deliberate: true}))
		if resp.Status != http.StatusOK {
			Fail(fmt.Sprintf("%sthe token of %s was refused by its own domain (GET /factors answered %d)", verdict.InconclusivePrefix, F.Target.Domain, resp.Status))
		}
		resp = deliver(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: harness.MeURL(host, "/factors"), Bearer: other, Deliberate: true}))
		expectNoFailures(refusalProblems("GET /factors with a token of "+F.Target.Domain, resp, http.StatusUnauthorized))
	})

	It("refuses a token without the operation's scope with 403, on every operation", Req("MA-AUTHZ-011"), func(ctx SpecContext) {
		var failures []string
		scopes := catalogueScopes()
		for _, missing := range scopes {
			// One login per scope: every scope of the catalogue but this one.
			rest := slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == missing })
			token := signIn(ctx, alice, alice.Passkeys[0], host, rest...).AccessToken
			for _, op := range catalogue.Operations {
				if op.Scope != missing {
					continue
				}
				r := opRequest(op, op.Body)
				r.Bearer = token
				resp := deliver(F.Client.Do(ctx, r))
				failures = append(failures, refusalProblems(op.Name()+" without "+missing, resp, http.StatusForbidden)...)
			}
		}
		expectNoFailures(failures)
		expectUnchanged(ctx)
	})

	// Bad inputs, one spec per requirement (so that a report's verdict per requirement
	// is exact), each running that requirement's cases on every operation they name.
	for _, g := range catalogue.InputGroups {
		cases := slices.DeleteFunc(slices.Clone(catalogue.InputCases), func(c catalogue.InputCase) bool { return c.Req != g.Req })
		ids := []string{g.Req, "MA-ERR-001", "MA-ERR-010"}
		if r, ok := spec.RequirementByID(g.Req); ok && r.Level != "MUST" {
			// A server without the recommended behaviour gets a warning, not a failure.
			ids = ids[:1]
		}
		It("refuses "+g.What+" with the documented error, and changes nothing", Req(ids...), func(ctx SpecContext) {
			// The verify cases need a pending enrollment and a valid attestation for it,
			// so that what a case breaks is the only reason to refuse it.
			fill, verifyTarget := strings.NewReplacer(), ""
			if slices.ContainsFunc(cases, func(c catalogue.InputCase) bool { return strings.HasSuffix(c.Op, "/verify") }) {
				resp := startEnrollment(ctx, host, full.AccessToken)
				Expect(resp).To(HaveStatus(http.StatusAccepted), "POST /authentication-methods")
				c := decodeCeremony(resp)
				att, _, err := authenticator.New().Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
				Expect(err).NotTo(HaveOccurred())
				session, _ := json.Marshal(c.AuthSession)
				fill = strings.NewReplacer(`"`+catalogue.AuthSession+`"`, string(session), catalogue.AuthnResponse, string(att))
				verifyTarget = verifyURL(host, resp.Location())
			}
			var failures []string
			for _, c := range cases {
				op := catalogue.Op(c.Op)
				r := opRequest(op, "")
				if strings.HasSuffix(op.Path, "/verify") {
					r.URL = verifyTarget
				}
				r.Body = []byte(fill.Replace(string(c.Body)))
				switch c.ContentType {
				case "":
					r.Header.Set("Content-Type", catalogue.JSON)
				case catalogue.NoCType:
				default:
					r.Header.Set("Content-Type", c.ContentType)
				}
				r.Bearer = full.AccessToken
				resp, err := F.Client.Do(ctx, r)
				if err != nil && len(c.Body) > catalogue.Oversize {
					// A server may close the connection on an oversized body before the
					// client has sent it all: a refusal, without a status to check.
					continue
				}
				resp = deliver(resp, err)
				failures = append(failures, refusalProblems(op.Name()+", "+c.Name, resp, c.Status...)...)
			}
			expectNoFailures(failures)
			// One read for the group: an accepted case fails above by name, and what a
			// refused one changed shows in the ids and names (each PATCH case sends its
			// own name).
			expectUnchanged(ctx)
		})
	}

	It("answers 404 for an unknown or another user's method id, and leaves the other user's method alone", Req("MA-ERR-011", "MA-ERR-012", "MA-ERR-001"), func(ctx SpecContext) {
		bobID, _ := bobMethod["id"].(string)
		var failures []string
		for _, id := range []string{"passkey|dev_000000000000000000000000", bobID} {
			whose := "an unknown id"
			if id == bobID {
				whose = "another user's id"
			}
			path := methodIDPath(id)
			resp := deliver(F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: harness.MeURL(host, path), Bearer: full.AccessToken, Deliberate: true}))
			failures = append(failures, refusalProblems("GET with "+whose, resp, http.StatusNotFound)...)
			// PATCH and DELETE document no 404; 404 is what the API answers for ids it
			// does not know, and 400 is tolerated.
			resp = deliver(F.Client.Do(ctx, &harness.Request{Method: http.MethodPatch, URL: harness.MeURL(host, path), Bearer: full.AccessToken, JSON: map[string]any{"name": "not yours"}, Deliberate: true}))
			failures = append(failures, refusalProblems("PATCH with "+whose, resp, http.StatusNotFound, http.StatusBadRequest)...)
			resp = deliver(F.Client.Do(ctx, &harness.Request{Method: http.MethodDelete, URL: harness.MeURL(host, path), Bearer: full.AccessToken, Deliberate: true}))
			failures = append(failures, refusalProblems("DELETE with "+whose, resp, http.StatusNotFound, http.StatusBadRequest)...)
		}
		expectNoFailures(failures)
		expectUnchanged(ctx)
		resp := call(F.Me(ctx, http.MethodGet, host, methodIDPath(bobID), bobToken, nil))
		Expect(resp).To(HaveStatus(http.StatusOK), "the other user's method is gone")
		Expect(fmt.Sprint(resp.Object()["name"])).To(Equal(fmt.Sprint(bobMethod["name"])), "the other user's method was renamed")
	})
})

// catalogueScopes are the scopes of every catalogued operation, in order.
func catalogueScopes() []string {
	var out []string
	for _, op := range catalogue.Operations {
		if !slices.Contains(out, op.Scope) {
			out = append(out, op.Scope)
		}
	}
	return out
}
