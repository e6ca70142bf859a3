package claims

import (
	"encoding/base64"
	"testing"
)

func jwt(payload string) string {
	return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
}

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		sub string
	}{
		{jwt(`{"sub":"auth0|1","scope":"a b"}`), true, "auth0|1"},
		{jwt(`{"scope":"a"}`), true, ""},
		{"opaque-token", false, ""},
		{"a.!!!.c", false, ""},
		{jwt(`[1,2]`), false, ""},
		{jwt(`null`), false, ""},
	} {
		_, err := Of(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Of(%q) error %v, want ok=%v", tc.in, err, tc.ok)
		}
		if got := Subject(tc.in); got != tc.sub {
			t.Errorf("Subject(%q) = %q, want %q", tc.in, got, tc.sub)
		}
	}
}
