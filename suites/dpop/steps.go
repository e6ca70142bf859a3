package dpop

// DPoP (RFC 9449): users whose tokens are bound to keys, and how DPoP answers are
// judged. The client (harness/dpop.go) makes the proofs; these steps say what the
// specs expect of them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	proofs "github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
)

// requireDPoP skips unless the target's My Account API takes DPoP, and its native
// client (which the DPoP users sign up with) may use it.
func requireDPoP() {
	GinkgoHelper()
	if framework.F.Target.DPoP == config.DPoPOff {
		Skip("the target config says dpop: off (the default when it does not say): the target is not known to take DPoP (RFC 9449); set dpop: allowed or required to run the DPoP specs")
	}
	if framework.F.Target.DPoPFor("native") == config.DPoPOff {
		Skip("clients.native.dpop is off: the DPoP specs bind the native client's tokens to keys")
	}
}

// requireAPINonces skips unless the target config says the My Account API demands
// DPoP nonces.
func requireAPINonces() {
	GinkgoHelper()
	if !framework.F.Target.NonceAtAPI() {
		Skip("the target config does not say dpop_nonce: {api: true} (or dpop_nonce: true), so the My Account API is not expected to demand DPoP nonces (RFC 9449 §9 makes them optional, and the vendor says nothing of nonces there); the client still answers any demand for one")
	}
}

// requireTokenNonces skips unless the target config says the token endpoint
// demands DPoP nonces of some kind of client.
func requireTokenNonces() {
	GinkgoHelper()
	t := framework.F.Target
	if !t.NonceAtToken(true) && !t.NonceAtToken(false) {
		Skip("the target config does not say dpop_nonce: {token_endpoint: [public]} (or confidential, or dpop_nonce: true), so the token endpoint is not expected to demand DPoP nonces (RFC 9449 §8 makes them optional); the client still answers any demand for one")
	}
}

// discovery caches the custom domain's dpop_signing_alg_values_supported.
var discovery struct {
	sync.Once
	algs []string
	ok   bool
}

// proofAlgs are the proof algorithms the specs use: ES256, which every vendor SDK
// uses and every run needs, then each other algorithm discovery's
// dpop_signing_alg_values_supported lists (narrowed by the config's dpop_algs)
// that the suite makes keys for. notes say what is left out.
func proofAlgs(ctx context.Context, host string) (algs []proofs.Alg, notes []string) {
	GinkgoHelper()
	discovery.Do(func() {
		resp := framework.Send(ctx, &harness.Request{Method: http.MethodGet, URL: framework.F.Target.BaseURL(host) + "/.well-known/openid-configuration"})
		var m struct {
			Algs []string `json:"dpop_signing_alg_values_supported"`
		}
		discovery.ok = resp.Status == http.StatusOK && resp.JSON(&m) == nil && m.Algs != nil
		discovery.algs = m.Algs
	})
	algs = []proofs.Alg{proofs.ES256}
	if !discovery.ok {
		return algs, []string{"discovery lists no dpop_signing_alg_values_supported: ES256 only"}
	}
	want := framework.F.Target.DPoPAlgs
	for _, a := range discovery.algs {
		switch {
		case a == string(proofs.ES256):
		case len(want) > 0 && !slices.Contains(want, a):
			notes = append(notes, a+": not in the config's dpop_algs")
		case !proofs.Supported(a):
			notes = append(notes, a+": the suite makes no keys for it")
		default:
			algs = append(algs, proofs.Alg(a))
		}
	}
	return algs, notes
}

