// Package burst sends rate-limit bursts: exactly N requests at a set rate, one
// goroutine each, none waiting for another, with send and answer times on the
// monotonic clock; the bucket arithmetic that judges them; and their SVG timelines.
// Bursts bypass the client's pacing and 429 retry on purpose: those keep ordinary
// specs below the limits, a burst exists to cross them.
package burst

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

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
)

// MaxCount bounds the requests of one burst.
const MaxCount = 1000

// catchUp is how far behind schedule the pacer may catch up: after the runner
// stalls (a loaded machine), the requests it owes go out at once, up to this much
// time's worth, so that the achieved rate stays the requested one.
const catchUp = 100 * time.Millisecond

// Spec is exactly Count requests sent at Rate requests per second, each on its own
// goroutine, without waiting for earlier answers.
type Spec struct {
	Name  string  // names the burst in reports and file names
	Rate  float64 // requests per second
	Count int
	// Request builds request i. It is called for every i before the timed loop.
	Request func(i int) *harness.Request
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

// Result is a finished burst: every shot in send order and how well the
// pacer kept to the requested rate.
type Result struct {
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

// Send sends b and waits for every answer, bounded by Count/Rate plus the target's
// request timeout. The connections to each host are opened beforehand (a discovery
// request, which the My Account limit does not count) so the first shots do not
// carry a TLS handshake. Answers are not validated here: call Validate afterwards,
// outside the timed loop.
func Send(ctx context.Context, c *harness.Client, b Spec) (*Result, error) {
	rs, err := SendEach(ctx, c, b)
	if len(rs) == 0 {
		return nil, err
	}
	return rs[0], err
}

// SendEach sends the bursts bs one after the other as Send does, each starting
// right after the last request of the one before went out, without waiting for its
// answers (a burst that probes another's empty bucket meets it as empty however far
// the target is), and then waits for every answer. Each Result is on its own clock
// (Merge puts one on another's). A burst cut short ends the sending and is the
// error; the bursts after it are not sent.
func SendEach(ctx context.Context, c *harness.Client, bs ...Spec) ([]*Result, error) {
	all := make([][]Shot, len(bs))
	hosts := map[string]bool{}
	var bound time.Duration
	for j, b := range bs {
		if b.Rate <= 0 || b.Count <= 0 || b.Count > MaxCount || b.Request == nil {
			return nil, fmt.Errorf("burst %q: need 0 < rate, 0 < count ≤ %d and a request builder", b.Name, MaxCount)
		}
		all[j] = make([]Shot, b.Count)
		for i := range all[j] {
			req, body, err := c.Prepare(ctx, b.Request(i))
			if err != nil {
				return nil, err
			}
			all[j][i] = Shot{Index: i, req: req, reqBody: body}
			if b.Series != nil {
				all[j][i].Series = b.Series(i)
			}
			hosts[req.URL.Scheme+"://"+req.URL.Host] = true
		}
		bound += time.Duration(float64(b.Count) / b.Rate * float64(time.Second))
	}
	for h := range hosts {
		if err := c.Warm(ctx, h); err != nil {
			return nil, err
		}
	}

	bound += time.Duration(c.Target.Timeouts.Request) + time.Second
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var (
		out      []*Result
		errs     error
		answered sync.WaitGroup
	)
	for j, b := range bs {
		shots := all[j]
		start := time.Now() // carries the monotonic reading every Sent/Received is taken against
		res := &Result{Name: b.Name, Rate: b.Rate, Started: start}
		// A limiter starts full: take all but one token so the burst starts with one
		// request, not with catchUp's worth.
		room := max(1, int(math.Ceil(b.Rate*catchUp.Seconds())))
		lim := rate.NewLimiter(rate.Limit(b.Rate), room)
		lim.ReserveN(start, room-1)
		wg := &sync.WaitGroup{}
		sent := b.Count
		for i := range shots {
			if err := lim.Wait(ctx); err != nil {
				sent = i // out of time: the burst is cut short and says so
				break
			}
			wg.Go(func() { shoot(ctx, c, start, &shots[i]) })
		}
		res.Shots = shots[:sent]
		out = append(out, res)
		answered.Go(func() {
			wg.Wait()
			res.Ended = time.Now()
			res.stats()
		})
		if sent < b.Count {
			errs = fmt.Errorf("burst %q: only %d of %d requests could be sent within %s", b.Name, sent, b.Count, bound)
			break
		}
	}
	answered.Wait()
	return out, errs
}

// shoot sends one request of a burst and records its times, status and headers.
func shoot(ctx context.Context, c *harness.Client, start time.Time, s *Shot) {
	req := s.req.WithContext(ctx)
	if s.reqBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(s.reqBody))
	}
	s.started = time.Now()
	s.Sent = s.started.Sub(start)
	resp, err := c.RoundTrip(req)
	if err != nil {
		s.Received = time.Since(start)
		s.Err = err
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, harness.MaxBody))
	resp.Body.Close()
	s.Received = time.Since(start)
	s.Status, s.Header, s.Body = resp.StatusCode, resp.Header, body
	if err != nil {
		s.Err = fmt.Errorf("%s %s: reading the response: %w", req.Method, c.Redactor.Text(req.URL.String()), err)
	}
}

