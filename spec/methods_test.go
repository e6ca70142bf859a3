package spec

import (
	"slices"
	"testing"
)

// What a method type has is read from the description's AuthenticationMethod
// branches: a passkey has no name (the vendor's AuthenticationMethodPasskey), the
// second factors have one, and only a phone takes preferred_authentication_method.
func TestMethodMembers(t *testing.T) {
	types := MethodTypes()
	for _, typ := range []string{"passkey", "password", "totp", "recovery-code", "email", "phone", "push-notification", "webauthn-roaming", "webauthn-platform"} {
		if !slices.Contains(types, typ) {
			t.Errorf("the description names no %s branch (%v)", typ, types)
		}
	}
	for typ, want := range map[string][]string{
		"passkey":           nil,
		"password":          nil,
		"recovery-code":     nil,
		"totp":              {"name"},
		"email":             {"name"},
		"push-notification": {"name"},
		"webauthn-roaming":  {"name"},
		"webauthn-platform": {"name"},
		"phone":             {"name", "preferred_authentication_method"},
	} {
		if got := MethodPatchable(typ); !slices.Equal(got, want) {
			t.Errorf("MethodPatchable(%s) = %v, want %v", typ, got, want)
		}
	}
	if m := MethodMembers("passkey"); slices.Contains(m, "name") || !slices.Contains(m, "key_id") {
		t.Errorf("passkey members %v: key_id and no name", m)
	}
	if got := MethodMemberEnum("phone", "preferred_authentication_method"); !slices.Equal(got, []string{"sms", "voice"}) {
		t.Errorf("phone channels %v", got)
	}
	if MethodMembers("carrier-pigeon") != nil {
		t.Error("an unknown type has members")
	}
}
