package spec

import (
	"net/http"
	"testing"
)

// BenchmarkValidateResponse is the cost of checking one answer against the
// description: every answer of a run is checked, bursts included.
func BenchmarkValidateResponse(b *testing.B) {
	v, err := NewValidator(hosts)
	if err != nil {
		b.Fatal(err)
	}
	base := "https://" + canonical + "/me/v1/authentication-methods"
	cases := []struct {
		name, method, url string
		status            int
		header            http.Header
		body              string
	}{
		{"list", "GET", base, 200, rateLimited(jsonHeader()), `{"authentication_methods": [` + passkeyMethod + `]}`},
		{"factors", "GET", "https://" + canonical + "/me/v1/factors", 200, rateLimited(jsonHeader()), `{"factors": [{"type": "passkey", "usage": ["primary"]}]}`},
		{"problem", "GET", base + "/passkey%7Cx", 404, rateLimited(jsonHeader()), problem},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest(c.method, c.url, nil)
			for b.Loop() {
				_ = v.ValidateResponse(req, nil, c.status, c.header, []byte(c.body))
			}
		})
	}
}
