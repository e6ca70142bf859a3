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

// factorTypes caches GET /factors, the target's capability list, for the run.
var factorTypes struct {
	sync.Mutex
	done  bool
	types []string
}

// EnabledTypes are the method types GET /factors lists, asked once per run by a
// user of its own.
func EnabledTypes(ctx context.Context) []string {
	GinkgoHelper()
	factorTypes.Lock()
	defer factorTypes.Unlock()
	if !factorTypes.done {
		c := Me(ctx, BorrowUser(ctx, Budget{spec.Read: 1}), harness.ScopeReadFactors)
		resp := Call(c.Factors(ctx))
		Expect(resp).To(HaveStatus(http.StatusOK), "GET /factors")
		var body struct {
			Factors []struct {
				Type string `json:"type"`
			} `json:"factors"`
		}
		Expect(resp.JSON(&body)).To(Succeed())
		for _, f := range body.Factors {
			factorTypes.types = append(factorTypes.types, f.Type)
		}
		factorTypes.done = true
	}
	return factorTypes.types
}

// DriverFor is typ's driver for the target. It skips when GET /factors does not list
// the type, or when the driver cannot run against the target (an out-of-band proof
// with no source to read it from).
func DriverFor(ctx context.Context, typ string) methods.Driver {
	GinkgoHelper()
	RequireCustomDomain()
	if enabled := EnabledTypes(ctx); !slices.Contains(enabled, typ) {
		Skip(fmt.Sprintf("the target does not enable %s: GET /factors lists %v", typ, enabled))
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