// stats computes the achieved rate, the send jitter and the latencies.
func (r *Result) stats() {
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
func (r *Result) Span() time.Duration {
	var end time.Duration
	for _, s := range r.Shots {
		end = max(end, s.Received)
	}
	return end
}

// Statuses counts the answers by status code (0: transport error).
func (r *Result) Statuses() map[int]int {
	out := map[int]int{}
	for _, s := range r.Shots {
		out[s.Status]++
	}
	return out
}

// Summary is one line for the report: what was asked, what was achieved, what came
// back.
func (r *Result) Summary() string {
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
func Validate(c *harness.Client, r *Result) []*Shot {
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
		c.Pacer.Answered(c.Validator.Operation(req), s.Status)
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
func Record(c *harness.Client, s *Shot) evidence.Exchange {
	ex := evidence.Exchange{
		Method: s.req.Method, URL: s.req.URL.String(), ReqHeader: s.req.Header.Clone(), ReqBody: string(s.reqBody),
		Started: s.started, Duration: s.Received - s.Sent, Status: s.Status, RespHead: s.Header.Clone(), RespBody: string(s.Body),
	}
	if s.Err != nil {
		ex.Error = s.Err.Error()
	}
	if s.Violation != nil {
		ex.Violation = s.Violation.Error()
	}
	return c.RecordExchange(ex, s.reqBody, s.Body)
}

// ErrBurstTooSlow marks a burst the runner could not send at the requested rate.
var ErrBurstTooSlow = errors.New("the runner could not send at the requested rate")

// RequireRate returns an ErrBurstTooSlow error, stating the achieved rate, when the
// burst was sent at less than frac of the requested rate.
func (r *Result) RequireRate(frac float64) error {
	if len(r.Shots) > 1 && r.Achieved >= frac*r.Rate {
		return nil
	}
	return fmt.Errorf("%w: %.4g/s requested, %.4g/s achieved (below %.0f%%): %s", ErrBurstTooSlow, r.Rate, r.Achieved, frac*100, r.Summary())
}

// Host is the host the shot's request went to.
func (s *Shot) Host() string { return s.req.URL.Host }

// Merge adds the shots of o, a burst sent after r on the same client, to r: their
// times are shifted onto r's clock and their indexes continue r's. r's rate figures
// (Rate, Achieved, jitter, latency) stay those of its own shots: a burst sent to
// probe something while r's bucket is empty does not change how well r kept its
// rate.
func (r *Result) Merge(o *Result) {
	shift := o.Started.Sub(r.Started)
	base := len(r.Shots)
	for _, s := range o.Shots {
		s.Index += base
		s.Sent += shift
		s.Received += shift
		r.Shots = append(r.Shots, s)
	}
	if o.Ended.After(r.Ended) {
		r.Ended = o.Ended
	}
}

// Method is the shot's request method.
func (s *Shot) Method() string { return s.req.Method }

// Operation is the path of the shot's request, ids and all (its query left out).
func (s *Shot) Operation() string { return s.req.URL.EscapedPath() }
