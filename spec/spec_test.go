package spec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const (
	canonical = "tenant.conformance.test"
	custom    = "login.conformance.test"
)

// Bodies a conforming server answers; the tests below break them one way each.
const (
	passkeyMethod = `{
		"id": "passkey|dev_0123456789",
		"type": "passkey",
		"created_at": "2025-01-02T03:04:05.678Z",
		"usage": ["primary"],
		"credential_backed_up": true,
		"credential_device_type": "multi_device",
		"identity_user_id": "6789abcdef",
		"key_id": "q83vEjRWeJA",
		"public_key": "pQECAyYgASFYIA==",
		"user_handle": "dXNlci1oYW5kbGU",
		"transports": ["internal", "hybrid"],
		"user_agent": "conformance",
		"aaguid": "00000000-0000-0000-0000-000000000000",
		"relying_party_id": "login.conformance.test",
		"last_auth_at": "2025-01-02T03:04:05Z"
	}`
	passkeyEnrollment = `{
		"auth_session": "sess_abc",
		"authn_params_public_key": {
			"challenge": "N2JmZTYxYjM0ZGQ1NDcwZQ",
			"rp": {"id": "login.conformance.test", "name": "Conformance"},
			"user": {"id": "dXNlci1oYW5kbGU", "name": "user@example.com", "displayName": "user@example.com"},
			"pubKeyCredParams": [{"type": "public-key", "alg": -8}, {"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
			"timeout": 60000,
			"authenticatorSelection": {"residentKey": "required", "userVerification": "preferred"}
		}
	}`
	problem = `{"type": "https://auth0.com/api-errors/A0E-401-0001", "status": 401, "title": "Unauthorized", "detail": "Invalid token"}`
)

var hosts = []string{canonical, custom}

