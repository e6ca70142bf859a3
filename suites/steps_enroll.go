package suites

// Passkey enrollment through the My Account API, step by step.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// enrollment is a started passkey enrollment.
type enrollment struct {
	Location string
	ceremony
}

// startEnrollment sends POST /authentication-methods {type: passkey} and returns the
// response.
func startEnrollment(ctx context.Context, host, token string) *harness.Response {
	GinkgoHelper()
	return call(F.Me(ctx, http.MethodPost, host, "/authentication-methods", token, map[string]any{"type": "passkey"}))
}

// verifyURL resolves the enrollment's Location against the API base and appends /verify.
func verifyURL(host, location string) string {
	GinkgoHelper()
	base, err := url.Parse(harness.MeURL(host, "/authentication-methods"))
	Expect(err).NotTo(HaveOccurred())
	loc, err := url.Parse(location)
	Expect(err).NotTo(HaveOccurred(), "Location %q is not a URL", location)
	u := base.ResolveReference(loc)
	return strings.TrimSuffix(u.String(), "/") + "/verify"
}

// methodIDPath percent-encodes a method id for a path segment (passkey|dev_x → passkey%7Cdev_x).
func methodIDPath(id string) string { return "/authentication-methods/" + url.PathEscape(id) }

// listMethods returns the user's authentication methods.
func listMethods(ctx context.Context, host, token string) []map[string]any {
	GinkgoHelper()
	resp := call(F.Me(ctx, http.MethodGet, host, "/authentication-methods", token, nil))
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /authentication-methods")
	var body struct {
		Methods []map[string]any `json:"authentication_methods"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	return body.Methods
}

// methodIDs lists the ids of methods.
func methodIDs(ms []map[string]any) []string {
	var out []string
	for _, m := range ms {
		if id, ok := m["id"].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

// verify posts an attestation to {Location}/verify.
func verify(ctx SpecContext, host, token, location, authSession string, attestation []byte) *harness.Response {
	GinkgoHelper()
	Expect(location).NotTo(BeEmpty(), "the enrollment answered without a Location")
	return send(ctx, &harness.Request{Method: http.MethodPost, URL: verifyURL(host, location), Bearer: token,
		JSON: map[string]any{"auth_session": authSession, "authn_response": json.RawMessage(attestation)}})
}

// deleteMethod removes a method the spec created; used with DeferCleanup.
func deleteMethod(ctx SpecContext, host, token string, id any) {
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
	return &harness.Request{Method: http.MethodPost, URL: verifyURL(host, location), Bearer: token, Deliberate: true,
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

func creationOptions(raw json.RawMessage) webauthnOptions {
	GinkgoHelper()
	var o webauthnOptions
	Expect(json.Unmarshal(raw, &o)).To(Succeed(), "authn_params_public_key")
	return o
}

// expectFreshChallenge checks a challenge is base64url of at least 16 bytes and was
// never issued before in this run.
func expectFreshChallenge(ch string) {
	GinkgoHelper()
	b, err := base64.RawURLEncoding.DecodeString(ch)
	Expect(err).NotTo(HaveOccurred(), "challenge %q is not base64url without padding", ch)
	Expect(len(b)).To(BeNumerically(">=", 16), "challenge must carry at least 16 random bytes")
	Expect(seenChallenges).NotTo(HaveKey(ch), "challenge was issued twice")
	seenChallenges[ch] = true
}

// webauthnOptions is what the suite reads of creation options.
type webauthnOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	AuthenticatorSelection struct {
		ResidentKey string `json:"residentKey"`
	} `json:"authenticatorSelection"`
}
