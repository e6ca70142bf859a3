package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxBurstCount bounds the requests of one burst.
const MaxBurstCount = 1000

// catchUp is how far behind schedule the pacer may catch up: after the runner
// stalls (a loaded machine), the requests it owes go out at once, up to this much
// time's worth, so that the achieved rate stays the requested one.
const catchUp = 100 * time.Millisecond

// Burst is exactly Count requests sent at Rate requests per second, each on its own
// goroutine, without waiting for earlier answers. It deliberately bypasses the
// Client's pacing and 429 retry (Do): those exist to keep ordinary specs below the
// limit, a burst exists to cross it.
type Burst struct {
	Name  string  // names the burst in reports and file names
	Rate  float64 // requests per second
	Count int
	// Request builds request i. It is called for every i before the timed loop.
	Request func(i int) *Request
	// Series names the group of request i (a user, a domain) for the picture; nil
	// when there is one group.
	Series func(i int) string
}

// Shot is one request of a burst and its answer. Times are since the burst began,
// on the monotonic clock.
type Shot struct {
	Index    int
	Series   string
	Sent     time.Duration // just before the request went to the transport
	Received time.Duration // after the body was read (or the transport failed)
	Status   int           // 0 when Err is set
	Header   http.Header
	Body     []byte
	Err      error
	// Violation is set by Validate when the answer breaks the API description.
	Violation error

	req     *http.Request
	reqBody []byte
	started time.Time // wall clock of Sent, for the recorded exchange
}

// BurstResult is a finished burst: every shot in send order and how well the
// pacer kept to the requested rate.
type BurstResult struct {
	Name    string
	Rate    float64 // requested
	Started time.Time
	Ended   time.Time // wall clock of the last answer
	Shots   []Shot
	// Achieved is the rate actually sent: (n-1) / (last send - first send).
	Achieved float64
	// Jitter is how far the gaps between consecutive sends strayed from 1/Rate.
	JitterP50, JitterP99, JitterMax time.Duration
	// Latency is send to answer.
	LatencyP50, LatencyP99 time.Duration
}

// Burst sends b and waits for every answer, bounded by Count/Rate plus the target's
// request timeout. The connections to each host are opened beforehand (a discovery
// request, which the My Account limit does not count) so the first shots do not
// carry a TLS handshake. Answers are not validated here: call Validate afterwards,
// outside the timed loop.
func (c *Client) Burst(ctx context.Context, b Burst) (*BurstResult, error) {
	if b.Rate <= 0 || b.Count <= 0 || b.Count > MaxBurstCount || b.Request == nil {
		return nil, fmt.Errorf("burst %q: need 0 < rate, 0 < count ≤ %d and a request builder", b.Name, MaxBurstCount)
	}
	shots := make([]Shot, b.Count)
	hosts := map[string]bool{}
	for i := range shots {
		r := b.Request(i)
		body, ctype, err := r.encode()
		if err != nil {
			return nil, err
		}
		req, err := c.newRequest(ctx, r, body, ctype)
		if err != nil {
			return nil, err
		}
		shots[i] = Shot{Index: i, req: req, reqBody: body}
		if b.Series != nil {
			shots[i].Series = b.Series(i)
		}
		hosts[req.URL.Scheme+"://"+req.URL.Host] = true
	}
	for h := range hosts {
		if err := c.warm(ctx, h); err != nil {
			return nil, err
		}
	}

	bound := time.Duration(float64(b.Count)/b.Rate*float64(time.Second)) + time.Duration(c.Target.Timeouts.Request) + time.Second
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	start := time.Now() // carries the monotonic reading every Sent/Received is taken against
	res := &BurstResult{Name: b.Name, Rate: b.Rate, Started: start}
	// A limiter starts full: take all but one token so the burst starts with one
	// request, not with catchUp's worth.
	room := max(1, int(math.Ceil(b.Rate*catchUp.Seconds())))
	lim := rate.NewLimiter(rate.Limit(b.Rate), room)
	lim.ReserveN(start, room-1)
	var wg sync.WaitGroup
	sent := b.Count
	for i := range shots {
		if err := lim.Wait(ctx); err != nil {
			sent = i // out of time: the burst is cut short and says so
			break
		}
		wg.Go(func() { c.shoot(ctx, start, &shots[i]) })
	}
	wg.Wait()
	res.Ended = time.Now()
	res.Shots = shots[:sent]
	res.stats()
	if sent < b.Count {
		return res, fmt.Errorf("burst %q: only %d of %d requests could be sent within %s", b.Name, sent, b.Count, bound)
	}
	return res, nil
}

// warm opens (or reuses) a connection to base with a discovery request.
func (c *Client) warm(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.Target.Timeouts.Connect)+time.Duration(c.Target.Timeouts.Request))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(req.URL.String(), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return resp.Body.Close()
}

