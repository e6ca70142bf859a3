package burst

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

const ms = time.Millisecond

// every returns n send times, gap apart from start.
func every(start, gap time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = start + time.Duration(i)*gap
	}
	return out
}

func TestNewBucketTolerance(t *testing.T) {
	for _, c := range []struct {
		in  spec.Bucket
		tol float64
	}{
		{spec.PerSecond(25, 25), 3},
		{spec.PerSecond(100, 100), 10},
		{spec.PerMinute(5, 5), 1},
		{spec.PerSecond(2, 2), 1},
		{spec.PerSecond(300, 300), 30},
	} {
		b := NewBucket(c.in)
		if b.Tol != c.tol || b.Size != c.in.Burst || b.Rate != c.in.Rate {
			t.Errorf("%v: %+v, want tolerance %v", c.in, b, c.tol)
		}
	}
}

func TestBucketAllowedAndRefill(t *testing.T) {
	for _, c := range []struct {
		b       Bucket
		t       time.Duration
		allowed float64
		refill  time.Duration
	}{
		{Bucket{Rate: 25, Size: 25, Tol: 3}, 0, 28, time.Second},
		{Bucket{Rate: 25, Size: 25, Tol: 3}, 1500 * ms, 65.5, time.Second},
		{Bucket{Rate: 5.0 / 60, Size: 5, Tol: 1}, 12 * time.Second, 7, time.Minute},
		{Bucket{Rate: 2, Size: 2, Tol: 1}, 3 * time.Second, 9, time.Second},
	} {
		if got := c.b.Allowed(c.t); math.Abs(got-c.allowed) > 1e-9 {
			t.Errorf("%v: Allowed(%v) = %v, want %v", c.b, c.t, got, c.allowed)
		}
		if got := c.b.RefillTime(); got != c.refill {
			t.Errorf("%v: RefillTime = %v, want %v", c.b, got, c.refill)
		}
	}
}

// The ideal bucket refuses what a token bucket refuses, in time order.
func TestBucketIdeal(t *testing.T) {
	b := Bucket{Rate: 10, Size: 5, Tol: 1}
	for _, c := range []struct {
		name           string
		sends          []time.Duration
		refused, first int
		tokensAt       time.Duration
		tokens         float64
	}{
		{"none", nil, 0, -1, 0, 5},
		{"all at once, two too many", every(0, 0, 7), 2, 5, 0, 0},
		{"at the rate for 3 s", every(0, 100*ms, 30), 0, -1, 2900 * ms, 4},
		{"twice the rate", every(0, 50*ms, 20), 6, 9, 950 * ms, 0.5},
		{"out of order", []time.Duration{6 * ms, 0, 5 * ms, 1 * ms, 4 * ms, 2 * ms, 3 * ms}, 2, 5, 3 * time.Second, 5},
		{"refilled after a pause", append(every(0, 0, 5), every(time.Second, 0, 5)...), 0, -1, time.Second, 0},
	} {
		refused, first := b.Ideal(c.sends)
		if refused != c.refused || first != c.first {
			t.Errorf("%s: refused %d (first %d), want %d (first %d)", c.name, refused, first, c.refused, c.first)
		}
		if got := b.TokensAt(c.sends, c.tokensAt); math.Abs(got-c.tokens) > 1e-6 {
			t.Errorf("%s: TokensAt(%v) = %v, want %v", c.name, c.tokensAt, got, c.tokens)
		}
	}
	for _, c := range []struct {
		sends []time.Duration
		want  float64
		wait  time.Duration
	}{
		{nil, 3, 0},
		{every(0, 0, 5), 3, 300 * ms},
		{every(0, 0, 5), 50, 500 * ms}, // at most the bucket's size
		{every(0, 0, 2), 3, 0},
	} {
		if got := b.TimeUntil(c.sends, c.want); got != c.wait {
			t.Errorf("TimeUntil(%d sends at once, %v) = %v, want %v", len(c.sends), c.want, got, c.wait)
		}
	}
}

func TestBucketBurstSize(t *testing.T) {
	for _, c := range []struct {
		name string
		b    spec.Bucket
		n    int
		ok   bool
	}{
		{"enterprise reads", spec.PerSecond(25, 25), 150, true},
		{"enterprise filtered reads: capped, still decides", spec.PerSecond(100, 100), 400, true},
		{"free", spec.PerSecond(2, 2), 12, true},
		{"private cloud 1500: cannot be emptied", spec.PerSecond(300, 300), 400, false},
	} {
		n, ok := NewBucket(c.b).BurstSize(4, 1500*ms, 400)
		if n != c.n || ok != c.ok {
			t.Errorf("%s: %d requests (ok %v), want %d (ok %v)", c.name, n, ok, c.n, c.ok)
		}
	}
	if _, ok := NewBucket(spec.PerSecond(25, 25)).BurstSize(1, time.Second, 400); ok {
		t.Error("a burst at the rate itself cannot overload the bucket")
	}
}

