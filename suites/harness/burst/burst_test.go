package burst

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

func meFactors(int) *harness.Request {
	return &harness.Request{Method: http.MethodGet, URL: "https://example.com/me/v1/factors", Bearer: "token-abcdef"}
}

// A burst sends exactly N requests, none retried, and records each answer.
func TestBurstSendsExactlyNAndRecordsEach(t *testing.T) {
	var served atomic.Int32
	c := harnesstest.Client(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	res, err := Send(context.Background(), c, Spec{
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
	ex := Record(c, &res.Shots[0])
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
	c := harnesstest.Client(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	res, err := Send(context.Background(), c, Spec{Name: "concurrent", Rate: 200, Count: 5, Request: meFactors})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Statuses(); st[200] != 5 {
		t.Fatalf("statuses %v: the requests were not in flight together", st)
	}
}

func TestBurstRejectsBadBursts(t *testing.T) {
	c := harnesstest.Client(t, http.NotFoundHandler())
	for _, b := range []Spec{
		{Rate: 0, Count: 1, Request: meFactors},
		{Rate: 10, Count: 0, Request: meFactors},
		{Rate: 10, Count: MaxCount + 1, Request: meFactors},
		{Rate: 10, Count: 1},
	} {
		if _, err := Send(context.Background(), c, b); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
}

func TestBurstStats(t *testing.T) {
	ms := time.Millisecond
	r := &Result{Rate: 100, Shots: []Shot{
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