func newValidator(t *testing.T, extra ...ExtraDoc) *Validator {
	t.Helper()
	v, err := NewValidator(hosts, extra...)
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

func request(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func jsonHeader(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// rateLimited adds the headers the vendor's document requires on 2xx answers.
func rateLimited(h http.Header) http.Header {
	h.Set("X-Ratelimit-Limit", "25")
	h.Set("X-Ratelimit-Remaining", "24")
	h.Set("X-Ratelimit-Reset", "1735787045")
	return h
}

func without(body, member string) string {
	re := regexp.MustCompile(`(?m)^\s*"` + regexp.QuoteMeta(member) + `":[^\n]*\n`)
	out := re.ReplaceAllString(body, "")
	if out == body {
		panic("member " + member + " not found")
	}
	return out
}

func mustFail(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("validation passed; want an error mentioning %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestDocumentsLoadAndValidate(t *testing.T) {
	docs := Documents()
	if len(docs) != 2 || docs[0].Name != MyAccountDoc || docs[1].Name != AuthenticationDoc {
		t.Fatalf("Documents() = %v, want myaccount then authentication", docs)
	}
	for _, d := range docs {
		t.Run(d.Name, func(t *testing.T) {
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData(d.Data)
			if err != nil {
				t.Fatalf("load %s: %v", d.File, err)
			}
			if !doc.IsOpenAPI31OrLater() {
				t.Errorf("%s is OpenAPI %s, want 3.1", d.File, doc.OpenAPI)
			}
			if err := doc.Validate(context.Background()); err != nil {
				t.Fatalf("%s does not validate: %v", d.File, err)
			}
			sum := sha256.Sum256(d.Data)
			if d.SHA256() != hex.EncodeToString(sum[:]) || len(d.SHA256()) != 64 {
				t.Errorf("SHA256() = %q", d.SHA256())
			}
		})
	}
	docs[0].Data[0] = 'X'
	if Documents()[0].Data[0] == 'X' {
		t.Error("Documents() hands out the embedded bytes; callers could change them")
	}
}

func loadOurs(t *testing.T, name string) *openapi3.T {
	t.Helper()
	for _, d := range Documents() {
		if d.Name == name {
			doc, err := openapi3.NewLoader().LoadFromData(d.Data)
			if err != nil {
				t.Fatal(err)
			}
			return doc
		}
	}
	t.Fatalf("no document %s", name)
	return nil
}

type operation struct {
	path, method string
	op           *openapi3.Operation
}

func operations(doc *openapi3.T) []operation {
	var out []operation
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			out = append(out, operation{path, method, op})
		}
	}
	return out
}

func TestEveryOperationIsIdentifiedAndDocumentsErrors(t *testing.T) {
	for _, name := range []string{MyAccountDoc, AuthenticationDoc} {
		doc := loadOurs(t, name)
		ids := map[string]string{}
		for _, o := range operations(doc) {
			where := name + " " + o.method + " " + o.path
			if o.op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := ids[o.op.OperationID]; dup {
				t.Errorf("%s reuses operationId %s of %s", where, o.op.OperationID, other)
			}
			ids[o.op.OperationID] = where
			var errs []string
			for code := range o.op.Responses.Map() {
				if code[0] == '4' || code[0] == '5' {
					errs = append(errs, code)
				}
			}
			if len(errs) == 0 {
				t.Errorf("%s documents no error response", where)
			}
			if o.op.Responses.Status(429) == nil {
				t.Errorf("%s does not document 429", where)
			}
			if name == MyAccountDoc {
				for _, code := range []int{401, 403} {
					if o.op.Responses.Status(code) == nil {
						t.Errorf("%s does not document %d", where, code)
					}
				}
			}
		}
	}
}

func TestMyAccountSecurityUsesUnderscoredScopes(t *testing.T) {
	doc := loadOurs(t, MyAccountDoc)
	scope := regexp.MustCompile(`^(create|read|update|delete):me:[a-z_]+$`)
	for _, o := range operations(doc) {
		if o.op.Security == nil || len(*o.op.Security) == 0 {
			t.Errorf("%s %s has no security requirement", o.method, o.path)
			continue
		}
		for _, req := range *o.op.Security {
			for scheme, scopes := range req {
				if len(scopes) != 1 || !scope.MatchString(scopes[0]) {
					t.Errorf("%s %s: scheme %s scopes %q, want one underscored scope", o.method, o.path, scheme, scopes)
				}
			}
		}
	}
}

func TestMyAccountHeadersAndPlannedOperations(t *testing.T) {
	doc := loadOurs(t, MyAccountDoc)
	for _, o := range operations(doc) {
		where := o.method + " " + o.path
		planned := o.op.Extensions["x-status"] == "planned"
		if planned != (strings.HasPrefix(o.path, "/consents") || o.path == "/organizations") {
			t.Errorf("%s: x-status = %v", where, o.op.Extensions["x-status"])
		}
		if planned && !strings.Contains(o.op.Description, "Planned") {
			t.Errorf("%s is planned but its description does not say so", where)
		}
		for code, ref := range o.op.Responses.Map() {
			if code[0] != '2' && code != "429" {
				continue
			}
			for _, h := range []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} {
				hr := ref.Value.Headers[h]
				if hr == nil {
					t.Errorf("%s → %s does not describe %s", where, code, h)
				} else if hr.Value.Required || !hr.Value.Schema.Value.Type.Is("integer") {
					t.Errorf("%s → %s: %s must be an optional integer", where, code, h)
				}
			}
		}
	}
	for _, c := range []struct {
		path, method string
		status       int
	}{
		{"/authentication-methods", "POST", 202},
		{"/authentication-methods/{authentication_method_id}/verify", "POST", 201},
	} {
		r := doc.Paths.Value(c.path).GetOperation(c.method).Responses.Status(c.status)
		if loc := r.Value.Headers["Location"]; loc == nil || !loc.Value.Required {
			t.Errorf("%s %s → %d must require Location", c.method, c.path, c.status)
		}
	}
}

func TestRequirements(t *testing.T) {
	reqs, err := Requirements()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.ID] {
			t.Errorf("duplicate ID %s", r.ID)
		}
		seen[r.ID] = true
	}
	seeds := []string{
		"MA-ENR-001", "MA-ENR-002", "MA-ENR-003", "MA-ENR-004", "MA-ENR-005", "MA-ENR-006", "MA-ENR-007", "MA-ENR-008",
		"AUTH-PK-001", "AUTH-PK-002", "AUTH-PK-003", "MA-AUTHZ-001", "MA-AUTHZ-002", "MA-AUTHZ-003", "MA-API-001", "MA-API-002",
	}
	for _, id := range seeds {
		r, ok := RequirementByID(id)
		if !ok {
			t.Errorf("seed requirement %s is missing", id)
			continue
		}
		if r.Level != "MUST" || r.Profile != "core" {
			t.Errorf("%s: level %s profile %s, want MUST core", id, r.Level, r.Profile)
		}
	}
	if _, ok := RequirementByID("MA-NOPE-999"); ok {
		t.Error("RequirementByID found an unknown ID")
	}
	reqs[0].ID = "CHANGED-001"
	if again, _ := Requirements(); again[0].ID == "CHANGED-001" {
		t.Error("Requirements() hands out the cached slice")
	}
}

