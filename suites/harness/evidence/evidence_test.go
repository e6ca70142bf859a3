package evidence

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestRedactorHidesSecretsByKeyAndValue(t *testing.T) {
	r := NewRedactor()
	r.Add("client-secret-value", "CLIENT_SECRET")
	reqH := http.Header{"Authorization": {"Bearer eyJhbGciOi.access.token"}}
	reqBody := []byte(`{"client_secret":"client-secret-value","auth_session":"sess-123456"}`)
	respBody := []byte(`{"access_token":"eyJ-the-new-token","refresh_token":"refresh-987654"}`)
	r.Learn(reqH, reqBody, "https://a.example/cb?code=authcode-42&state=x", nil, respBody)

	e := r.Exchange(Exchange{
		Method: "POST", URL: "https://a.example/cb?code=authcode-42&state=x",
		ReqHeader: reqH, ReqBody: string(reqBody), RespBody: string(respBody) + " and again eyJ-the-new-token",
	})
	text := FormatExchange(e) + CurlLine(e, nil, "")
	for _, secret := range []string{"client-secret-value", "sess-123456", "eyJ-the-new-token", "refresh-987654", "authcode-42", "eyJhbGciOi.access.token"} {
		if strings.Contains(text, secret) {
			t.Errorf("secret %q leaked:\n%s", secret, text)
		}
	}
	for _, placeholder := range []string{"$CLIENT_SECRET", "$AUTH_SESSION", "$ACCESS_TOKEN", "$REFRESH_TOKEN", "$CODE"} {
		if !strings.Contains(text, placeholder) {
			t.Errorf("placeholder %s missing:\n%s", placeholder, text)
		}
	}

	r.Off = true
	if got := r.Text("client-secret-value"); got != "client-secret-value" {
		t.Errorf("--show-secrets still redacts: %q", got)
	}
}

func TestCurlLineDialsThroughResolve(t *testing.T) {
	e := Exchange{Method: "GET", URL: "https://login.example.test/me/v1/factors",
		ReqHeader: http.Header{"Authorization": {"Bearer $ACCESS_TOKEN"}, "User-Agent": {"x"}}}
	got := CurlLine(e, map[string]string{"login.example.test:443": "127.0.0.1:8443"}, "/tmp/ca.pem")
	for _, want := range []string{"-X GET", "'https://login.example.test/me/v1/factors'",
		"--connect-to 'login.example.test:443:127.0.0.1:8443'", "--cacert '/tmp/ca.pem'", `-H "Authorization: Bearer $ACCESS_TOKEN"`} {
		if !strings.Contains(got, want) {
			t.Errorf("curl line lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "User-Agent") {
		t.Errorf("curl line repeats User-Agent: %s", got)
	}
}

// BenchmarkRedactorText is the cost of hiding secrets in one header value when a
// run has learnt a thousand of them (every exchange's text goes through it).
func BenchmarkRedactorText(b *testing.B) {
	r := NewRedactor()
	for i := range 1000 {
		r.Add(fmt.Sprintf("secret-value-%04d-%s", i, strings.Repeat("x", i%40)), "TOKEN")
	}
	for b.Loop() {
		_ = r.Text("application/json; charset=utf-8")
	}
}
