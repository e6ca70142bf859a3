package dpop

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	proofs "github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
)

// DPoP (RFC 9449) at the token endpoint: every grant the suite uses binds its tokens
// to the proof's key, refresh tokens keep the binding, and wrong proofs are refused
// with invalid_dpop_proof. The wrong proofs go to the webauthn grant (a fresh
// ceremony each) and to the refresh_token grant; the authorization code grant gets
// the binding checks only, since every wrong proof there would cost a login through
// the login page, whose posts the vendor limits to 5 a minute per IP.
var _ = framework.AreaOf("dpop", "login").Describe("DPoP at the token endpoint", Ordered, ContinueOnFailure, func() {
	var (
		host string
		u    *dpopUser // signed up with a proof of u.Key; its refresh token is bound to it
		rt   string    // u's refresh token, as the last refresh left it
		// Code-flow clients' refresh tokens and the keys they were obtained with.
		codeRTs = map[string]string{}
		keys    = map[string]*proofs.Key{}
		clients []config.NamedClient
	)

	// Checked before each spec, so that every skipped spec says why.
	BeforeEach(func() {
		requireDPoP()
		host = framework.RequireCustomDomain()
	})

	It("binds the webauthn grant's tokens to the proof's key at signup and at login, with an ES256 key and one of each other algorithm discovery lists", framework.Req("AUTH-DPOP-001"), func(ctx SpecContext) {
		algs, notes := proofAlgs(ctx, host)
		if len(notes) > 0 {
			AddReportEntry("algorithms not checked", strings.Join(notes, "\n"))
		}
		for _, alg := range algs {
			key := proofs.MustKey(alg)
			bu := signUpBound(ctx, authenticator.ES256, key)
			if u == nil {
				u, rt = bu, bu.Signup.RefreshToken // the specs below use it whatever this one finds
			}
			expectBound(bu.SignupResponse, key, "the webauthn grant (signup) with an "+string(alg)+" key")
			resp := webauthnGrant(ctx, bu.User, host, withKey(key))
			expectBound(resp, key, "the webauthn grant (login) with an "+string(alg)+" key")
		}
		Expect(rt).NotTo(BeEmpty(), "the signup asked for offline_access but got no refresh token")
	})

	It("binds the authorization code grant's tokens to the proof's key, for every configured client", framework.Req("AUTH-DPOP-002"), func(ctx SpecContext) {
		framework.RequireLoginConfig()
		for _, c := range framework.F.Target.LoginClients() {
			if framework.F.Target.DPoPFor(c.Name) != config.DPoPOff {
				clients = append(clients, c)
			}
		}
		if len(clients) == 0 {
			Skip("every code-flow client's dpop is off")
		}
		d := framework.LoginDriver(ctx, framework.F.Target.Login.Driver)
		for _, c := range clients {
			key := proofs.MustKey(proofs.ES256)
			a := framework.NewAuth(framework.LoginHost(), c, "openid", "offline_access", harness.ScopeReadMethods)
			t := expectBound(framework.Redeem(ctx, a, framework.CodeLogin(ctx, d, a).Code, false, nil, withKey(key)), key, "the authorization_code grant of the "+c.Name+" client")
			Expect(t.RefreshToken).NotTo(BeEmpty(), "the %s client asked for offline_access but got no refresh token", c.Name)
			codeRTs[c.Name], keys[c.Name] = t.RefreshToken, key
		}
	})

	It("keeps the binding when a refresh token is redeemed with a proof of its key", framework.Req("AUTH-DPOP-003"), func(ctx SpecContext) {
		Expect(u).NotTo(BeNil(), "no DPoP user: the signup spec failed")
		t := expectBound(framework.Refresh(ctx, host, nativeClient(), rt, withKey(u.Key)), u.Key, "the refresh_token grant of the native client")
		rt = cmpOr(t.RefreshToken, rt)
		for _, c := range clients {
			if codeRTs[c.Name] == "" {
				continue // the code-flow spec failed for it
			}
			t := expectBound(framework.Refresh(ctx, framework.LoginHost(), c, codeRTs[c.Name], withKey(keys[c.Name])), keys[c.Name], "the refresh_token grant of the "+c.Name+" client")
			codeRTs[c.Name] = cmpOr(t.RefreshToken, codeRTs[c.Name])
		}
	})

	It("refuses a public client's bound refresh token with another key's proof or without a proof", framework.Req("AUTH-DPOP-004"), func(ctx SpecContext) {
		// RFC 9449 §5 binds the refresh tokens of public clients only: a confidential
		// client's are bound by its authentication, so either answer is right there.
		i := slices.IndexFunc(clients, func(c config.NamedClient) bool { return c.Public })
		if i < 0 {
			Skip("needs a public client (clients.spa) whose tokens the code-flow spec bound: RFC 9449 §5 requires the binding of public clients' refresh tokens only")
		}
		c := clients[i]
		if codeRTs[c.Name] == "" {
			Skip("the code-flow spec obtained no refresh token of the " + c.Name + " client with a proof (see AUTH-DPOP-002)")
		}
		for what, mod := range map[string]func(*harness.Request){
			"another key's proof": withKey(proofs.MustKey(proofs.ES256)),
			"no proof":            func(r *harness.Request) { r.NoProof = true },
		} {
			resp := framework.Refresh(ctx, framework.LoginHost(), c, codeRTs[c.Name], mod)
			expectRefreshBindingRefused(resp, "the "+c.Name+" client's bound refresh token redeemed with "+what)
		}
	})

	// Wrong proofs, one spec per requirement: each on a fresh webauthn login of u and
	// on a refresh of u's refresh token, all with u's key so that only the named
	// defect is wrong.
	for _, c := range []struct {
		req, what string
		mods      func() [][]proofs.Option // one proof per entry
		nonceSafe bool                     // meaningful when the target demands nonces
	}{
		{"AUTH-DPOP-005", "a proof for another HTTP method (htm)", func() [][]proofs.Option { return [][]proofs.Option{{proofs.WithClaim("htm", http.MethodGet)}} }, true},
		{"AUTH-DPOP-006", "a proof for another URI (htu)", func() [][]proofs.Option {
			return [][]proofs.Option{{proofs.WithClaim("htu", framework.F.Target.BaseURL(framework.RequireCustomDomain())+"/userinfo")}}
		}, true},
		{"AUTH-DPOP-007", "a proof made an hour ago or an hour ahead (iat)", func() [][]proofs.Option {
			return [][]proofs.Option{{proofs.WithClaim("iat", time.Now().Add(-time.Hour).Unix())}, {proofs.WithClaim("iat", time.Now().Add(time.Hour).Unix())}}
		}, false},
		{"AUTH-DPOP-009", "a proof whose signature does not verify with its jwk", func() [][]proofs.Option { return [][]proofs.Option{{proofs.BadSignature()}} }, true},
		{"AUTH-DPOP-010", "an unsigned proof (alg none)", func() [][]proofs.Option { return [][]proofs.Option{{proofs.AlgNone()}} }, true},
		{"AUTH-DPOP-011", "a proof carrying a private key in its jwk", func() [][]proofs.Option { return [][]proofs.Option{{proofs.PrivateJWK()}} }, true},
		{"AUTH-DPOP-012", "a proof typed JWT, not dpop+jwt", func() [][]proofs.Option { return [][]proofs.Option{{proofs.WithHeader("typ", "JWT")}} }, true},
	} {
		It("refuses "+c.what+" with invalid_dpop_proof, at the webauthn and the refresh_token grant", framework.Req(c.req), func(ctx SpecContext) {
			Expect(u).NotTo(BeNil(), "no DPoP user: the signup spec failed")
			if t := framework.F.Target; !c.nonceSafe && t.NonceAtToken(t.NativePublic()) {
				Skip("the target demands nonces, and RFC 9449 §4.3 (step 11) lets a server judge a proof's age by its nonce instead of its iat")
			}
			for _, opts := range c.mods() {
				resp := webauthnGrant(ctx, u.User, host, withKey(u.Key, opts...))
				expectProofRefused(resp, "the webauthn grant with "+c.what)
				resp = framework.Refresh(ctx, host, nativeClient(), rt, withKey(u.Key, opts...))
				expectProofRefused(resp, "the refresh_token grant with "+c.what)
			}
		})
	}

	It("refuses a proof used before (the same jti) with invalid_dpop_proof, at the webauthn and the refresh_token grant", framework.Req("AUTH-DPOP-008"), func(ctx SpecContext) {
		Expect(u).NotTo(BeNil(), "no DPoP user: the signup spec failed")
		// The binding is AUTH-DPOP-001's: here the first use only has to be accepted.
		first := webauthnGrant(ctx, u.User, host, withKey(u.Key))
		Expect(first).To(framework.HaveStatus(http.StatusOK), "the webauthn grant (login) with a valid proof")
		// Another ceremony, the same proof: only the proof is used twice.
		expectProofRefused(webauthnGrant(ctx, u.User, host, func(r *harness.Request) { r.RawProof = first.Proof }), "the webauthn grant with a proof already used")
		first = framework.Refresh(ctx, host, nativeClient(), rt, withKey(u.Key))
		Expect(first).To(framework.HaveStatus(http.StatusOK), "the refresh_token grant with a valid proof")
		rt = cmpOr(tokensIn(first).RefreshToken, rt)
		expectProofRefused(framework.Refresh(ctx, host, nativeClient(), rt, func(r *harness.Request) { r.RawProof = first.Proof }), "the refresh_token grant with a proof already used")
	})

	// Checked for each kind of client the config says nonces are required of: the
	// native client (public when it has no secret) through the webauthn grant, the
	// public code-flow client (clients.spa) through its refresh token.
	It("demands a nonce it issued, with use_dpop_nonce, and accepts the request made again with it", framework.Req("AUTH-DPOP-013"), func(ctx SpecContext) {
		requireTokenNonces()
		t := framework.F.Target
		bad := map[string]proofs.Option{"no nonce": proofs.WithoutNonce(), "a nonce the target never issued": proofs.WithClaim("nonce", "conformance-not-a-nonce")}
		ran := false
		if t.NonceAtToken(t.NativePublic()) {
			Expect(u).NotTo(BeNil(), "no DPoP user: the signup spec failed")
			for what, opt := range bad {
				expectNonceDemand(webauthnGrant(ctx, u.User, host, withKey(u.Key, opt)), "the webauthn grant with "+what)
				expectNonceDemand(framework.Refresh(ctx, host, nativeClient(), rt, withKey(u.Key, opt)), "the refresh_token grant with "+what)
			}
			// The client made the request again with the nonce it was given.
			resp := webauthnGrant(ctx, u.User, host, withKey(u.Key))
			expectBound(resp, u.Key, "the webauthn grant with the target's nonce")
			Expect(proofs.Decode(resp.Proof).Claims).To(HaveKey("nonce"), "the accepted proof carried no nonce: the target did not demand one")
			ran = true
		}
		if i := slices.IndexFunc(clients, func(c config.NamedClient) bool { return c.Public }); t.NonceAtToken(true) && i >= 0 && codeRTs[clients[i].Name] != "" {
			c := clients[i]
			for what, opt := range bad {
				expectNonceDemand(framework.Refresh(ctx, framework.LoginHost(), c, codeRTs[c.Name], withKey(keys[c.Name], opt)), "the "+c.Name+" client's refresh_token grant with "+what)
			}
			resp := framework.Refresh(ctx, framework.LoginHost(), c, codeRTs[c.Name], withKey(keys[c.Name]))
			tk := expectBound(resp, keys[c.Name], "the "+c.Name+" client's refresh_token grant with the target's nonce")
			codeRTs[c.Name] = cmpOr(tk.RefreshToken, codeRTs[c.Name])
			Expect(proofs.Decode(resp.Proof).Claims).To(HaveKey("nonce"), "the accepted proof carried no nonce: the target did not demand one")
			ran = true
		}
		if !ran {
			Skip("the config requires nonces of public clients at the token endpoint, and neither the native client is public nor did the code-flow spec bind a refresh token of the public client (clients.spa, AUTH-DPOP-002)")
		}
	})

	It("issues no token for the My Account API to a request without a proof when DPoP is required", framework.Req("AUTH-DPOP-014"), func(ctx SpecContext) {
		if framework.F.Target.DPoPFor("native") != config.DPoPRequired {
			Skip("the target config does not say dpop: required (for the native client)")
		}
		Expect(u).NotTo(BeNil(), "no DPoP user: the signup spec failed")
		resp := webauthnGrant(ctx, u.User, host, func(r *harness.Request) { r.NoProof = true })
		Expect(resp.Status).To(BeNumerically(">=", 400), "with DPoP required the target issued a token without a proof (token_type %q): the vendor issues none (Configure Sender Constraining, How it works)", resp.Object()["token_type"])
		framework.ExpectGrantRefused(resp, "a webauthn grant without a DPoP proof")
	})
})