func TestBucketOverloadMarginAndBeyond(t *testing.T) {
	for _, c := range []struct {
		b      Bucket
		n      int
		margin int
	}{
		{Bucket{Rate: 25, Size: 25, Tol: 3}, 150, 18},
		{Bucket{Rate: 2, Size: 2, Tol: 1}, 12, 6},
		{Bucket{Rate: 100, Size: 100, Tol: 10}, 400, 50},
	} {
		if got := c.b.OverloadMargin(c.n); got != c.margin {
			t.Errorf("%v: OverloadMargin(%d) = %d, want %d", c.b, c.n, got, c.margin)
		}
	}
	for _, c := range []struct {
		b     Bucket
		extra int
		rate  float64
		n     int
	}{
		{Bucket{Rate: 5.0 / 60, Size: 5, Tol: 1}, 3, 12.5, 10},
		{Bucket{Rate: 20.0 / 60, Size: 20, Tol: 2}, 3, 25, 26},
		{Bucket{Rate: 2.0 / 60, Size: 2, Tol: 1}, 3, 1, 7},
		{Bucket{Rate: 1, Size: 2, Tol: 1}, 3, 1, 0}, // the refill keeps pace: no number of requests will do
	} {
		n := c.b.Beyond(c.extra, c.rate)
		if n != c.n {
			t.Errorf("%v: Beyond(%d, %v) = %d, want %d", c.b, c.extra, c.rate, n, c.n)
		}
	}
	// What Beyond promises, when the refill is slower than the sends: the ideal bucket
	// refuses extra + Tol of them.
	for _, b := range []Bucket{{Rate: 5.0 / 60, Size: 5, Tol: 1}, {Rate: 2.0 / 60, Size: 2, Tol: 1}, {Rate: 20.0 / 60, Size: 20, Tol: 2}} {
		n := b.Beyond(3, 10)
		if refused, _ := b.Ideal(every(0, 100*ms, n)); float64(refused) < 3+b.Tol {
			t.Errorf("%v: %d requests at 10/s are refused only %d times", b, n, refused)
		}
	}
}

func TestBucketFirstExcess(t *testing.T) {
	b := Bucket{Rate: 10, Size: 5, Tol: 1}
	for _, c := range []struct {
		name  string
		oks   []time.Duration
		want  *Excess
		count int
	}{
		{"within the bucket", every(0, 0, 6), nil, 0},
		{"one beyond the tolerance at once", every(0, 0, 7), &Excess{At: 0, Count: 7, Allowed: 6}, 7},
		{"at the rate", every(0, 100*ms, 50), nil, 0},
		{"double the rate", every(0, 50*ms, 40), &Excess{At: 550 * ms}, 12},
	} {
		e := b.FirstExcess(c.oks)
		switch {
		case c.want == nil && e != nil:
			t.Errorf("%s: excess %+v, want none", c.name, e)
		case c.want != nil && (e == nil || e.Count != c.count || e.At != c.want.At):
			t.Errorf("%s: excess %+v, want %d 2xx at %v", c.name, e, c.count, c.want.At)
		}
	}
}

// simulate runs an exact token bucket over requests sent at sends, each taken lat
// after it was sent and answered lat after that, and states remaining by one of the
// conventions a server may use.
func simulate(b Bucket, sends []time.Duration, lat func(i int) time.Duration, convention string) []Take {
	type ev struct {
		i    int
		take time.Duration
	}
	takes := make([]Take, len(sends))
	evs := make([]ev, len(sends))
	for i, s := range sends {
		d := lat(i)
		takes[i] = Take{Index: i, Sent: s, Received: s + 2*d}
		evs[i] = ev{i, s + d}
	}
	// The server takes in the order requests reach it.
	for x := 1; x < len(evs); x++ {
		for y := x; y > 0 && evs[y].take < evs[y-1].take; y-- {
			evs[y], evs[y-1] = evs[y-1], evs[y]
		}
	}
	tokens, last := float64(b.Size), time.Duration(0)
	for _, e := range evs {
		tokens = math.Min(float64(b.Size), tokens+(e.take-last).Seconds()*b.Rate)
		last = e.take
		t := &takes[e.i]
		if tokens < 1 {
			t.Remaining = 0
			continue
		}
		tokens--
		t.Took = true
		switch convention {
		case "floor after":
			t.Remaining = math.Floor(tokens)
		case "ceil after":
			t.Remaining = math.Ceil(tokens)
		case "floor before":
			t.Remaining = math.Floor(tokens + 1)
		}
	}
	return takes
}

