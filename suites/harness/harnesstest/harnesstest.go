// Package harnesstest serves handlers over TLS on loopback for the harness's own
// tests, under a host name the client resolves to them as it would a real target's.
package harnesstest

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// Host is the name the served handler answers as.
const Host = "example.com"

// Target serves h over TLS with HTTP/2 (as the reference tenant and Auth0 do) on
// loopback as https://example.com and returns a target config for it.
func Target(tb testing.TB, h http.Handler) *config.Target {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	ca := filepath.Join(tb.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		tb.Fatal(err)
	}
	tg := &config.Target{Domain: Host, Resolve: map[string]string{Host + ":443": srv.Listener.Addr().String()},
		CAFile: ca, Clients: config.Clients{Native: config.OAuthClient{ClientID: "c"}}}
	tg.SetDefaults()
	return tg
}

// Client is a client (no validator) for a target serving h.
func Client(tb testing.TB, h http.Handler) *harness.Client {
	tb.Helper()
	c, err := harness.NewClient(Target(tb, h), nil, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Chromium is the browser the browser driver would use (login.ChromiumPath: Debian's
// /usr/lib/chromium/chromium, else chromium on PATH). A test that needs it skips
// without it, except in CI (CI=true), where .ci/run installs it and its absence
// fails the test.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path, err := login.ChromiumPath(&config.Target{})
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("Chromium is required in CI (apt-get install -y chromium; .ci/run installs it): %v", err)
	}
	tb.Skipf("Chromium is not installed (apt-get install -y chromium): %v", err)
	return ""
}
