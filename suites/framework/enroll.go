package framework

// Passkey enrollment through the My Account API, step by step.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/oob"
)

// enrollment is a started passkey enrollment.
type enrollment struct {
	Location string
	Ceremony
}

// StartEnrollment sends POST /authentication-methods {type: passkey} and returns the
// response.
func StartEnrollment(ctx context.Context, host, token string) *harness.Response {
	GinkgoHelper()
	return Call(F.Me(ctx, http.MethodPost, host, "/authentication-methods", token, map[string]any{"type": "passkey"}))
}

// VerifyURL resolves the enrollment's Location against the API base and appends /verify.
func VerifyURL(host, location string) string {
	GinkgoHelper()
	base, err := url.Parse(config.MeURL(host, "/authentication-methods"))
	Expect(err).NotTo(HaveOccurred())
	loc, err := url.Parse(location)
	Expect(err).NotTo(HaveOccurred(), "Location %q is not a URL", location)
	u := base.ResolveReference(loc)
	return strings.TrimSuffix(u.String(), "/") + "/verify"
}

// methodIDPath percent-encodes a method id for a path segment (passkey|dev_x → passkey%7Cdev_x).
func methodIDPath(id string) string { return "/authentication-methods/" + url.PathEscape(id) }

// ListMethods returns the user's authentication methods.
func ListMethods(ctx context.Context, host, token string) []map[string]any {
	GinkgoHelper()
	resp := Call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", token, nil))
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /authentication-methods")
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	return body.Methods
}

