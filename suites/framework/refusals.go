package framework

// How refusals are judged.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// Refusals are judged by what the vendor documents, accepting each documented answer
// (PROTOCOL §5): the token endpoint documents 400, 401 and 403; Auth0 refuses a bad,
// reused or expired code or ceremony with 403 invalid_grant where RFC 6749 §5.2 says
// 400, and a failed client authentication with 401 access_denied as well as
// invalid_client. A 429 is never a refusal: call and deliver make it INCONCLUSIVE.

// TokenRefusalStatuses are the statuses the token endpoint documents for a refusal.
var TokenRefusalStatuses = []int{400, 401, 403}

// ExpectGrantRefused checks a token request was refused with a documented status
// and an OAuth error body.
func ExpectGrantRefused(resp *harness.Response, what string) {
	GinkgoHelper()
	Expect(resp.Status).NotTo(BeNumerically("<", 400), "%s was accepted: %s", what, resp.Body)
	Expect(TokenRefusalStatuses).To(ContainElement(resp.Status), "%s must be refused with a status the token endpoint documents (400, 401 or 403): %d %s", what, resp.Status, resp.Body)
	Expect(resp.Object()).To(HaveKeyWithValue("error", BeAssignableToTypeOf("")), "%s: the refusal must carry an OAuth error", what)
}

// ExpectInvalidGrant expects invalid_grant with 400 (RFC 6749 §5.2) or 403 (Auth0).
func ExpectInvalidGrant(resp *harness.Response, what string) {
	GinkgoHelper()
	Expect(resp.Status).NotTo(BeNumerically("<", 400), "%s was accepted: %s", what, resp.Body)
	Expect([]int{400, 403}).To(ContainElement(resp.Status), "%s must be refused with 400 or 403: %d %s", what, resp.Status, resp.Body)
	Expect(resp.Object()).To(HaveKeyWithValue("error", "invalid_grant"), "%s: the error code", what)
}

// ClientAuthErrors are the error codes of a failed client authentication: RFC 6749
// §5.2's invalid_client, and access_denied and unauthorized_client, with which
// Auth0 has answered a missing client secret.
var ClientAuthErrors = []string{"invalid_client", "access_denied", "unauthorized_client"}

// ExpectClientAuthFailed expects 401 or 403 (Auth0 has answered a missing secret
// with 403) with one of ClientAuthErrors.
func ExpectClientAuthFailed(resp *harness.Response, what string) {
	GinkgoHelper()
	Expect(resp.Status).To(BeElementOf(401, 403), "%s must be refused with 401 or 403: %d %s", what, resp.Status, resp.Body)
	Expect(resp.Object()).To(HaveKeyWithValue("error", BeElementOf(ClientAuthErrors)), "%s: the error code", what)
}

// RefusalProblems checks that resp is one of the wanted statuses with a My Account
// error body, and returns what is wrong, prefixed with what was sent.
func RefusalProblems(what string, resp *harness.Response, want ...int) []string {
	var out []string
	if !slices.Contains(want, resp.Status) {
		out = append(out, fmt.Sprintf("%s: answered %d, want %v: %.300s", what, resp.Status, want, resp.Body))
		return out
	}
	if v := resp.Violation; v != nil && !onlyUndocumentedStatus(v) {
		out = append(out, fmt.Sprintf("%s: the %d breaks the API description: %v", what, resp.Status, v))
	}
	// The error body, checked here too because a status the operation does not
	// document (413, 404 on PATCH) has no schema for the validator to apply.
	var p struct {
		Type   *string `json:"type"`
		Status *int    `json:"status"`
		Title  *string `json:"title"`
		Detail *string `json:"detail"`
	}
	switch {
	case json.Unmarshal(resp.Body, &p) != nil:
		out = append(out, fmt.Sprintf("%s: the %d body is not a JSON error object: %.200s", what, resp.Status, resp.Body))
	case p.Type == nil || *p.Type == "" || p.Title == nil || p.Detail == nil || p.Status == nil:
		out = append(out, fmt.Sprintf("%s: the %d body lacks type, status, title or detail: %.200s", what, resp.Status, resp.Body))
	case *p.Status != resp.Status:
		out = append(out, fmt.Sprintf("%s: the body says status %d, the response is %d", what, *p.Status, resp.Status))
	}
	return out
}

// onlyUndocumentedStatus says the only problem is a status the operation does not
// list, which refusalProblems accepts for statuses a case names.
func onlyUndocumentedStatus(err error) bool {
	var ve *spec.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, p := range ve.Problems {
		if p.Where != "status" {
			return false
		}
	}
	return true
}

// ExpectNoFailures fails the spec with every collected failure, one per line.
func ExpectNoFailures(failures []string) {
	GinkgoHelper()
	if len(failures) > 0 {
		Fail(fmt.Sprintf("%d case(s) failed:\n%s", len(failures), strings.Join(failures, "\n")))
	}
}

// Refused sends one request the target must refuse with one of want and returns
// what is wrong with the answer. A connection closed on an oversized body counts
// as a refusal.
func Refused(ctx context.Context, c *myaccount.Client, opID string, in myaccount.Call, what string, oversized bool, want ...int) []string {
	GinkgoHelper()
	in.Deliberate = true
	resp, err := c.Do(ctx, opID, in)
	if err != nil && oversized {
		// A server may close the connection on an oversized body before the client
		// has sent it all: a refusal, without a status to check.
		return nil
	}
	return RefusalProblems(what, Deliver(resp, err), want...)
}

// UndocumentedPatch sends a PATCH whose member the method's type does not have and
// whose effect the vendor does not document (a name for a passkey, PROTOCOL §10),
// and returns what is wrong with the answer: both a refusal (400 with the problem
// body) and a 200 that changes nothing (the method answered still without the
// member) conform. 1 write.
func UndocumentedPatch(ctx context.Context, c *myaccount.Client, id string, body map[string]any) []string {
	GinkgoHelper()
	resp := Deliver(c.Update(ctx, id, body))
	what := fmt.Sprintf("PATCH %v of a method whose type has no such member", body)
	if resp.Status != 200 {
		return RefusalProblems(what, resp, 400)
	}
	var out []string
	if resp.Violation != nil {
		out = append(out, fmt.Sprintf("%s: the 200 breaks the API description: %v", what, resp.Violation))
	}
	m := resp.Object()
	if got, _ := m["id"].(string); got != id {
		out = append(out, fmt.Sprintf("%s: the 200 answers method %q, not %q", what, m["id"], id))
	}
	for k := range body {
		if v, ok := m[k]; ok {
			out = append(out, fmt.Sprintf("%s: the 200 answers the method with %s %v, a member its type does not have: a 200 must change nothing", what, k, v))
		}
	}
	return out
}