// DPoP at the My Account API, on every operation of our description (planned ones
// pending): a bound token with a valid proof works; sent as Bearer, without a proof,
// with another key's proof, with a proof for another token (ath), method (htm) or URI
// (htu), or a proof sent twice, it is refused with 401 and a challenge naming the
// error; a refused write changes nothing. The cases are spread over users so that
// none makes more requests of a kind than its per-user bucket holds (dpopPool).
var _ = framework.AreaOf("dpop", "access").Describe("DPoP at the My Account API", func() {
	pool := newDPoPPool()
	ops, err := spec.Operations()
	if err != nil {
		panic(err)
	}
	for _, op := range ops {
		Context(op.Name(), Ordered, ContinueOnFailure, func() {
			if op.Planned() {
				It("takes DPoP-bound tokens (the operation is planned, not served yet)", framework.Req("MA-DPOP-001"), Pending, func() {})
				return
			}
			fx, ok := fixtures[op.ID]
			if !ok {
				panic("suites: no DPoP fixture for " + op.ID)
			}
			var (
				works     opCall
				worksUser *dpopUser
				sent      *harness.Response // the valid call's answer, once it passed
				readBack  = &readBacks{}    // what the refusals' read-backs found
			)
			BeforeEach(func(ctx SpecContext) {
				requireDPoP()
				framework.RequireCustomDomain()
				framework.RequireServed(ctx, op)
			})

			It("accepts a DPoP-bound token with a valid proof", framework.Req("MA-DPOP-001"), func(ctx SpecContext) {
				// The next spec sends this proof again, at once (before the proof is
				// too old to tell a replay from a stale proof): budget for both.
				worksUser = pool.borrow(ctx, op, fx.works.Plus(fx.refused).Plus(fx.readBack(2)))
				works = fx.call(ctx, worksUser, true)
				resp := framework.Deliver(framework.F.Client.Do(ctx, works.req))
				expectWorks(op, fx, works, resp)
				sent = resp
			})

			It("refuses that proof sent again", framework.Req("MA-DPOP-008"), func(ctx SpecContext) {
				if sent == nil || sent.Proof == "" {
					Skip("the valid request was not accepted (see the spec before): there is no accepted proof to send again")
				}
				again := fx.dpopReplay(ctx, worksUser, works)
				again.req.RawProof = sent.Proof
				expectRefused(ctx, op, fx, worksUser, again, false, proofErrors, readBack)
			})

			for _, c := range refusalCases(op) {
				It("refuses "+c.what, framework.Req(c.req), func(ctx SpecContext) {
					du := pool.borrow(ctx, op, fx.refused.Plus(fx.readBack(2)))
					call := fx.call(ctx, du, false)
					c.mod(call.req)
					expectRefused(ctx, op, fx, du, call, c.bearer, c.errs, readBack)
				})
			}

			if fx.state != nil {
				It("changes nothing by a request it refused (read back after each)", framework.Req("MA-DPOP-010"), func() {
					if readBack.checked == 0 {
						Skip("no request was refused, so none could be read back")
					}
					framework.ExpectNoFailures(readBack.changes)
				})
			}

			It("demands its nonce with use_dpop_nonce, and accepts the request made again with it", framework.Req("MA-DPOP-011"), func(ctx SpecContext) {
				requireAPINonces()
				du := pool.borrow(ctx, op, fx.works.Plus(framework.Budget{spec.KindOf(op.Method, nil): 1}))
				call := fx.call(ctx, du, true)
				call.req.Proof = append(call.req.Proof, proofs.WithoutNonce())
				expectNonceDemand(framework.Deliver(framework.F.Client.Do(ctx, call.req)), op.Name()+" with a proof without the API's nonce")
				call.req.Proof = nil
				resp := framework.Deliver(framework.F.Client.Do(ctx, call.req))
				expectWorks(op, fx, call, resp)
				Expect(proofs.Decode(resp.Proof).Claims).To(HaveKey("nonce"), "the accepted proof carried no nonce: the API did not demand one")
			})
		})
	}

	It("refuses every token sent as Bearer when DPoP is required, with a DPoP challenge", framework.Req("MA-DPOP-009"), func(ctx SpecContext) {
		requireDPoP()
		host := framework.RequireCustomDomain()
		if framework.F.Target.DPoP != config.DPoPRequired {
			Skip("the target config does not say dpop: required")
		}
		op := spec.MustOperation("listAuthenticationMethods")
		du := pool.borrow(ctx, op, framework.Budget{spec.Read: 2})
		var failures []string
		resp := framework.Deliver(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, "/authentication-methods"), Session: du.Session, Scheme: "Bearer"}))
		failures = append(failures, requiredRefusalProblems("GET /authentication-methods with the bound token as Bearer", resp)...)
		// A bearer token, if the target issues one without a proof (AUTH-DPOP-014 says
		// it must not), is refused too.
		login := webauthnGrant(ctx, du.User, host, func(r *harness.Request) { r.NoProof = true })
		if login.Status == http.StatusOK {
			var t harness.Tokens
			Expect(login.JSON(&t)).To(Succeed())
			resp = framework.Deliver(framework.F.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, "/authentication-methods"), Bearer: t.AccessToken, Scheme: "Bearer", NoProof: true}))
			failures = append(failures, requiredRefusalProblems("GET /authentication-methods with a token issued without a proof, as Bearer", resp)...)
		}
		framework.ExpectNoFailures(failures)
	})
})

