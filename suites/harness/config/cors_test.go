package config

import (
	"strings"
	"testing"
)

// cors.origin is an origin as a browser sends it, or absent.
func TestCORSOrigin(t *testing.T) {
	base := "domain: a.example\nclients: {native: {client_id: a}}\n"
	for _, ok := range []string{"", "https://app.example.com", "https://app.example.com:8443", "http://localhost:3000"} {
		tg, err := ParseTarget([]byte(base + "cors: {origin: \"" + ok + "\"}\n"))
		if err != nil || tg.CORS.Origin != ok {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/", "https://app.example.com/app", "https://app.example.com?x=1",
		"ftp://app.example.com", "https://", "HTTPS://App.Example.com", "https://user@app.example.com"} {
		_, err := ParseTarget([]byte(base + "cors: {origin: \"" + bad + "\"}\n"))
		if err == nil || !strings.Contains(err.Error(), "field cors.origin") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := ParseTarget([]byte(base + "cors: {origins: [x]}\n")); err == nil || !strings.Contains(err.Error(), `"origins"`) {
		t.Errorf("an unknown field under cors: %v", err)
	}
}