// opScopes are the scopes of the operations the API serves, in order.
func opScopes() []string {
	var out []string
	for _, op := range servedOperations() {
		if s := op.Scope(); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// servedOperations are the operations of our description that are not planned.
func servedOperations() []spec.Operation {
	ops, err := spec.Operations()
	if err != nil {
		panic(err)
	}
	return slices.DeleteFunc(ops, spec.Operation.Planned)
}

// dpopUser is a user whose tokens are bound to Key: signed up with a proof of it,
// for every scope of the API, with a session that renews with proofs of it.
type dpopUser struct {
	*framework.User
	Key     *proofs.Key
	Session *harness.Session
	// Granted are the scopes the target granted at signup.
	Granted []string
	// SignupResponse is the token response of the signup.
	SignupResponse *harness.Response

	methodID string // the id of the signup passkey, once listed
}

// signUpBound signs a user up with a passkey of alg and a DPoP proof of key, asking
// for every scope of the operations the API serves. Whether the tokens are bound is
// for the caller to judge (AUTH-DPOP-001 does), so that a defect there fails that
// requirement, not every spec that needs a user.
func signUpBound(ctx context.Context, alg authenticator.Alg, key *proofs.Key) *dpopUser {
	GinkgoHelper()
	host := framework.RequireCustomDomain()
	scopes := append([]string{"openid", "offline_access"}, opScopes()...)
	u, resp := framework.SignUpWith(ctx, alg, key, scopes)
	granted := strings.Fields(u.Signup.Scope)
	if len(granted) == 0 {
		granted, _ = claimScopes(u.Signup.AccessToken)
	}
	renew := func(ctx context.Context) (harness.Tokens, error) {
		return framework.F.PasskeyLoginProof(ctx, key, host, u.Authn, u.Passkeys[0], config.MeAudience(host), scopes...)
	}
	s := harness.NewSession(host, u.Signup, renew).Bind(key)
	return &dpopUser{User: u, Key: key, Session: s, Granted: granted, SignupResponse: resp}
}

// unbound says why tokens are not bound to key ("" when they are, as far as the
// suite can tell): token_type is not DPoP, or a JWT access token lacks its cnf.jkt.
func unbound(t harness.Tokens, key *proofs.Key) string {
	if !strings.EqualFold(t.TokenType, "DPoP") {
		return fmt.Sprintf("has token_type %q", t.TokenType)
	}
	if strings.Count(t.AccessToken, ".") != 2 {
		return ""
	}
	c := framework.Claims(t.AccessToken)
	if cnf, _ := c["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		return fmt.Sprintf("has an access token whose cnf (%v) is not the key's", c["cnf"])
	}
	return ""
}

// claimScopes reads the scope claim of a JWT access token (false when it is not a JWT).
func claimScopes(token string) ([]string, bool) {
	if strings.Count(token, ".") != 2 {
		return nil, false
	}
	s, _ := framework.Claims(token)["scope"].(string)
	return strings.Fields(s), true
}

// expectBound checks a token response binds the access token to key (RFC 9449 §5,
// §6.1): token_type DPoP and, when the access token is a JWT, cnf.jkt the key's
// RFC 7638 thumbprint. It returns the tokens.
func expectBound(resp *harness.Response, key *proofs.Key, what string) harness.Tokens {
	GinkgoHelper()
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "%s with a valid DPoP proof", what)
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "%s: access_token", what)
	Expect(t.TokenType).To(Equal("DPoP"), "%s with a valid DPoP proof of an %s key must answer token_type DPoP (RFC 9449 §5)", what, key.Alg())
	if strings.Count(t.AccessToken, ".") == 2 {
		c := framework.Claims(t.AccessToken)
		cnf, _ := c["cnf"].(map[string]any)
		Expect(cnf).To(HaveKeyWithValue("jkt", key.Thumbprint()),
			"%s: the access token's cnf.jkt must be the proof key's RFC 7638 SHA-256 thumbprint (RFC 9449 §6.1); cnf is %v", what, c["cnf"])
	}
	return t
}

// expectProofRefused checks the token endpoint refused a request for its DPoP proof:
// a documented refusal status and error invalid_dpop_proof (RFC 9449 §5).
func expectProofRefused(resp *harness.Response, what string) {
	GinkgoHelper()
	Expect(resp.Status).NotTo(BeNumerically("<", 400), "%s was accepted: %s", what, resp.Body)
	Expect(framework.TokenRefusalStatuses).To(ContainElement(resp.Status), "%s must be refused with a status the token endpoint documents (400, 401 or 403): %d %s", what, resp.Status, resp.Body)
	Expect(proofs.OAuthError(resp.Body)).To(Equal("invalid_dpop_proof"), "%s must be refused with error invalid_dpop_proof (RFC 9449 §5): %s", what, resp.Body)
}

// nonceSyntax is a DPoP-Nonce value: 1*NQCHAR (RFC 9449 §8.1).
var nonceSyntax = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