// refusalCase is one way of presenting a bound token that the API must refuse.
type refusalCase struct {
	req, what string
	mod       func(r *harness.Request)
	bearer    bool // sent with the Bearer scheme
	errs      []string
}

// otherKey signs the proofs of "another key": a second key of the same algorithm
// (ES256, which every run uses), made once.
var otherKey = sync.OnceValue(func() *proofs.Key { return proofs.MustKey(proofs.ES256) })

// refusalCases are the wrong presentations of a bound token for op.
func refusalCases(op spec.Operation) []refusalCase {
	otherMethod := http.MethodGet
	if op.Method == http.MethodGet {
		otherMethod = http.MethodPost
	}
	otherPath := "/factors"
	if op.Path == otherPath {
		otherPath = "/authentication-methods"
	}
	return []refusalCase{
		{"MA-DPOP-002", "the bound token sent as Bearer (a downgrade)", func(r *harness.Request) { r.Scheme = "Bearer" }, true, bearerErrors},
		{"MA-DPOP-003", "the DPoP scheme without a proof", func(r *harness.Request) { r.NoProof = true }, false, missingErrors},
		{"MA-DPOP-004", "a valid proof of another key", func(r *harness.Request) { r.DPoP = otherKey() }, false, proofErrors},
		{"MA-DPOP-005", "a proof for another access token (ath)", func(r *harness.Request) {
			r.Proof = append(r.Proof, proofs.WithClaim("ath", proofs.ATH("an access token other than the one sent")))
		}, false, proofErrors},
		{"MA-DPOP-006", "a proof for another method (htm " + otherMethod + ")", func(r *harness.Request) {
			r.Proof = append(r.Proof, proofs.WithClaim("htm", otherMethod))
		}, false, proofErrors},
		{"MA-DPOP-007", "a proof for another URI (htu …/me/v1" + otherPath + ")", func(r *harness.Request) {
			u, _ := url.Parse(r.URL)
			r.Proof = append(r.Proof, proofs.WithClaim("htu", config.MeURL(u.Host, otherPath)))
		}, false, proofErrors},
	}
}

