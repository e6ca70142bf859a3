package harness

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// tlsTarget serves h over TLS on loopback as https://example.com (the name in
// httptest's certificate), reached through the resolve map.
func tlsTarget(t *testing.T, h http.Handler) *config.Target {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := &config.Target{Domain: "example.com", Resolve: map[string]string{"example.com:443": srv.Listener.Addr().String()},
		CAFile: ca, Clients: config.Clients{Native: config.OAuthClient{ClientID: "c"}}}
	tg.SetDefaults()
	return tg
}

func TestClientDialsThroughResolveAndTrustsCAFile(t *testing.T) {
	tg := tlsTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "example.com" {
			t.Errorf("Host %q", r.Host)
		}
		w.Header().Set("Location", "https://example.com/cb?code=secret-code-1")
		w.WriteHeader(http.StatusFound)
	}))
	c, err := NewClient(tg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: "https://example.com/authorize"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusFound {
		t.Errorf("redirect was followed or status wrong: %d", resp.Status)
	}
	ex := c.Recorder.Exchanges()
	if len(ex) != 1 || ex[0].RespHead.Get("Location") != "https://example.com/cb?code=$CODE" {
		t.Errorf("exchange not recorded redacted: %+v", ex)
	}
}

func TestClientReportsAClosedPortAsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tg := &config.Target{Domain: "tenant.example.test", Resolve: map[string]string{"tenant.example.test:443": closed},
		Clients: config.Clients{Native: config.OAuthClient{ClientID: "c"}}, Timeouts: config.Timeouts{Connect: config.Duration(time.Second), Request: config.Duration(time.Second)}}
	tg.SetDefaults()
	c, err := NewClient(tg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Probe(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Addr != closed {
		t.Fatalf("got %v, want an UnreachableError naming %s", err, closed)
	}
}
