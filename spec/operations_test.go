package spec

import (
	"net/http"
	"slices"
	"testing"
)

func TestOperationsIndexTheDescription(t *testing.T) {
	ops, err := Operations()
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, o := range ops {
		if o.Scope() == "" {
			t.Errorf("%s: no scope", o.Name())
		}
		if !o.Documents(401) || !o.Documents(403) || !o.Documents(429) {
			t.Errorf("%s: statuses %v lack 401, 403 or 429", o.Name(), o.Statuses)
		}
		if !o.Planned() {
			served = append(served, o.ID)
		}
	}
	// The twelve operations the vendor serves (PROTOCOL §2).
	want := []string{"listFactors", "listAuthenticationMethods", "startAuthenticationMethodEnrollment",
		"getAuthenticationMethod", "updateAuthenticationMethod", "deleteAuthenticationMethod",
		"verifyAuthenticationMethodEnrollment", "startAccountConnection", "completeAccountConnection",
		"listConnectedAccounts", "listConnectableConnections", "deleteConnectedAccount"}
	slices.Sort(want)
	slices.Sort(served)
	if !slices.Equal(served, want) {
		t.Errorf("served operations:\n got %v\nwant %v", served, want)
	}
	o := MustOperation("deleteAuthenticationMethod")
	if o.Method != http.MethodDelete || o.Path != "/authentication-methods/{authentication_method_id}" ||
		o.Scope() != "delete:me:authentication_methods" || !o.Documents(409) || o.Body != nil || o.Reads() {
		t.Errorf("deleteAuthenticationMethod = %+v", o)
	}
	if o := MustOperation("listAuthenticationMethods"); !o.Reads() {
		t.Errorf("listAuthenticationMethods is a read")
	} else if p, ok := o.Query("type"); !ok || p.Schema == nil || len(p.Schema.Enum) != 9 {
		t.Errorf("listAuthenticationMethods ?type = %+v", p)
	}
	if o := MustOperation("listConnectedAccounts"); !o.QueryParams[0].Explode {
		t.Errorf("?connection is exploded: %+v", o.QueryParams[0])
	}
	if _, ok := OperationByID("nope"); ok {
		t.Error("OperationByID found an unknown id")
	}
}

func TestBodyBranches(t *testing.T) {
	start := MustOperation("startAuthenticationMethodEnrollment")
	if !start.BodyRequired {
		t.Error("enrollment start needs a body")
	}
	b := start.BodyBranches()
	for _, typ := range []string{"passkey", "password", "totp", "push-notification", "recovery-code", "email", "phone"} {
		s, ok := b[typ]
		if !ok {
			t.Errorf("no branch %q in %v", typ, keys(b))
			continue
		}
		if s.Properties["type"] == nil {
			t.Errorf("branch %q has no type member", typ)
		}
	}
	if len(b) != 7 {
		t.Errorf("%d branches, want 7", len(b))
	}
	verify := MustOperation("verifyAuthenticationMethodEnrollment").BodyBranches()
	if len(verify) != 4 {
		t.Errorf("verify branches %v", keys(verify))
	}
	if patch := MustOperation("updateAuthenticationMethod").BodyBranches(); len(patch) != 1 || patch[""] == nil {
		t.Errorf("PATCH has one body schema: %v", keys(patch))
	}
}

func TestFindAndFill(t *testing.T) {
	for _, c := range []struct{ method, path, id string }{
		{"GET", "/factors", "listFactors"},
		{"post", "/authentication-methods/passkey%7Cnew/verify", "verifyAuthenticationMethodEnrollment"},
		{"DELETE", "/connected-accounts/accounts/cac_x", "deleteConnectedAccount"},
		{"GET", "/authentication-methods/totp|dev_1", "getAuthenticationMethod"},
	} {
		o, ok := FindOperation(c.method, c.path)
		if !ok || o.ID != c.id {
			t.Errorf("FindOperation(%s %s) = %q, %v; want %s", c.method, c.path, o.ID, ok, c.id)
		}
	}
	if _, ok := FindOperation("GET", "/authentication-methods/x/y"); ok {
		t.Error("found an operation for an unknown path")
	}
	p, err := MustOperation("getAuthenticationMethod").Fill(map[string]string{"authentication_method_id": "passkey|dev_a b"})
	if err != nil || p != "/authentication-methods/passkey%7Cdev_a%20b" {
		t.Errorf("Fill = %q, %v", p, err)
	}
	if _, err := MustOperation("getAuthenticationMethod").Fill(nil); err == nil {
		t.Error("Fill without the id did not fail")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