// expectWorks checks a valid call's answer: the operation's success status, or, for
// an operation the suite cannot make succeed on this target, an answer that did not
// refuse the credentials.
func expectWorks(op spec.Operation, fx fixture, c opCall, resp *harness.Response) {
	GinkgoHelper()
	if c.ok != nil {
		resp = framework.Call(resp, nil)
		Expect(c.ok).To(ContainElement(resp.Status), "%s with a DPoP-bound token and a valid proof: %d %s", op.Name(), resp.Status, resp.Body)
	} else {
		Expect(resp.Status).NotTo(BeElementOf(http.StatusUnauthorized, http.StatusForbidden), "%s with a DPoP-bound token and a valid proof was refused: %s", op.Name(), resp.Body)
		Expect(resp.Status).To(BeNumerically("<", 500), "%s: %s", op.Name(), resp.Body)
	}
	if c.after != nil {
		c.after(resp)
	}
}

// readBacks are what the read-backs after an operation's refused requests found.
type readBacks struct {
	checked int
	changes []string
}

// expectRefused sends a call that must be refused. For a write it reads the user's
// state before and after, and notes in rb what a refused request changed (a request
// that was accepted fails its own spec, and its changes are no refusal's).
func expectRefused(ctx context.Context, op spec.Operation, fx fixture, du *dpopUser, c opCall, bearer bool, errs []string, rb *readBacks) {
	GinkgoHelper()
	var before string
	if fx.state != nil {
		before = fx.state(ctx, du)
	}
	resp := framework.Deliver(framework.F.Client.Do(ctx, c.req))
	if resp.Status < 300 && c.after != nil {
		c.after(resp) // accepted after all: clean up what it made
	}
	if fx.state != nil && resp.Status == http.StatusUnauthorized {
		rb.checked++
		if after := fx.state(ctx, du); after != before {
			rb.changes = append(rb.changes, fmt.Sprintf("%s, %s: answered 401, yet the user's state changed: before %q, after %q",
				op.Name(), CurrentSpecReport().LeafNodeText, before, after))
		}
	}
	framework.ExpectNoFailures(dpopRefusalProblems(op.Name(), resp, bearer, errs))
}