// MethodIDs lists the ids of methods.
func MethodIDs(ms []map[string]any) []string {
	var out []string
	for _, m := range ms {
		if id, ok := m["id"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

// Verify posts an attestation to {Location}/Verify.
func Verify(ctx SpecContext, host, token, location, authSession string, attestation []byte) *harness.Response {
	GinkgoHelper()
	Expect(location).NotTo(BeEmpty(), "the enrollment answered without a Location")
	return Send(ctx, &harness.Request{Method: http.MethodPost, URL: VerifyURL(host, location), Bearer: token,
		JSON: map[string]any{"auth_session": authSession, "authn_response": json.RawMessage(attestation)}})
}

// DeleteMethod removes a method the spec created; used with DeferCleanup.
func DeleteMethod(ctx SpecContext, host, token string, id any) {
	s, _ := id.(string)
	if s == "" {
		return
	}
	_, _ = F.Me(ctx, http.MethodDelete, host, methodIDPath(s), token, nil)
}

// verifyRequest is the request verify sends, deliberate (the error specs judge the answer).
func verifyRequest(host, token, location, authSession string, attestation []byte) *harness.Request {
	GinkgoHelper()
	Expect(location).NotTo(BeEmpty(), "the enrollment answered without a Location")
	return &harness.Request{Method: http.MethodPost, URL: VerifyURL(host, location), Bearer: token, Deliberate: true,
		JSON: map[string]any{"auth_session": authSession, "authn_response": json.RawMessage(attestation)}}
}

// expectOnHost checks that an absolute URL points at host (a relative one is on the
// host called by definition).
func expectOnHost(raw, host string) {
	GinkgoHelper()
	u, err := url.Parse(raw)
	Expect(err).NotTo(HaveOccurred(), "%q is not a URL", raw)
	if u.IsAbs() {
		Expect(u.Scheme).To(Equal("https"), "%s", raw)
		Expect(strings.ToLower(u.Host)).To(Equal(strings.ToLower(host)), "%s must point at the domain called, %s", raw, host)
	}
	Expect(u.Path).To(HavePrefix("/me/v1/authentication-methods/"), "%s", raw)
}

// expectSameCOSEKey compares the standard-base64 COSE key the server returned with
// the authenticator's, as CBOR maps (encodings may order keys differently).
func expectSameCOSEKey(got any, want []byte) {
	GinkgoHelper()
	s, ok := got.(string)
	Expect(ok).To(BeTrue(), "public_key must be a string")
	raw, err := base64.StdEncoding.DecodeString(s)
	Expect(err).NotTo(HaveOccurred(), "public_key must be standard base64")
	var g, w map[int]any
	Expect(cbor.Unmarshal(raw, &g)).To(Succeed(), "public_key must be a COSE key")
	Expect(cbor.Unmarshal(want, &w)).To(Succeed())
	Expect(g).To(Equal(w), "public_key must be the credential's public key")
}

// CreationOptions reads WebAuthn creation options (authn_params_public_key).
func CreationOptions(raw json.RawMessage) methods.CreationOptions {
	GinkgoHelper()
	o, err := methods.ParseCreationOptions(raw)
	Expect(err).NotTo(HaveOccurred())
	return o
}

// ExpectFreshChallenge checks a challenge is base64url of at least 16 bytes and was
// never issued before in this run (one set for every ceremony: signup, login and
// enrollment).
func ExpectFreshChallenge(ch string) {
	GinkgoHelper()
	Expect(methods.CheckChallenge(ch)).To(Succeed())
	Expect(seenChallenges).NotTo(HaveKey(ch), "challenge was issued twice")
	seenChallenges[ch] = true
}

// Enrollment through a method driver (suites/harness/methods), for every type.

// MethodsEnv is what the drivers use of the run.
func MethodsEnv() methods.Env {
	return methods.Env{Target: F.Target, OOB: oob.New(F.Target, F.Client)}
}

// AsEnrolling is u as the drivers see it.
func AsEnrolling(u *User) methods.User {
	return methods.User{ID: u.Subject, Email: u.Email, Authn: u.Authn}
}

// factors caches GET /factors, the API's capability list, for the run: whether the
// target serves it (Early Access at Auth0: a tenant may answer 404) and what it lists.
var factors struct {
	sync.Mutex
	done   bool
	served bool
	why    string // why the suite does not read it, when it does not
	types  []string
}

// lookUpFactors asks GET /factors once per run, by a user of its own. A target
// whose config gives methods: may answer otherwise than 200 (e.g. without the
// read:me:factors scope): its GET /factors specs skip, saying so.
func lookUpFactors(ctx context.Context) {
	GinkgoHelper()
	factors.Lock()
	defer factors.Unlock()
	if factors.done {
		return
	}
	c := Me(ctx, BorrowUser(ctx, Budget{spec.Read: 1}), harness.ScopeReadFactors)
	// Delivered, not judged: a 404 is how a tenant without the feature answers,
	// which the description (of the feature) does not list.
	resp := Deliver(c.Factors(ctx))
	switch {
	case resp.Status == http.StatusNotFound:
		factors.why, factors.done = "the target does not serve GET /factors (404): it is Early Access at Auth0, and a tenant may not answer it"+methodsSource(), true
		return
	case resp.Status != http.StatusOK && F.Target.Methods != nil:
		factors.why, factors.done = fmt.Sprintf("GET /factors answered %d (the target config's methods: is the capability list)", resp.Status), true
		return
	}
	resp = Call(resp, nil)
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /factors")
	var body struct {
		Factors []struct {
			Type string `json:"type"`
		} `json:"factors"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	for _, f := range body.Factors {
		factors.types = append(factors.types, f.Type)
	}
	factors.served, factors.done = true, true
}

// FactorsServed says whether the suite can read the target's GET /factors (a
// tenant without the Early Access feature answers 404).
func FactorsServed(ctx context.Context) bool {
	GinkgoHelper()
	lookUpFactors(ctx)
	return factors.served
}

// RequireFactors skips a spec of GET /factors itself when the target does not serve it.
func RequireFactors(ctx context.Context) {
	GinkgoHelper()
	if !FactorsServed(ctx) {
		Skip(factors.why)
	}
}

// RequireServed skips a spec of op when the target does not serve it (GET /factors,
// RequireFactors).
func RequireServed(ctx context.Context, op spec.Operation) {
	GinkgoHelper()
	if op.ID == myaccount.ListFactors {
		RequireFactors(ctx)
	}
}

// Served says whether the target serves op (not planned, and GET /factors only
// when the target answers it).
func Served(ctx context.Context, op spec.Operation) bool {
	GinkgoHelper()
	return !op.Planned() && (op.ID != myaccount.ListFactors || FactorsServed(ctx))
}

func methodsSource() string {
	if F.Target.Methods != nil {
		return "; the target config's methods: is the capability list"
	}
	return ""
}

// EnabledTypes are the method types the target enables: the target config's
// methods: when it gives them, else what GET /factors lists (asked once per run by
// a user of its own). A target that serves no GET /factors and whose config gives
// no methods: skips the spec, saying so.
func EnabledTypes(ctx context.Context) []string {
	GinkgoHelper()
	if m := F.Target.Methods; m != nil {
		return m
	}
	if !FactorsServed(ctx) {
		Skip("the target does not serve GET /factors (404; Early Access at Auth0) and the target config gives no methods: list the method types it enables there")
	}
	return factors.types
}

// CapabilitySource names where EnabledTypes comes from, for messages.
func CapabilitySource() string {
	if F.Target.Methods != nil {
		return "the target config's methods:"
	}
	return "GET /factors"
}

// DriverFor is typ's driver for the target. It skips when the target does not
// enable the type (EnabledTypes), or when the driver cannot run against the target
// (an out-of-band proof with no source to read it from).
func DriverFor(ctx context.Context, typ string) methods.Driver {
	GinkgoHelper()
	RequireCustomDomain()
	if enabled := EnabledTypes(ctx); !slices.Contains(enabled, typ) {
		Skip(fmt.Sprintf("the target does not enable %s: %s lists %v", typ, CapabilitySource(), enabled))
	}
	d, err := methods.New(typ, MethodsEnv())
	Expect(err).NotTo(HaveOccurred())
	if why := d.Unavailable(); why != "" {
		Skip(why)
	}
	return d
}

// StaticDriver is typ's driver for what it knows without a target (building the spec tree).
func StaticDriver(typ string) methods.Driver {
	d, err := methods.New(typ, methods.Env{})
	if err != nil {
		panic(err)
	}
	return d
}

// StartMethod starts an enrollment with d's body and expects the documented 202:
// a Location on the domain called naming the method being enrolled, and the type's
// body.
func StartMethod(ctx context.Context, c *myaccount.Client, d methods.Driver, u *User) *methods.Started {
	GinkgoHelper()
	body := d.StartBody(AsEnrolling(u))
	resp := Call(c.Start(ctx, body))
	Expect(resp).To(HaveStatus(http.StatusAccepted), "POST /authentication-methods {type: %s} must answer 202", d.Type())
	Expect(resp.Location()).NotTo(BeEmpty(), "POST /authentication-methods must answer with a Location header: clients take the method id from it")
	expectOnHost(resp.Location(), c.Host)
	s := methods.NewStarted(body, resp.Location(), resp.Body)
	Expect(d.CheckStarted(s)).To(Succeed(), "the 202 of a %s enrollment", d.Type())
	return s
}

// Enrolled is a method the suite enrolled (or seeded) and the proof that made it.
type Enrolled struct {
	ID      string
	Method  map[string]any
	Proof   methods.Proof
	Started *methods.Started // nil for a method made otherwise
}

// VerifyMethod completes s with d's proof and expects 201 with a Location naming the
// new method, on the domain called, and the method the driver expects.
func VerifyMethod(ctx context.Context, c *myaccount.Client, d methods.Driver, u *User, s *methods.Started) Enrolled {
	GinkgoHelper()
	p, err := d.Proof(ctx, AsEnrolling(u), s)
	Expect(err).NotTo(HaveOccurred(), "making the proof of a %s enrollment", d.Type())
	resp := Call(c.Verify(ctx, s.Location, p.Body))
	Expect(resp).To(HaveStatus(http.StatusCreated), "POST {Location}/verify of a %s enrollment must answer 201", d.Type())
	m := resp.Object()
	Expect(d.CheckMethod(s, p, m)).To(Succeed(), "the %s method the verify answered", d.Type())
	id, _ := m["id"].(string)
	Expect(resp.Location()).NotTo(BeEmpty(), "verify must answer with a Location header")
	expectOnHost(resp.Location(), c.Host)
	Expect(methods.LastSegment(resp.Location())).To(Equal(id), "the verify's Location must name the new method")
	return Enrolled{ID: id, Method: m, Proof: p, Started: s}
}

// VerifyAttempt sends a verify body to s's Location and returns the answer as it is,
// for the spec to judge (a refusal must not be a description violation).
func VerifyAttempt(ctx context.Context, c *myaccount.Client, location string, body any) *harness.Response {
	GinkgoHelper()
	return Deliver(c.Verify(ctx, location, body))
}

// ExpectBadRequest expects a My Account refusal of invalid input: 400 with the
// problem body (a 429 never gets here: deliver makes it inconclusive).
func ExpectBadRequest(resp *harness.Response, what string) {
	GinkgoHelper()
	if resp.Status < 300 {
		Fail(F.Redactor.Text(fmt.Sprintf("%s was accepted (%d): %.300s", what, resp.Status, resp.Body)))
	}
	ExpectNoFailures(RefusalProblems(what, resp, http.StatusBadRequest))
}

// MethodsOf lists the ids of c's user's methods (of one type when typ is set).
func MethodsOf(ctx context.Context, c *myaccount.Client, typ string) []string {
	GinkgoHelper()
	resp := Call(c.Methods(ctx, typ))
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /authentication-methods")
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	return MethodIDs(body.Methods)
}

var seenChallenges = map[string]bool{}