// A correct bucket never violates CheckRemaining, whatever the shape of the burst,
// the latencies and the rounding convention; the defects the reference tenant's
// faults name always do.
func TestBucketCheckRemaining(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	jitter := func(max time.Duration) func(int) time.Duration {
		return func(int) time.Duration { return time.Duration(rng.Int64N(int64(max))) }
	}
	buckets := []Bucket{NewBucket(spec.PerSecond(25, 25)), NewBucket(spec.PerMinute(5, 5)), NewBucket(spec.PerSecond(2, 2)), NewBucket(spec.PerSecond(100, 100))}
	for _, b := range buckets {
		for _, rate := range []float64{0.5, 1, 4} {
			for _, conv := range []string{"floor after", "ceil after", "floor before"} {
				for _, lat := range []time.Duration{ms, 20 * ms, 200 * ms} {
					n := min(200, int(4*rate*float64(b.Size))+5)
					gap := time.Duration(float64(time.Second) / (rate * math.Max(b.Rate, 1)))
					takes := simulate(b, every(0, gap, n), jitter(lat), conv)
					if v := b.CheckRemaining(takes); len(v) > 0 {
						t.Errorf("%v, %v× its rate, %s, latency up to %v: a correct bucket violates: %+v", b, rate, conv, lat, v[0])
					}
				}
			}
		}
	}

	b := NewBucket(spec.PerMinute(5, 5))
	burst := every(0, 80*ms, 8)
	fixed := func(int) time.Duration { return ms }
	for _, c := range []struct {
		name  string
		state func(takes []Take)
	}{
		{"remaining frozen at size − 1", func(ts []Take) {
			for i := range ts {
				if ts[i].Took {
					ts[i].Remaining = 4
				}
			}
		}},
		{"remaining counts the requests used", func(ts []Take) {
			for i := range ts {
				ts[i].Remaining = 5 - ts[i].Remaining
			}
		}},
		{"remaining full again at once after a 429", func(ts []Take) {
			ts[len(ts)-1].Took, ts[len(ts)-1].Remaining = true, 4
		}},
	} {
		takes := simulate(b, burst, fixed, "floor after")
		c.state(takes)
		if v := b.CheckRemaining(takes); len(v) == 0 {
			t.Errorf("%s: no violation found in %+v", c.name, takes)
		}
	}

	// Answers that overlap say nothing about each other's order.
	overlap := []Take{{Index: 0, Sent: 0, Received: 50 * ms, Took: true, Remaining: 0}, {Index: 1, Sent: 10 * ms, Received: 40 * ms, Took: true, Remaining: 4}}
	if v := b.CheckRemaining(overlap); len(v) > 0 {
		t.Errorf("overlapping answers compared: %+v", v)
	}
	// Answers that describe another bucket (NaN) are not compared, but their tokens count.
	other := []Take{
		{Index: 0, Sent: 0, Received: ms, Took: true, Remaining: 4},
		{Index: 1, Sent: 2 * ms, Received: 3 * ms, Took: true, Remaining: math.NaN()},
		{Index: 2, Sent: 4 * ms, Received: 5 * ms, Took: true, Remaining: math.NaN()},
		{Index: 3, Sent: 6 * ms, Received: 7 * ms, Took: true, Remaining: math.NaN()},
		{Index: 4, Sent: 8 * ms, Received: 9 * ms, Took: true, Remaining: 4},
	}
	v := b.CheckRemaining(other)
	if len(v) != 1 || v[0].Take.Index != 4 || v[0].Since.Index != 0 || v[0].Spent != 4 {
		t.Errorf("served requests described elsewhere must count as spent: %+v", v)
	}
}

func TestShotOK(t *testing.T) {
	for _, c := range []struct {
		s  Shot
		ok bool
	}{{Shot{Status: 200}, true}, {Shot{Status: 202}, true}, {Shot{Status: 429}, false}, {Shot{Status: 200, Err: errTest}, false}, {Shot{}, false}} {
		if got := c.s.OK(); got != c.ok {
			t.Errorf("%+v: OK() = %v", c.s, got)
		}
	}
}

var errTest = errors.New("reading the body failed")