// requiredRefusalProblems checks a Bearer request was refused as DPoP-required: 401
// with a DPoP challenge (the API only takes DPoP).
func requiredRefusalProblems(what string, resp *harness.Response) []string {
	out := dpopRefusalProblems(what, resp, true, bearerErrors)
	if _, ok := proofs.Find(resp.Header, "DPoP"); !ok && resp.Status == http.StatusUnauthorized {
		out = append(out, fmt.Sprintf("%s: with DPoP required the 401 must challenge with DPoP: WWW-Authenticate %q", what, resp.Header.Values("WWW-Authenticate")))
	}
	return out
}

// webauthnGrant logs u in with its first passkey on host through the webauthn grant,
// for every scope the DPoP users get, with mods applied to the token request.
func webauthnGrant(ctx context.Context, u *framework.User, host string, mods ...func(*harness.Request)) *harness.Response {
	GinkgoHelper()
	resp := framework.Call(framework.F.PasskeyChallenge(ctx, host))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "POST /passkey/challenge")
	c := framework.DecodeCeremony(resp)
	assertion, err := u.Authn.Login(c.Options, framework.F.Target.WebAuthn.Origin, u.Passkeys[0])
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
	r := framework.F.WebAuthnTokenRequest(host, c.AuthSession, assertion, config.MeAudience(host), append([]string{"openid", "offline_access"}, opScopes()...)...)
	for _, m := range mods {
		m(r)
	}
	return framework.Call(framework.F.Client.Do(ctx, r))
}

