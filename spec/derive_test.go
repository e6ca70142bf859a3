package spec

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// Valid bodies per operation and branch of our description, as the catalogue's
// bases look with their placeholders filled in.
var testBases = []struct {
	op, branch string
	body       map[string]any
}{
	{"startAuthenticationMethodEnrollment", "passkey", map[string]any{"type": "passkey"}},
	{"startAuthenticationMethodEnrollment", "totp", map[string]any{"type": "totp"}},
	{"startAuthenticationMethodEnrollment", "email", map[string]any{"type": "email", "email": "a@example.com"}},
	{"startAuthenticationMethodEnrollment", "phone", map[string]any{"type": "phone", "phone_number": "+14155550123"}},
	{"updateAuthenticationMethod", "", map[string]any{"name": "n"}},
	{"verifyAuthenticationMethodEnrollment", "passkey or webauthn verification", map[string]any{"auth_session": "s",
		"authn_response": map[string]any{"id": "AA", "rawId": "AA", "type": "public-key", "response": map[string]any{"clientDataJSON": "e30", "attestationObject": "oA"}}}},
	{"verifyAuthenticationMethodEnrollment", "password verification", map[string]any{"auth_session": "s", "new_password": "Abc!23xyz"}},
	{"verifyAuthenticationMethodEnrollment", "push-notification or recovery-code verification", map[string]any{"auth_session": "s"}},
	{"startAccountConnection", "", map[string]any{"connection": "c", "redirect_uri": "https://app.example/cb"}},
	{"completeAccountConnection", "", map[string]any{"auth_session": "s", "connect_code": "c", "redirect_uri": "https://app.example/cb"}},
}

func derived(t *testing.T, op, branch string) ([]BadBody, *openapi3.Schema, map[string]any) {
	t.Helper()
	for _, b := range testBases {
		if b.op == op && b.branch == branch {
			s := MustOperation(op).BodyBranches()[branch]
			if s == nil {
				t.Fatalf("%s has no branch %q", op, branch)
			}
			return DeriveBodies(s, b.body), s, b.body
		}
	}
	t.Fatalf("no test base for %s %q", op, branch)
	return nil, nil, nil
}

// Every derived body is JSON that breaks its branch, names what it breaks and the
// requirement a refusal checks, and appears once; the base itself is valid.
func TestDerivedBodiesBreakTheirBranch(t *testing.T) {
	reqs := []string{ReqMissingMember, ReqUnknownMember, ReqWrongType, ReqOutOfBounds}
	opts := append([]openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}, formatOptions...)
	for _, tb := range testBases {
		out, s, base := derived(t, tb.op, tb.branch)
		if err := s.VisitJSON(any(clone(base)), opts...); err != nil {
			t.Errorf("%s %q: the test base is invalid: %v", tb.op, tb.branch, err)
		}
		if len(out) == 0 {
			t.Errorf("%s %q: nothing derived", tb.op, tb.branch)
		}
		seen := map[string]bool{}
		for _, b := range out {
			var v any
			if err := json.Unmarshal(b.Body, &v); err != nil {
				t.Errorf("%s %q %s: not JSON: %v", tb.op, tb.branch, b.Name, err)
				continue
			}
			if s.VisitJSON(v, opts...) == nil {
				t.Errorf("%s %q %s: the branch accepts %s", tb.op, tb.branch, b.Name, b.Body)
			}
			if !slices.Contains(reqs, b.Req) || b.Name == "" || (b.Req != ReqMissingMember && b.Pointer == "") {
				t.Errorf("%s %q: %+v lacks a name, pointer or known requirement", tb.op, tb.branch, b)
			}
			if seen[string(b.Body)] {
				t.Errorf("%s %q: %s twice", tb.op, tb.branch, b.Body)
			}
			seen[string(b.Body)] = true
		}
	}
}

