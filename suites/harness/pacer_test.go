package harness

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pacerTarget serves h over TLS with HTTP/2 (as the reference tenant and Auth0 do)
// on loopback as https://example.com, and returns a client for it.
func pacerTarget(tb testing.TB, h http.Handler) *Client {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	ca := filepath.Join(tb.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		tb.Fatal(err)
	}
	tg := &Target{Domain: "example.com", Resolve: map[string]string{"example.com:443": srv.Listener.Addr().String()},
		CAFile: ca, Clients: Clients{Native: OAuthClient{ClientID: "c"}}}
	tg.fillDefaults()
	c, err := NewClient(tg, nil, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func meFactors(int) *Request {
	return &Request{Method: http.MethodGet, URL: "https://example.com/me/v1/factors", Bearer: "token-abcdef"}
}

// A burst sends exactly N requests, none retried, and records each answer.
func TestBurstSendsExactlyNAndRecordsEach(t *testing.T) {
	var served atomic.Int32
	c := pacerTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/me/v1/factors" {
			return // the connection warm-up
		}
		n := served.Add(1)
		w.Header().Set("X-Seen", strconv.Itoa(int(n)))
		if n > 5 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{"factors":[]}`))
	}))
	res, err := c.Burst(context.Background(), Burst{
		Name: "test", Rate: 500, Count: 20, Request: meFactors,
		Series: func(i int) string { return []string{"a", "b"}[i%2] },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := served.Load(); got != 20 {
		t.Fatalf("server saw %d requests, want exactly 20 (a 429 must not be retried)", got)
	}
	if len(res.Shots) != 20 {
		t.Fatalf("%d shots", len(res.Shots))
	}
	st := res.Statuses()
	if st[200] != 5 || st[429] != 15 {
		t.Errorf("statuses %v, want 5 × 200 and 15 × 429", st)
	}
	for i, s := range res.Shots {
		if s.Index != i || s.Err != nil || s.Received < s.Sent || s.Header.Get("X-Seen") == "" {
			t.Errorf("shot %d: %+v", i, s)
		}
		if want := []string{"a", "b"}[i%2]; s.Series != want {
			t.Errorf("shot %d: series %q, want %q", i, s.Series, want)
		}
	}
	if res.Achieved <= 0 || res.Ended.Before(res.Started) {
		t.Errorf("achieved %v, started %v, ended %v", res.Achieved, res.Started, res.Ended)
	}
	if err := res.RequireRate(0); err != nil {
		t.Errorf("RequireRate(0): %v", err)
	}
	if err := res.RequireRate(1e6); err == nil {
		t.Error("RequireRate(1e6) accepted the burst")
	}
	// The evidence of a shot is redacted.
	ex := c.Record(&res.Shots[0])
	if got := ex.ReqHeader.Get("Authorization"); got == "Bearer token-abcdef" {
		t.Errorf("recorded exchange carries the token: %q", got)
	}
}

// The pacer does not wait for answers: with a server that holds every request until
// five are in flight, a pacer that waited would never get there.
func TestBurstDoesNotWaitForAnswers(t *testing.T) {
	var mu sync.Mutex
	inFlight := 0
	five := make(chan struct{})
	c := pacerTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/me/v1/factors" {
			return
		}
		mu.Lock()
		inFlight++
		if inFlight == 5 {
			close(five)
		}
		mu.Unlock()
		select {
		case <-five:
		case <-time.After(10 * time.Second): // a bound, not a measurement
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	}))
	res, err := c.Burst(context.Background(), Burst{Name: "concurrent", Rate: 200, Count: 5, Request: meFactors})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Statuses(); st[200] != 5 {
		t.Fatalf("statuses %v: the requests were not in flight together", st)
	}
}

func TestBurstRejectsBadBursts(t *testing.T) {
	c := pacerTarget(t, http.NotFoundHandler())
	for _, b := range []Burst{
		{Rate: 0, Count: 1, Request: meFactors},
		{Rate: 10, Count: 0, Request: meFactors},
		{Rate: 10, Count: MaxBurstCount + 1, Request: meFactors},
		{Rate: 10, Count: 1},
	} {
		if _, err := c.Burst(context.Background(), b); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
}

func TestBurstStats(t *testing.T) {
	ms := time.Millisecond
	r := &BurstResult{Rate: 100, Shots: []Shot{
		{Sent: 0, Received: 1 * ms}, {Sent: 10 * ms, Received: 12 * ms},
		{Sent: 21 * ms, Received: 22 * ms}, {Sent: 30 * ms, Received: 40 * ms},
	}}
	r.stats()
	if r.Achieved != 100 {
		t.Errorf("achieved %v, want 100 (3 gaps in 30 ms)", r.Achieved)
	}
	// Gaps 10, 11, 9 ms against 10 ms: deviations 0, 1, 1 ms.
	if r.JitterP50 != ms || r.JitterMax != ms || r.JitterP99 != ms {
		t.Errorf("jitter p50 %v p99 %v max %v", r.JitterP50, r.JitterP99, r.JitterMax)
	}
	if r.LatencyP50 != ms || r.LatencyP99 != 10*ms {
		t.Errorf("latency p50 %v p99 %v", r.LatencyP50, r.LatencyP99)
	}
	if r.Span() != 40*ms {
		t.Errorf("span %v", r.Span())
	}
}