// withKey makes a token request prove possession of key, with opts applied to the proof.
func withKey(key *proofs.Key, opts ...proofs.Option) func(*harness.Request) {
	return func(r *harness.Request) { r.DPoP, r.Proof = key, opts }
}

// tokensIn reads a token response (empty tokens when it holds none).
func tokensIn(resp *harness.Response) harness.Tokens {
	var t harness.Tokens
	_ = resp.JSON(&t)
	return t
}

// nativeClient is the native client as a code-flow client, for refresh.
func nativeClient() config.NamedClient {
	return config.NamedClient{Name: "native", OAuthClient: framework.F.Target.Clients.Native}
}

// expectRefreshBindingRefused checks a bound refresh token was refused: invalid_dpop_proof,
// or invalid_grant (the token is not good for this key) with 400 or 403.
func expectRefreshBindingRefused(resp *harness.Response, what string) {
	GinkgoHelper()
	Expect(resp.Status).NotTo(BeNumerically("<", 400), "%s was accepted: %s", what, resp.Body)
	switch e := proofs.OAuthError(resp.Body); e {
	case "invalid_dpop_proof":
		Expect(framework.TokenRefusalStatuses).To(ContainElement(resp.Status), "%s: %d %s", what, resp.Status, resp.Body)
	case "invalid_grant":
		Expect([]int{400, 403}).To(ContainElement(resp.Status), "%s: %d %s", what, resp.Status, resp.Body)
	default:
		Fail(fmt.Sprintf("%s must be refused with invalid_dpop_proof or invalid_grant: %d %s", what, resp.Status, resp.Body))
	}
}