func TestDerivedBodies(t *testing.T) {
	for _, c := range []struct {
		op, branch, req, pointer string
		body                     string // the derived body, exactly
	}{
		// Required members dropped, at the top and nested.
		{"startAuthenticationMethodEnrollment", "passkey", ReqMissingMember, "/type", `{}`},
		{"startAuthenticationMethodEnrollment", "email", ReqMissingMember, "/email", `{"type":"email"}`},
		{"completeAccountConnection", "", ReqMissingMember, "/redirect_uri", `{"auth_session":"s","connect_code":"c"}`},
		{"verifyAuthenticationMethodEnrollment", "passkey or webauthn verification", ReqMissingMember, "/authn_response/response/clientDataJSON",
			`{"auth_session":"s","authn_response":{"id":"AA","rawId":"AA","response":{"attestationObject":"oA"},"type":"public-key"}}`},
		// Unknown members where additionalProperties is false, also nested; none where it is open.
		{"updateAuthenticationMethod", "", ReqUnknownMember, "/" + UnknownMemberName, `{"contract_unknown_member":"x","name":"n"}`},
		{"startAuthenticationMethodEnrollment", "totp", ReqUnknownMember, "/" + UnknownMemberName, `{"contract_unknown_member":"x","type":"totp"}`},
		{"startAccountConnection", "", ReqUnknownMember, "/authorization_params/" + UnknownMemberName,
			`{"authorization_params":{"contract_unknown_member":"x"},"connection":"c","redirect_uri":"https://app.example/cb"}`},
		// Wrong JSON types.
		{"updateAuthenticationMethod", "", ReqWrongType, "/name", `{"name":123}`},
		{"verifyAuthenticationMethodEnrollment", "passkey or webauthn verification", ReqWrongType, "/authn_response", `{"auth_session":"s","authn_response":"x"}`},
		{"startAuthenticationMethodEnrollment", "passkey", ReqWrongType, "/use_exclude_credentials", `{"type":"passkey","use_exclude_credentials":"true"}`},
		{"startAccountConnection", "", ReqWrongType, "/authorization_params/max_age",
			`{"authorization_params":{"max_age":"1"},"connection":"c","redirect_uri":"https://app.example/cb"}`},
		// Enum, const, pattern, lengths, bounds and items.
		{"startAuthenticationMethodEnrollment", "totp", ReqOutOfBounds, "/type", `{"type":"bogus"}`},
		{"updateAuthenticationMethod", "", ReqOutOfBounds, "/preferred_authentication_method", `{"name":"n","preferred_authentication_method":"bogus"}`},
		{"startAuthenticationMethodEnrollment", "passkey", ReqOutOfBounds, "/connection", `{"connection":"a b","type":"passkey"}`},
		{"startAuthenticationMethodEnrollment", "passkey", ReqOutOfBounds, "/identity_user_id", `{"identity_user_id":"","type":"passkey"}`},
		{"verifyAuthenticationMethodEnrollment", "password verification", ReqOutOfBounds, "/new_password", `{"auth_session":"s","new_password":"\u0001"}`},
		{"startAccountConnection", "", ReqOutOfBounds, "/code_challenge_method", `{"code_challenge_method":"bogus","connection":"c","redirect_uri":"https://app.example/cb"}`},
		{"startAccountConnection", "", ReqOutOfBounds, "/authorization_params/max_age",
			`{"authorization_params":{"max_age":-1},"connection":"c","redirect_uri":"https://app.example/cb"}`},
		{"startAccountConnection", "", ReqOutOfBounds, "/scopes", `{"connection":"c","redirect_uri":"https://app.example/cb","scopes":[]}`},
		{"startAccountConnection", "", ReqOutOfBounds, "/scopes", `{"connection":"c","redirect_uri":"https://app.example/cb","scopes":["s0","s0"]}`},
		{"startAccountConnection", "", ReqOutOfBounds, "/scopes/0", `{"connection":"c","redirect_uri":"https://app.example/cb","scopes":[""]}`},
		{"completeAccountConnection", "", ReqOutOfBounds, "/code_verifier",
			`{"auth_session":"s","code_verifier":"` + strings.Repeat("a", 42) + `","connect_code":"c","redirect_uri":"https://app.example/cb"}`},
		{"completeAccountConnection", "", ReqOutOfBounds, "/auth_session",
			`{"auth_session":"` + strings.Repeat("s", 65) + `","connect_code":"c","redirect_uri":"https://app.example/cb"}`},
	} {
		out, _, _ := derived(t, c.op, c.branch)
		if !slices.ContainsFunc(out, func(b BadBody) bool {
			return b.Req == c.req && b.Pointer == c.pointer && string(b.Body) == c.body
		}) {
			t.Errorf("%s %q: no %s case for %s with body %s", c.op, c.branch, c.req, c.pointer, c.body)
		}
	}
	// An open object (the passkey start) has no unknown-member case; code_challenge
	// is not added alone, as it needs code_challenge_method (dependentRequired).
	out, _, _ := derived(t, "startAuthenticationMethodEnrollment", "passkey")
	connect, _, _ := derived(t, "startAccountConnection", "")
	if slices.ContainsFunc(out, func(b BadBody) bool { return b.Req == ReqUnknownMember }) ||
		slices.ContainsFunc(connect, func(b BadBody) bool {
			return strings.HasPrefix(b.Pointer, "/code_challenge/") || b.Pointer == "/code_challenge"
		}) {
		t.Error("an unknown member of an open object, or code_challenge without its method")
	}
	// The scopes cases: more than 100 distinct items.
	if !slices.ContainsFunc(connect, func(b BadBody) bool {
		var v struct{ Scopes []string }
		return b.Pointer == "/scopes" && json.Unmarshal(b.Body, &v) == nil && len(v.Scopes) == 101 && len(slices.Compact(slices.Sorted(slices.Values(v.Scopes)))) == 101
	}) {
		t.Error("no case with 101 distinct scopes")
	}
}