// expectNonceDemand checks a demand for a nonce: use_dpop_nonce (in the body at the
// token endpoint, in the DPoP challenge at the API) and a DPoP-Nonce header.
func expectNonceDemand(resp *harness.Response, what string) {
	GinkgoHelper()
	n := resp.Header.Values("DPoP-Nonce")
	Expect(n).To(HaveLen(1), "%s: the answer must carry one DPoP-Nonce header (RFC 9449 §8): %d %s", what, resp.Status, resp.Body)
	Expect(nonceSyntax.MatchString(n[0])).To(BeTrue(), "%s: DPoP-Nonce %q is not 1*NQCHAR (RFC 9449 §8.1)", what, n[0])
	if strings.HasPrefix(resp.Exchange.Operation, "POST /oauth") || strings.HasSuffix(resp.Exchange.URL, "/oauth/token") {
		Expect(resp.Status).To(Equal(http.StatusBadRequest), "%s: %s", what, resp.Body)
		Expect(proofs.OAuthError(resp.Body)).To(Equal("use_dpop_nonce"), "%s: %s", what, resp.Body)
		return
	}
	Expect(resp.Status).To(Equal(http.StatusUnauthorized), "%s: %s", what, resp.Body)
	c, ok := proofs.Find(resp.Header, "DPoP")
	Expect(ok).To(BeTrue(), "%s: no DPoP challenge in %q", what, resp.Header.Values("WWW-Authenticate"))
	Expect(c.Params["error"]).To(Equal("use_dpop_nonce"), "%s: the DPoP challenge %q", what, resp.Header.Values("WWW-Authenticate"))
}

// Errors a DPoP refusal at the API may name (RFC 9449 §7.1: invalid_dpop_proof for a
// proof failing §4.3, the RFC 6750 codes otherwise).
var (
	proofErrors   = []string{"invalid_dpop_proof", "invalid_token"}
	missingErrors = []string{"invalid_dpop_proof", "invalid_request", "invalid_token"}
	bearerErrors  = []string{"invalid_token", "invalid_request"}
)

// dpopRefusalProblems checks a My Account refusal of a DPoP case: 401 with the API's
// error body and a challenge naming one of errs. Where the request used the DPoP
// scheme the DPoP challenge carries the error; a bound token sent as Bearer may have
// it in the Bearer challenge (RFC 9449 §7.2 lets the scheme the client used carry
// it). A DPoP challenge's algs, if given, must list the algorithm the target
// accepted from the suite (ES256). It returns what is wrong.
func dpopRefusalProblems(what string, resp *harness.Response, bearerSent bool, errs []string) []string {
	out := framework.RefusalProblems(what, resp, http.StatusUnauthorized)
	if len(out) > 0 && resp.Status != http.StatusUnauthorized {
		return out
	}
	var named []string
	dpopSeen := false
	for _, c := range proofs.ParseChallenges(resp.Header.Values("WWW-Authenticate")) {
		switch {
		case strings.EqualFold(c.Scheme, "DPoP"):
			dpopSeen = true
			if algs, ok := c.Params["algs"]; ok && !slices.Contains(strings.Fields(algs), "ES256") {
				out = append(out, fmt.Sprintf("%s: the DPoP challenge's algs %q do not list ES256, which the target accepts", what, algs))
			}
		case !strings.EqualFold(c.Scheme, "Bearer") || !bearerSent:
			continue
		}
		if e := c.Params["error"]; e != "" {
			named = append(named, c.Scheme+" error="+e)
			if slices.Contains(errs, e) {
				return out
			}
		}
	}
	switch {
	case !dpopSeen && !bearerSent:
		out = append(out, fmt.Sprintf("%s: the 401 has no DPoP challenge (RFC 9449 §7.1): WWW-Authenticate %q", what, resp.Header.Values("WWW-Authenticate")))
	case len(named) == 0:
		out = append(out, fmt.Sprintf("%s: the 401's challenge names no error (RFC 9449 §7.1; want one of %v): WWW-Authenticate %q", what, errs, resp.Header.Values("WWW-Authenticate")))
	default:
		out = append(out, fmt.Sprintf("%s: the challenge names %v, want one of %v", what, named, errs))
	}
	return out
}

// dpopPool lends the DPoP specs users with enough of their per-user budget left
// (framework.Pool): a DPoP-bound user is signed up when none has enough left.
type dpopPool struct{ *framework.Pool[*dpopUser] }

func newDPoPPool() dpopPool {
	return dpopPool{framework.NewPool(func(ctx context.Context) (*dpopUser, framework.Budget) {
		u := signUpBound(ctx, authenticator.ES256, proofs.MustKey(proofs.ES256))
		if why := unbound(u.Signup, u.Key); why != "" {
			Skip("the target's answer to a signup with a DPoP proof " + why + ": there is no DPoP-bound token to present (AUTH-DPOP-001 fails for it)")
		}
		return u, nil
	})}
}