func TestRequirementsRejectsBadCatalogues(t *testing.T) {
	const good = "  - {id: MA-X-001, level: MUST, source: s, section: x, statement: st, profile: core, operation: listFactors}\n"
	for name, c := range map[string]struct{ yaml, want string }{
		"unknown field": {"requirements:\n  - {id: MA-X-001, level: MUST, source: s, section: x, statement: st, profile: core, note: n}\n", "note"},
		"unknown top":   {"requirement:\n" + good, "requirement"},
		"bad id":        {"requirements:\n  - {id: ma-x-1, level: MUST, source: s, section: x, statement: st, profile: core}\n", `id "ma-x-1"`},
		"duplicate":     {"requirements:\n" + good + good, "already used by entry 1"},
		"level":         {"requirements:\n  - {id: MA-X-001, level: MUSTNT, source: s, section: x, statement: st, profile: core}\n", `level "MUSTNT"`},
		"profile":       {"requirements:\n  - {id: MA-X-001, level: MAY, source: s, section: x, statement: st, profile: gold}\n", `profile "gold"`},
		"empty":         {"requirements:\n  - {id: MA-X-001, level: MAY, source: s, section: x, statement: ' ', profile: core}\n", "statement is empty"},
		"none":          {"requirements: []\n", "no requirements"},
		"operation":     {"requirements:\n  - {id: MA-X-001, level: MAY, source: s, section: x, statement: st, profile: core, operation: getFactor}\n", `operation "getFactor"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseRequirements([]byte(c.yaml))
			mustFail(t, err, c.want)
		})
	}
}

func TestValidPasskeyResponsesPass(t *testing.T) {
	v := newValidator(t)
	base := "https://" + canonical + "/me/v1/authentication-methods"
	loc := base + "/passkey%7Cdev_0123456789"
	cases := []struct {
		method, url string
		status      int
		header      http.Header
		body        string
	}{
		{"POST", base, 202, jsonHeader("Location", base+"/passkey%7Cnew"), passkeyEnrollment},
		{"POST", base + "/passkey%7Cnew/verify", 201, jsonHeader("Location", loc), passkeyMethod},
		{"POST", base + "/passkey|new/verify", 201, rateLimited(jsonHeader("Location", loc)), passkeyMethod},
		{"GET", loc, 200, jsonHeader(), passkeyMethod},
		{"GET", base + "?type=passkey", 200, jsonHeader(), `{"authentication_methods": [` + passkeyMethod + `]}`},
		{"DELETE", loc, 204, http.Header{}, ""},
		{"GET", loc, 404, jsonHeader(), problem},
		{"GET", loc, 401, http.Header{"Content-Type": {"application/problem+json"}}, problem},
		{"GET", "https://" + canonical + "/me/v1/factors", 429, jsonHeader("Retry-After", "1"), problem},
	}
	for _, c := range cases {
		req := request(t, c.method, c.url)
		if err := v.ValidateResponse(req, nil, c.status, c.header, []byte(c.body)); err != nil {
			t.Errorf("%s %s → %d: %v", c.method, c.url, c.status, err)
		}
	}
}

func TestMissingKeyIDIsNamed(t *testing.T) {
	v := newValidator(t)
	req := request(t, "POST", "https://"+canonical+"/me/v1/authentication-methods/passkey%7Cnew/verify")
	err := v.ValidateResponse(req, nil, 201, jsonHeader("Location", "https://"+canonical+"/me/v1/authentication-methods/passkey%7Cx"), []byte(without(passkeyMethod, "key_id")))
	mustFail(t, err, `myaccount.yaml POST /authentication-methods/{authentication_method_id}/verify → 201: body /key_id: property "key_id" is missing`)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Pointer != "/key_id" {
		t.Errorf("want exactly one problem at /key_id, got %#v", ve)
	}
}

func TestBodyProblemsAreEachReported(t *testing.T) {
	v := newValidator(t)
	req := request(t, "GET", "https://"+custom+"/me/v1/authentication-methods/passkey%7Cx")
	body := strings.Replace(without(passkeyMethod, "user_handle"), `"credential_backed_up": true`, `"credential_backed_up": "yes"`, 1)
	body = strings.Replace(body, `"multi_device"`, `"several_devices"`, 1)
	err := v.ValidateResponse(req, nil, 200, jsonHeader(), []byte(body))
	mustFail(t, err,
		"body /user_handle: property \"user_handle\" is missing",
		"body /credential_backed_up: must be boolean, got string",
		`body /credential_device_type: must be one of "multi_device", "single_device", got "several_devices"`)
	mustFail(t, v.ValidateResponse(req, nil, 200, jsonHeader(), []byte(strings.Replace(passkeyMethod, `"passkey",`, `"passkeys",`, 1))),
		`body /type: must be one of "password", "passkey"`)
	mustFail(t, v.ValidateResponse(req, nil, 200, jsonHeader(), []byte(without(passkeyMethod, "type"))), `body /type: property "type" is missing`)
}

func TestUndocumentedStatusFails(t *testing.T) {
	v := newValidator(t)
	req := request(t, "DELETE", "https://"+canonical+"/me/v1/authentication-methods/passkey%7Cx")
	mustFail(t, v.ValidateResponse(req, nil, 200, jsonHeader(), []byte(passkeyMethod)),
		"DELETE /authentication-methods/{authentication_method_id} → 200: status: not documented", "204, 400, 401, 403, 404, 409, 429")
	mustFail(t, v.ValidateResponse(req, nil, 500, jsonHeader(), []byte(problem)), "→ 500: status")
}

func TestMissingLocationFails(t *testing.T) {
	v := newValidator(t)
	req := request(t, "POST", "https://"+canonical+"/me/v1/authentication-methods")
	mustFail(t, v.ValidateResponse(req, nil, 202, jsonHeader(), []byte(passkeyEnrollment)),
		"myaccount.yaml POST /authentication-methods → 202: header Location: missing")
	mustFail(t, v.ValidateResponse(req, nil, 202, jsonHeader("Location", "not a url"), []byte(passkeyEnrollment)),
		"header Location: is not a valid uri")
}

func TestHeadersContentTypeAndEmptyBodies(t *testing.T) {
	v := newValidator(t)
	get := request(t, "GET", "https://"+canonical+"/me/v1/factors")
	mustFail(t, v.ValidateResponse(get, nil, 200, jsonHeader("X-Ratelimit-Limit", "lots"), []byte(`{"factors": []}`)),
		`header x-ratelimit-limit: "lots" is not a number`)
	mustFail(t, v.ValidateResponse(get, nil, 200, http.Header{"Content-Type": {"text/html"}}, []byte(`{"factors": []}`)),
		`content type: "text/html" is not documented for 200 (documented: application/json)`)
	mustFail(t, v.ValidateResponse(get, nil, 200, jsonHeader(), nil), "body: is empty")
	del := request(t, "DELETE", "https://"+canonical+"/me/v1/authentication-methods/x")
	mustFail(t, v.ValidateResponse(del, nil, 204, http.Header{}, []byte("{}")), "a 204 response has no content")
}

func TestUnknownPathsHaveNoOperation(t *testing.T) {
	v := newValidator(t)
	for _, url := range []string{
		"https://" + canonical + "/me/authentication-methods", // MA-API-002: no /v1
		"https://" + canonical + "/me/v1/nothing",
		"https://" + canonical + "/me/v2/factors",
		"https://elsewhere.test/me/v1/factors",
	} {
		req := request(t, "GET", url)
		if err := v.ValidateResponse(req, nil, 404, jsonHeader(), []byte(problem)); !errors.Is(err, ErrNoOperation) {
			t.Errorf("GET %s: err = %v, want ErrNoOperation", url, err)
		}
		if err := v.ValidateRequest(req, nil); !errors.Is(err, ErrNoOperation) {
			t.Errorf("request GET %s: err = %v, want ErrNoOperation", url, err)
		}
		if op := v.Operation(req); op != "" {
			t.Errorf("Operation(GET %s) = %q, want none", url, op)
		}
	}
	put := request(t, "PUT", "https://"+canonical+"/me/v1/factors")
	if err := v.ValidateResponse(put, nil, 405, jsonHeader(), nil); !errors.Is(err, ErrNoOperation) {
		t.Errorf("PUT /factors: err = %v, want ErrNoOperation", err)
	}
}

func TestBothHostsAndBothDocuments(t *testing.T) {
	v, err := NewValidator([]string{canonical, custom + ":8443"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url, op string
		status  int
		header  http.Header
		body    string
	}{
		{"https://" + canonical + "/me/v1/factors", "GET /factors", 200, jsonHeader(), `{"factors": [{"type": "passkey", "usage": ["primary"]}]}`},
		{"https://" + canonical + ":443/me/v1/factors", "GET /factors", 200, jsonHeader(), `{"factors": []}`},
		{"https://" + custom + ":8443/me/v1/factors", "GET /factors", 200, jsonHeader(), `{"factors": []}`},
		{"https://" + canonical + "/.well-known/openid-configuration", "GET /.well-known/openid-configuration", 200, jsonHeader(),
			`{"issuer": "https://tenant.conformance.test/", "authorization_endpoint": "https://tenant.conformance.test/authorize",
			  "token_endpoint": "https://tenant.conformance.test/oauth/token", "jwks_uri": "https://tenant.conformance.test/.well-known/jwks.json",
			  "response_types_supported": ["code"], "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}`},
		{"https://" + custom + ":8443/authorize?response_type=code&client_id=c&offline_access=", "GET /authorize", 302,
			http.Header{"Location": {"/u/login?state=abc"}}, ""},
		{"https://" + custom + ":8443/oauth/token", "POST /oauth/token", 200, jsonHeader(),
			`{"access_token": "eyJ.x.y", "token_type": "Bearer", "expires_in": 600, "scope": "create:me:authentication_methods"}`},
	} {
		method := "GET"
		if strings.HasSuffix(c.op, "token") {
			method = "POST"
		}
		req := request(t, method, c.url)
		if got := v.Operation(req); got != c.op {
			t.Errorf("Operation(%s) = %q, want %q", c.url, got, c.op)
		}
		if err := v.ValidateResponse(req, nil, c.status, c.header, []byte(c.body)); err != nil {
			t.Errorf("%s → %d: %v", c.url, c.status, err)
		}
	}
	login := request(t, "GET", "https://"+canonical+"/authorize?response_type=code&client_id=c")
	if err := v.ValidateResponse(login, nil, 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, []byte("<html></html>")); err != nil {
		t.Errorf("login page: %v", err)
	}
	mustFail(t, v.ValidateResponse(login, nil, 302, http.Header{}, nil), "authentication.yaml GET /authorize → 302: header Location: missing")
	// A host given with a port matches that port only.
	if err := v.ValidateResponse(request(t, "GET", "https://"+custom+"/me/v1/factors"), nil, 200, jsonHeader(), []byte(`{"factors": []}`)); !errors.Is(err, ErrNoOperation) {
		t.Errorf("custom domain on port 443: err = %v, want ErrNoOperation", err)
	}
	req := request(t, "POST", "https://"+custom+":8443/oauth/token")
	mustFail(t, v.ValidateResponse(req, nil, 400, jsonHeader(), []byte(`{"error": "invalid_grant"}`)),
		`authentication.yaml POST /oauth/token → 400: body /error_description: property "error_description" is missing`)
}

func TestRequestViolationsCarryPointers(t *testing.T) {
	v := newValidator(t)
	post := func(url, contentType, body string) error {
		req := request(t, "POST", url)
		req.Header.Set("Content-Type", contentType)
		return v.ValidateRequest(req, []byte(body))
	}
	me := "https://" + canonical + "/me/v1"
	mustFail(t, post(me+"/authentication-methods", "application/json", `{"type": "passkey", "connection": "no spaces allowed"}`),
		"myaccount.yaml POST /authentication-methods request: body /connection: does not match the pattern")
	mustFail(t, post(me+"/authentication-methods", "application/json", `{"type": "phone"}`), `body /phone_number: property "phone_number" is missing`)
	mustFail(t, post(me+"/authentication-methods/passkey%7Cnew/verify", "application/json",
		`{"auth_session": "s", "authn_response": {"id": "a", "rawId": "a", "type": "public-key", "response": {"clientDataJSON": "a"}}}`),
		`body /authn_response/response/attestationObject: property "attestationObject" is missing`)
	req := request(t, "PATCH", me+"/authentication-methods/passkey%7Cx")
	req.Header.Set("Content-Type", "application/json")
	mustFail(t, v.ValidateRequest(req, []byte(`{"name": "mine", "usage": ["primary"]}`)), `body /usage: property "usage" is not allowed`)
	mustFail(t, v.ValidateRequest(request(t, "GET", me+"/authentication-methods?type=sms"), nil), "query parameter type: must be one of")

	token := "https://" + custom + "/oauth/token"
	webauthn := `{"grant_type": "urn:okta:params:oauth:grant-type:webauthn", "client_id": "c", "auth_session": "s", "authn_response": %s}`
	assertion := `{"id": "a", "rawId": "a", "type": "public-key", "response": {"clientDataJSON": "a", "authenticatorData": "b", "signature": "c", "userHandle": "d"}}`
	if err := post(token, "application/json", strings.Replace(webauthn, "%s", assertion, 1)); err != nil {
		t.Errorf("webauthn grant with an assertion object: %v", err)
	}
	mustFail(t, post(token, "application/json", strings.Replace(webauthn, "%s", `"{\"id\": \"a\"}"`, 1)), "body /authn_response: must be object, got string")
	if err := post(token, "application/x-www-form-urlencoded", "grant_type=authorization_code&client_id=c&code=x&redirect_uri=https%3A%2F%2Fapp&offline_access="); err != nil {
		t.Errorf("form authorization_code grant: %v", err)
	}
	mustFail(t, post(token, "application/x-www-form-urlencoded", "grant_type=refresh_token&client_id=c"), `body /refresh_token: property "refresh_token" is missing`)
	// The stray offline_access= of the starting page is tolerated.
	if err := v.ValidateRequest(request(t, "GET", "https://"+custom+"/authorize?response_type=code&client_id=c&offline_access=&audience=https%3A%2F%2Flogin.conformance.test%2Fme%2F"), nil); err != nil {
		t.Errorf("authorize with offline_access=: %v", err)
	}
}

// tinyExtra is an OpenAPI 3.0 document that is stricter than ours about
// GET /factors only: it wants at least one factor and an x-extra header.
const tinyExtra = `
openapi: 3.0.3
info: {title: tiny, version: "1"}
servers:
  - url: https://{tenantDomain}/me/v1
    variables:
      tenantDomain: {default: example.auth0.com}
paths:
  /factors:
    get:
      operationId: factors
      responses:
        "200":
          description: ok
          headers:
            x-extra:
              required: true
              schema: {type: string}
          content:
            application/json:
              schema:
                type: object
                required: [factors]
                properties:
                  factors: {type: array, minItems: 1, items: {}}
`

func TestExtraDocAppliesToItsOperationsOnly(t *testing.T) {
	v := newValidator(t, ExtraDoc{Name: "tiny.yaml", Data: []byte(tinyExtra)})
	factors := request(t, "GET", "https://"+canonical+"/me/v1/factors")
	mustFail(t, v.ValidateResponse(factors, nil, 200, jsonHeader(), []byte(`{"factors": []}`)),
		"tiny.yaml GET /factors → 200: header x-extra: missing", "tiny.yaml GET /factors → 200: body /factors: minimum number of items is 1")
	if err := v.ValidateResponse(factors, nil, 200, jsonHeader("X-Extra", "1"), []byte(`{"factors": [{"type": "passkey"}]}`)); err != nil {
		t.Errorf("valid for both documents: %v", err)
	}
	// Our document still applies: a 204 is documented by neither.
	err := v.ValidateResponse(factors, nil, 204, http.Header{}, nil)
	mustFail(t, err, "myaccount.yaml GET /factors → 204: status", "tiny.yaml GET /factors → 204: status")
	// An operation the extra document does not describe is left to ours.
	get := request(t, "GET", "https://"+canonical+"/me/v1/authentication-methods/passkey%7Cx")
	if err := v.ValidateResponse(get, nil, 200, jsonHeader(), []byte(passkeyMethod)); err != nil {
		t.Errorf("operation the extra document does not describe: %v", err)
	}
	// A base path given explicitly wins over the servers.
	v = newValidator(t, ExtraDoc{Name: "tiny.yaml", Data: []byte(tinyExtra), BasePath: "/other"})
	if err := v.ValidateResponse(factors, nil, 200, jsonHeader(), []byte(`{"factors": []}`)); err != nil {
		t.Errorf("extra document routed at /other applied to /me/v1: %v", err)
	}
	if _, err := NewValidator(hosts, ExtraDoc{Name: "broken.yaml", Data: []byte("openapi: 3.0.3\npaths: {/x: {get: {responses: 7}}}")}); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("a broken extra document: err = %v, want one naming it", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	v := newValidator(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", "https://"+custom+"/me/v1/authentication-methods/passkey%7Cx", nil)
			errs <- v.ValidateResponse(req, nil, 200, jsonHeader(), []byte(passkeyMethod))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestVendorDocument checks our sample answers against the vendor's published
// document when MYACCOUNT_VENDOR_OAS names a copy of it (the runner offers it
// as --spec). The vendor requires the x-ratelimit-* headers on 2xx answers.
func TestVendorDocument(t *testing.T) {
	path := os.Getenv("MYACCOUNT_VENDOR_OAS")
	if path == "" {
		t.Skip("MYACCOUNT_VENDOR_OAS is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(t, ExtraDoc{Name: "vendor.json", Data: data})
	base := "https://" + custom + "/me/v1/authentication-methods"
	loc := base + "/passkey%7Cdev_0123456789"
	for _, c := range []struct {
		method, url string
		status      int
		header      http.Header
		body        string
	}{
		{"POST", base, 202, rateLimited(jsonHeader("Location", base+"/passkey%7Cnew")), passkeyEnrollment},
		{"POST", base + "/passkey%7Cnew/verify", 201, rateLimited(jsonHeader("Location", loc)), passkeyMethod},
		{"GET", loc, 200, rateLimited(jsonHeader()), passkeyMethod},
		{"GET", base, 200, rateLimited(jsonHeader()), `{"authentication_methods": [` + passkeyMethod + `]}`},
		{"DELETE", loc, 204, rateLimited(http.Header{}), ""},
		{"GET", loc, 404, jsonHeader(), problem},
	} {
		req := request(t, c.method, c.url)
		err := v.ValidateResponse(req, nil, c.status, c.header, []byte(c.body))
		if err != nil {
			t.Errorf("%s %s → %d: %v", c.method, c.url, c.status, err)
		}
		var ve *ValidationError
		_ = errors.As(err, &ve)
	}
	// The vendor's document is consulted, not only ours.
	req := request(t, "POST", base+"/passkey%7Cnew/verify")
	err = v.ValidateResponse(req, nil, 201, rateLimited(jsonHeader("Location", loc)), []byte(without(passkeyMethod, "key_id")))
	mustFail(t, err, "myaccount.yaml POST", "vendor.json POST /authentication-methods/{authentication_method_id}/verify → 201: body /key_id")
	var ve *ValidationError
	if errors.As(err, &ve) && !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Document == "vendor.json" }) {
		t.Error("no problem is attributed to vendor.json")
	}
	// The vendor's request patterns use ECMA-262 \u escapes; they must compile.
	verify := request(t, "POST", base+"/passkey%7Cnew/verify")
	verify.Header.Set("Content-Type", "application/json")
	if err := v.ValidateRequest(verify, []byte(`{"auth_session": "s", "new_password": "correct horse"}`)); err != nil {
		t.Errorf("password verification: %v", err)
	}
}