// shoot sends one request of a burst and records its times, status and headers.
func (c *Client) shoot(ctx context.Context, start time.Time, s *Shot) {
	req := s.req.WithContext(ctx)
	if s.reqBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(s.reqBody))
	}
	s.started = time.Now()
	s.Sent = s.started.Sub(start)
	resp, err := c.http.Do(req)
	if err != nil {
		s.Received = time.Since(start)
		s.Err = c.transportError(req.URL.String(), err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	s.Received = time.Since(start)
	s.Status, s.Header, s.Body = resp.StatusCode, resp.Header, body
	if err != nil {
		s.Err = fmt.Errorf("%s %s: reading the response: %w", req.Method, c.Redactor.Text(req.URL.String()), err)
	}
}

// stats computes the achieved rate, the send jitter and the latencies.
func (r *BurstResult) stats() {
	n := len(r.Shots)
	if n == 0 {
		return
	}
	sends := make([]time.Duration, n)
	var lat []time.Duration
	for i, s := range r.Shots {
		sends[i] = s.Sent
		if s.Err == nil {
			lat = append(lat, s.Received-s.Sent)
		}
	}
	// Goroutines may start out of order: the schedule is about when requests left.
	slices.Sort(sends)
	if n > 1 {
		if span := sends[n-1] - sends[0]; span > 0 {
			r.Achieved = float64(n-1) / span.Seconds()
		}
		gap := time.Duration(float64(time.Second) / r.Rate)
		dev := make([]time.Duration, 0, n-1)
		for i := 1; i < n; i++ {
			d := sends[i] - sends[i-1] - gap
			dev = append(dev, max(d, -d))
		}
		slices.Sort(dev)
		r.JitterP50, r.JitterP99, r.JitterMax = quantile(dev, 0.5), quantile(dev, 0.99), dev[len(dev)-1]
	}
	slices.Sort(lat)
	r.LatencyP50, r.LatencyP99 = quantile(lat, 0.5), quantile(lat, 0.99)
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Span is the time from the first send to the last answer.
func (r *BurstResult) Span() time.Duration {
	var end time.Duration
	for _, s := range r.Shots {
		end = max(end, s.Received)
	}
	return end
}

// Statuses counts the answers by status code (0: transport error).
func (r *BurstResult) Statuses() map[int]int {
	out := map[int]int{}
	for _, s := range r.Shots {
		out[s.Status]++
	}
	return out
}

// Summary is one line for the report: what was asked, what was achieved, what came
// back.
func (r *BurstResult) Summary() string {
	st := r.Statuses()
	codes := make([]int, 0, len(st))
	for c := range st {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "transport error"
		}
		parts = append(parts, fmt.Sprintf("%d × %s", st[c], name))
	}
	return fmt.Sprintf("%s: %d requests at %.4g/s requested, %.4g/s achieved; send jitter p50 %s, p99 %s, max %s; latency p50 %s, p99 %s; answers: %s",
		r.Name, len(r.Shots), r.Rate, r.Achieved, roundDur(r.JitterP50), roundDur(r.JitterP99), roundDur(r.JitterMax),
		roundDur(r.LatencyP50), roundDur(r.LatencyP99), strings.Join(parts, ", "))
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Validate checks every answer against the OpenAPI documents, after the burst so
// that validation costs nothing inside the timed loop. It returns the violations.
func (c *Client) Validate(r *BurstResult) []*Shot {
	var bad []*Shot
	if c.Validator == nil {
		return nil
	}
	for i := range r.Shots {
		s := &r.Shots[i]
		if s.Err != nil {
			continue
		}
		req := s.req.WithContext(context.Background()) // the burst's context has ended
		s.Violation = c.Validator.ValidateResponse(req, s.reqBody, s.Status, s.Header, s.Body)
		if s.Violation == nil {
			s.Violation = c.Validator.ValidateRequest(req.Clone(req.Context()), s.reqBody)
			if s.Violation != nil {
				s.Violation = fmt.Errorf("suite bug: the suite's own request breaks the API description: %w", s.Violation)
			}
		}
		if s.Violation != nil {
			bad = append(bad, s)
		}
	}
	return bad
}

// Record adds the shot's exchange, redacted, to the evidence of the current spec.
// A burst records only the shots a finding is about, not hundreds of exchanges.
func (c *Client) Record(s *Shot) Exchange {
	ex := Exchange{
		Method: s.req.Method, URL: s.req.URL.String(), ReqHeader: s.req.Header.Clone(), ReqBody: string(s.reqBody),
		Started: s.started, Duration: s.Received - s.Sent, Status: s.Status, RespHead: s.Header.Clone(), RespBody: string(s.Body),
	}
	if c.Validator != nil {
		ex.Operation = c.Validator.Operation(s.req)
	}
	if s.Err != nil {
		ex.Error = s.Err.Error()
	}
	if s.Violation != nil {
		ex.Violation = s.Violation.Error()
	}
	c.Redactor.Learn(s.req.Header, s.reqBody, ex.URL, s.Header, s.Body)
	return c.record(ex, nil)
}

// ErrBurstTooSlow marks a burst the runner could not send at the requested rate.
var ErrBurstTooSlow = errors.New("the runner could not send at the requested rate")

// RequireRate returns an ErrBurstTooSlow error, stating the achieved rate, when the
// burst was sent at less than frac of the requested rate.
func (r *BurstResult) RequireRate(frac float64) error {
	if len(r.Shots) > 1 && r.Achieved >= frac*r.Rate {
		return nil
	}
	return fmt.Errorf("%w: %.4g/s requested, %.4g/s achieved (below %.0f%%): %s", ErrBurstTooSlow, r.Rate, r.Achieved, frac*100, r.Summary())
}

// Host is the host the shot's request went to.
func (s *Shot) Host() string { return s.req.URL.Host }

// Once sends r a single time, validated and recorded like Do, but a 429 comes back
// as it is instead of being retried.
func (c *Client) Once(ctx context.Context, r *Request) (*Response, error) {
	body, ctype, err := r.encode()
	if err != nil {
		return nil, err
	}
	return c.once(ctx, r, body, ctype)
}