// borrow returns a user who may still make need of op's scope, after skipping
// when the target does not grant the scope.
func (p dpopPool) borrow(ctx context.Context, op spec.Operation, need framework.Budget) *dpopUser {
	GinkgoHelper()
	u := p.Take(ctx, need, nil)
	if s := op.Scope(); s != "" && !slices.Contains(u.Granted, s) {
		Skip(fmt.Sprintf("the target did not grant %s to the native client (it granted %q), so %s cannot be called", s, u.Granted, op.Name()))
	}
	return u
}

// opCall is one call of an operation, its credentials from a DPoP user's session.
type opCall struct {
	req *harness.Request
	// ok are the statuses of success; nil when the suite cannot make the operation
	// succeed on this target (no connected account to complete or delete): then any
	// answer that does not refuse the credentials is one.
	ok []int
	// after notes what a successful call made, for its cleanup.
	after func(*harness.Response)
}

// fixture says how the DPoP specs call one operation with valid inputs, so that
// only the credentials decide whether a call is refused.
type fixture struct {
	// works and refused are the requests one call makes (a valid one, and one meant
	// to be refused, or the valid one sent again), what it needs made first and its
	// cleanup included.
	works, refused framework.Budget
	call           func(ctx context.Context, u *dpopUser, works bool) opCall
	// replay is the request that sends a valid call's proof again (nil: the same
	// request).
	replay func(ctx context.Context, u *dpopUser, prev opCall) opCall
	// state reads what a refused write must leave unchanged (nil for reads); one
	// request of kind stateKind.
	state     func(ctx context.Context, u *dpopUser) string
	stateKind spec.Kind
}

// readBack is the budget of n state reads.
func (f fixture) readBack(n int) framework.Budget {
	if f.state == nil {
		return nil
	}
	return framework.Budget{f.stateKind: n}
}

// dpopReplay is a fixture's replay request, or the valid call again.
func (f fixture) dpopReplay(ctx context.Context, u *dpopUser, prev opCall) opCall {
	if f.replay != nil {
		return f.replay(ctx, u, prev)
	}
	r := *prev.req
	return opCall{req: &r, ok: prev.ok}
}

// meCall is a call of the operation opID with the path values, as u.
func meCall(u *dpopUser, opID string, path map[string]string, body any) *harness.Request {
	GinkgoHelper()
	op := spec.MustOperation(opID)
	p, err := op.Fill(path)
	Expect(err).NotTo(HaveOccurred())
	r := &harness.Request{Method: op.Method, URL: config.MeURL(u.Session.Host, p), Session: u.Session}
	if body != nil {
		r.JSON = body
	}
	return r
}

// prerequisite checks a request a spec makes with a valid proof before what it
// judges. Refused for its credentials, the spec cannot judge its case: it skips,
// since the operation's own spec of a valid proof (MA-DPOP-001) fails for it.
func prerequisite(resp *harness.Response, want int, what string) {
	GinkgoHelper()
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
		Skip(fmt.Sprintf("%s with a DPoP-bound token and a valid proof answered %d, so this case cannot be judged (MA-DPOP-001 fails for it): %.200s", what, resp.Status, resp.Body))
	}
	Expect(resp).To(framework.HaveStatus(want), "%s with a valid proof", what)
}

// passkeyState lists u's passkeys as "id name" lines (a filtered read).
func passkeyState(ctx context.Context, u *dpopUser) string {
	GinkgoHelper()
	r := meCall(u, "listAuthenticationMethods", nil, nil)
	r.URL += "?type=passkey"
	resp := framework.Send(ctx, r)
	prerequisite(resp, http.StatusOK, "GET /authentication-methods?type=passkey")
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	var out []string
	for _, m := range body.Methods {
		out = append(out, fmt.Sprintf("%v %v", m["id"], m["name"]))
	}
	slices.Sort(out)
	if u.methodID == "" && len(body.Methods) > 0 {
		u.methodID, _ = body.Methods[0]["id"].(string)
	}
	return strings.Join(out, "; ")
}

// signupMethodID is the id of u's first passkey (one filtered read, the first time).
func signupMethodID(ctx context.Context, u *dpopUser) string {
	GinkgoHelper()
	if u.methodID == "" {
		passkeyState(ctx, u)
		Expect(u.methodID).NotTo(BeEmpty(), "the user has no passkey listed")
	}
	return u.methodID
}