// A schema written in code: allOf parts merge, nested arrays and bounds.
func TestDeriveFromAllOfAndArrays(t *testing.T) {
	var s openapi3.Schema
	if err := json.Unmarshal([]byte(`{"type":"object","additionalProperties":false,"required":["id"],"properties":{
		"id":{"allOf":[{"type":"string","pattern":"^[a-z]+$"}],"maxLength":4},
		"n":{"type":"integer","minimum":1,"maximum":3},
		"tags":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"string","enum":["a","b","c"]}}}}`), &s); err != nil {
		t.Fatal(err)
	}
	out := DeriveBodies(&s, map[string]any{"id": "abc"})
	var got []string
	for _, b := range out {
		got = append(got, b.Req+" "+string(b.Body))
	}
	for _, want := range []string{
		`MA-ERR-002 {}`,
		`MA-ERR-003 {"contract_unknown_member":"x","id":"abc"}`,
		`MA-ERR-004 {"id":123}`,
		`MA-ERR-005 {"id":"a b"}`,
		`MA-ERR-005 {"id":"abccc"}`,
		`MA-ERR-004 {"id":"abc","n":"1"}`,
		`MA-ERR-005 {"id":"abc","n":0}`,
		`MA-ERR-005 {"id":"abc","n":4}`,
		`MA-ERR-004 {"id":"abc","tags":"x"}`,
		`MA-ERR-005 {"id":"abc","tags":[]}`,
		`MA-ERR-005 {"id":"abc","tags":["a","b","c"]}`,
		`MA-ERR-005 {"id":"abc","tags":["bogus"]}`,
		`MA-ERR-004 {"id":"abc","tags":[123]}`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func TestGenericBodies(t *testing.T) {
	s := MustOperation("updateAuthenticationMethod").BodyBranches()[""]
	out := GenericBodies(s, map[string]any{"name": "n"})
	byReq := map[string][]BadBody{}
	for _, b := range out {
		byReq[b.Req] = append(byReq[b.Req], b)
	}
	if len(byReq[ReqNotAnObject]) != 4 || len(byReq[ReqOversize]) != 1 || len(byReq[ReqNotUTF8]) != 1 {
		t.Fatalf("generic bodies: %v", out)
	}
	for _, b := range byReq[ReqNotAnObject] {
		var m map[string]any
		if json.Unmarshal(b.Body, &m) == nil && m != nil {
			t.Errorf("%s is a JSON object: %s", b.Name, b.Body)
		}
	}
	big := byReq[ReqOversize][0].Body
	var m map[string]any
	if len(big) != Oversize || json.Unmarshal(big, &m) != nil || m["name"] != "n" {
		t.Errorf("the oversized body is %d bytes, or not the valid body padded: %.40s", len(big), big)
	}
	if b := byReq[ReqNotUTF8][0]; utf8.Valid(b.Body) || b.Pointer != "/name" {
		t.Errorf("non-UTF-8 body %q at %s", b.Body, b.Pointer)
	}
	// A body without a free-text member spoils the one it has.
	start := MustOperation("startAuthenticationMethodEnrollment").BodyBranches()["totp"]
	for _, b := range GenericBodies(start, map[string]any{"type": "totp"}) {
		if b.Req == ReqNotUTF8 && utf8.Valid(b.Body) {
			t.Errorf("non-UTF-8 body %q", b.Body)
		}
	}
}

func TestDeriveQueries(t *testing.T) {
	got := map[string]url.Values{}
	for _, q := range DeriveQueries(MustOperation("listConnectedAccounts")) {
		got[q.Req+" "+q.Param+" "+q.Name] = q.Query
	}
	want := map[string]func(url.Values) bool{
		ReqQueryUnknown + " " + UnknownQueryName: func(v url.Values) bool { return v.Get(UnknownQueryName) == "1" },
		ReqQueryValue + " take":                  func(v url.Values) bool { return v.Get("take") == "0" || v.Get("take") == "abc" },
		ReqQueryValue + " connection":            func(v url.Values) bool { return len(v["connection"]) == 21 || len(v.Get("connection")) == 129 },
	}
	for prefix, ok := range want {
		n := 0
		for k, v := range got {
			if strings.HasPrefix(k, prefix) {
				if !ok(v) {
					t.Errorf("%s: %v", k, v)
				}
				n++
			}
		}
		if n == 0 {
			t.Errorf("no %s case in %v", prefix, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d cases, want 5 (unknown, take=abc, take=0, 21 connections, a long connection): %v", len(got), got)
	}
	if qs := DeriveQueries(MustOperation("listAuthenticationMethods")); len(qs) != 2 || qs[1].Query.Get("type") != "bogus" {
		t.Errorf("listAuthenticationMethods: %+v", qs)
	}
	if qs := DeriveQueries(MustOperation("listFactors")); len(qs) != 1 || qs[0].Req != ReqQueryUnknown {
		t.Errorf("listFactors: %+v", qs)
	}
}