// accountState lists u's connected accounts of the configured connection (a filtered read).
func accountState(ctx context.Context, u *dpopUser) string {
	GinkgoHelper()
	r := meCall(u, "listConnectedAccounts", nil, nil)
	r.URL += "?" + url.Values{"connection": {accountConnection()}}.Encode()
	resp := framework.Send(ctx, r)
	prerequisite(resp, http.StatusOK, "GET /connected-accounts/accounts")
	var body struct {
		Accounts []map[string]any `json:"accounts"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	var out []string
	for _, a := range body.Accounts {
		out = append(out, fmt.Sprint(a["id"]))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// accountConnection is the connection the connected-accounts calls name: the
// configured one, or one that no tenant is expected to have.
func accountConnection() string {
	return cmpOr(framework.F.Target.ConnectedAccounts.Connection, "conformance-no-such-connection")
}

func cmpOr(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}

// startPasskey starts a passkey enrollment as u with a valid proof and answers its
// creation options with a new authenticator: the verify URL and its body.
func startPasskey(ctx context.Context, u *dpopUser) (string, map[string]any) {
	GinkgoHelper()
	resp := framework.Send(ctx, meCall(u, "startAuthenticationMethodEnrollment", nil, map[string]any{"type": "passkey"}))
	prerequisite(resp, http.StatusAccepted, "POST /authentication-methods")
	c := framework.DecodeCeremony(resp)
	// Another device: the user's own authenticator holds a passkey the options exclude.
	att, _, err := authenticator.New().Register(c.Options, framework.F.Target.WebAuthn.Origin, authenticator.ES256)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
	return framework.VerifyURL(u.Session.Host, resp.Location()), map[string]any{"auth_session": c.AuthSession, "authn_response": json.RawMessage(att)}
}

// trackMethod deletes, after the spec, a method a call created.
func trackMethod(u *dpopUser) func(*harness.Response) {
	return func(resp *harness.Response) {
		id, _ := resp.Object()["id"].(string)
		if resp.Status != http.StatusCreated || id == "" {
			return
		}
		DeferCleanup(func(ctx SpecContext) {
			r, err := framework.F.Client.Do(ctx, meCall(u, "deleteAuthenticationMethod", map[string]string{"authentication_method_id": id}, nil))
			if err != nil || (r.Status != http.StatusNoContent && r.Status != http.StatusNotFound) {
				framework.F.Leftovers.Add(fmt.Sprintf("%s: passkey %s: %v %v", u.Email, id, err, r))
			}
		})
	}
}

// One request of a kind.
var (
	w1 = framework.Budget{spec.Write: 1}
	r1 = framework.Budget{spec.Read: 1}
	f1 = framework.Budget{spec.FilteredRead: 1}
)

// fixtures are the DPoP fixtures of every operation the API serves, by operationId.
var fixtures = map[string]fixture{
	"listFactors": {works: r1, refused: r1, call: func(_ context.Context, u *dpopUser, _ bool) opCall {
		return opCall{req: meCall(u, "listFactors", nil, nil), ok: []int{http.StatusOK}}
	}},
	"listAuthenticationMethods": {works: r1, refused: r1, call: func(_ context.Context, u *dpopUser, _ bool) opCall {
		return opCall{req: meCall(u, "listAuthenticationMethods", nil, nil), ok: []int{http.StatusOK}}
	}},
	"getAuthenticationMethod": {works: r1.Plus(f1), refused: r1.Plus(f1), call: func(ctx context.Context, u *dpopUser, _ bool) opCall {
		return opCall{req: meCall(u, "getAuthenticationMethod", map[string]string{"authentication_method_id": signupMethodID(ctx, u)}, nil), ok: []int{http.StatusOK}}
	}},
	"startAuthenticationMethodEnrollment": {works: w1, refused: w1, state: passkeyState, stateKind: spec.FilteredRead,
		call: func(_ context.Context, u *dpopUser, _ bool) opCall {
			return opCall{req: meCall(u, "startAuthenticationMethodEnrollment", nil, map[string]any{"type": "passkey"}), ok: []int{http.StatusAccepted}}
		}},
	// A call starts its own enrollment first; a created passkey is deleted after.
	"verifyAuthenticationMethodEnrollment": {works: w1.Times(3), refused: w1.Times(2), state: passkeyState, stateKind: spec.FilteredRead,
		call: func(ctx context.Context, u *dpopUser, _ bool) opCall {
			u2, body := startPasskey(ctx, u)
			return opCall{req: &harness.Request{Method: http.MethodPost, URL: u2, JSON: body, Session: u.Session}, ok: []int{http.StatusCreated}, after: trackMethod(u)}
		},
		// The proof is for the verify URL: a second enrollment answered there gives
		// a request whose only fault is the reused proof. Where each enrollment has
		// its own URL, the first request goes again (its auth_session used up, which
		// a server checks only after the credentials).
		replay: func(ctx context.Context, u *dpopUser, prev opCall) opCall {
			u2, body := startPasskey(ctx, u)
			r := *prev.req
			if u2 == prev.req.URL {
				r.JSON = body
			}
			return opCall{req: &r, ok: prev.ok, after: prev.after}
		}},
	// The user's only method is its passkey, which has no name: what a PATCH with one
	// does is not documented (PROTOCOL §10), so 400 (refused for the body, after the
	// credentials were taken) and 200 (nothing changed) both show the proof accepted.
	"updateAuthenticationMethod": {works: w1.Plus(f1), refused: w1.Plus(f1), state: passkeyState, stateKind: spec.FilteredRead,
		call: func(ctx context.Context, u *dpopUser, _ bool) opCall {
			name := "dpop-" + harness.NewEmail()[len("conformance+"):len("conformance+")+12]
			return opCall{req: meCall(u, "updateAuthenticationMethod", map[string]string{"authentication_method_id": signupMethodID(ctx, u)}, map[string]any{"name": name}),
				ok: []int{http.StatusOK, http.StatusBadRequest}}
		}},
	// A valid call deletes a second passkey enrolled for it; a refused one names the
	// user's first passkey, which must stay. Sent again, the valid call names a
	// passkey that is gone: a server checks the credentials before the resource.
	"deleteAuthenticationMethod": {works: w1.Times(3), refused: w1.Plus(f1), state: passkeyState, stateKind: spec.FilteredRead,
		call: func(ctx context.Context, u *dpopUser, works bool) opCall {
			if !works {
				return opCall{req: meCall(u, "deleteAuthenticationMethod", map[string]string{"authentication_method_id": signupMethodID(ctx, u)}, nil), ok: []int{http.StatusNoContent}}
			}
			u2, body := startPasskey(ctx, u)
			resp := framework.Send(ctx, &harness.Request{Method: http.MethodPost, URL: u2, JSON: body, Session: u.Session})
			prerequisite(resp, http.StatusCreated, "POST …/verify (a second passkey to delete)")
			id, _ := resp.Object()["id"].(string)
			Expect(id).NotTo(BeEmpty(), "the verified passkey has no id")
			return opCall{req: meCall(u, "deleteAuthenticationMethod", map[string]string{"authentication_method_id": id}, nil), ok: []int{http.StatusNoContent}}
		}},
	"startAccountConnection": {works: w1, refused: w1, state: accountState, stateKind: spec.FilteredRead,
		call: func(_ context.Context, u *dpopUser, _ bool) opCall {
			body := map[string]any{"connection": accountConnection(), "redirect_uri": cmpOr(framework.F.Target.ConnectedAccounts.RedirectURI, "https://example.com/conformance/callback")}
			var ok []int
			if framework.F.Target.ConnectedAccounts.Connection != "" {
				ok = []int{http.StatusCreated}
			}
			return opCall{req: meCall(u, "startAccountConnection", nil, body), ok: ok}
		}},
	"completeAccountConnection": {works: w1, refused: w1, state: accountState, stateKind: spec.FilteredRead,
		call: func(_ context.Context, u *dpopUser, _ bool) opCall {
			body := map[string]any{"auth_session": "conformance-no-such-session", "connect_code": "conformance-no-such-code",
				"redirect_uri": cmpOr(framework.F.Target.ConnectedAccounts.RedirectURI, "https://example.com/conformance/callback")}
			return opCall{req: meCall(u, "completeAccountConnection", nil, body)}
		}},
	"listConnectedAccounts": {works: r1, refused: r1, call: func(_ context.Context, u *dpopUser, _ bool) opCall {
		return opCall{req: meCall(u, "listConnectedAccounts", nil, nil), ok: []int{http.StatusOK}}
	}},
	"listConnectableConnections": {works: r1, refused: r1, call: func(_ context.Context, u *dpopUser, _ bool) opCall {
		return opCall{req: meCall(u, "listConnectableConnections", nil, nil), ok: []int{http.StatusOK}}
	}},
	"deleteConnectedAccount": {works: w1, refused: w1, state: accountState, stateKind: spec.FilteredRead,
		call: func(_ context.Context, u *dpopUser, _ bool) opCall {
			return opCall{req: meCall(u, "deleteConnectedAccount", map[string]string{"id": "cac_conformance0"}, nil)}
		}},
}
