package burst

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// The arithmetic that judges a burst against a token bucket (PROTOCOL §6): a bucket
// of B tokens refilled at R per second lets at most B + R·t requests through in the
// first t seconds of any burst, whatever its shape. Nothing here sends a request or
// reads a clock: every function takes the times a burst recorded.

// Bucket is a token bucket the specs hold a target to, with the tolerance they
// allow above it.
type Bucket struct {
	Rate float64 // tokens per second
	Size int     // B, the burst
	// Tol is how many requests beyond the bucket the specs let through: a
	// distributed limiter may count a request or two late.
	Tol float64
}

// NewBucket is b with the specs' tolerance: 10% of the bucket, at least one request.
func NewBucket(b spec.Bucket) Bucket {
	return Bucket{Rate: b.Rate, Size: b.Burst, Tol: math.Max(1, math.Ceil(0.1*float64(b.Burst)))}
}

func (b Bucket) String() string {
	return fmt.Sprintf("a bucket of %d refilled at %s", b.Size, perTime(b.Rate))
}

// perTime writes a rate as the vendor's tables do: "25/s", "5/min".
func perTime(r float64) string {
	if r < 1 {
		return fmt.Sprintf("%.4g/min", r*60)
	}
	return fmt.Sprintf("%.4g/s", r)
}

// Allowed is the most requests the bucket lets through in the first t seconds of a
// burst, with the tolerance: B + R·t + Tol.
func (b Bucket) Allowed(t time.Duration) float64 {
	return float64(b.Size) + b.Rate*t.Seconds() + b.Tol
}

// RefillTime is how long the empty bucket takes to fill.
func (b Bucket) RefillTime() time.Duration {
	if b.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(b.Size) / b.Rate * float64(time.Second))
}

// Interval is how long one token takes to come back.
func (b Bucket) Interval() time.Duration {
	if b.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / b.Rate)
}

// Ideal feeds requests sent at sends (any order) to an ideal bucket that starts
// full: how many it refuses, and the position in time order of the first it
// refuses (-1 when none).
func (b Bucket) Ideal(sends []time.Duration) (refused, first int) {
	first = -1
	b.replay(sends, func(i int, ok bool) {
		if !ok {
			refused++
			if first < 0 {
				first = i
			}
		}
	})
	return refused, first
}

// TokensAt is what the ideal bucket fed sends holds at t (not before the last send).
func (b Bucket) TokensAt(sends []time.Duration, t time.Duration) float64 {
	tokens, last := b.replay(sends, nil)
	return math.Min(float64(b.Size), tokens+math.Max(0, (t-last).Seconds())*b.Rate)
}

// TimeUntil is how long after the last send the ideal bucket fed sends holds want
// tokens again (at most its size): 0 when it already does.
func (b Bucket) TimeUntil(sends []time.Duration, want float64) time.Duration {
	tokens, _ := b.replay(sends, nil)
	want = math.Min(want, float64(b.Size))
	if tokens >= want || b.Rate <= 0 {
		return 0
	}
	return time.Duration((want - tokens) / b.Rate * float64(time.Second))
}

// replay runs the ideal bucket over sends in time order, telling each request's
// fate to each (when not nil); it returns the tokens left and the last send.
func (b Bucket) replay(sends []time.Duration, each func(i int, ok bool)) (tokens float64, last time.Duration) {
	sorted := slices.Clone(sends)
	slices.Sort(sorted)
	tokens = float64(b.Size)
	if len(sorted) > 0 {
		last = sorted[0]
	}
	for i, t := range sorted {
		tokens = math.Min(float64(b.Size), tokens+(t-last).Seconds()*b.Rate)
		last = t
		ok := tokens >= 1
		if ok {
			tokens--
		}
		if each != nil {
			each(i, ok)
		}
	}
	return tokens, last
}

// OverloadMargin is how many of n requests an ideal bucket must refuse for a burst
// to decide: 10% of them (at least 5) beyond the tolerance.
func (b Bucket) OverloadMargin(n int) int {
	return int(math.Max(5, math.Ceil(0.1*float64(n))) + b.Tol)
}

// BurstSize is how many requests a burst at overload× the bucket's rate needs to
// empty the bucket and then show the refill: it lasts at least minFor, or twice the
// time to empty the bucket when that is longer. Capped at most requests, it is ok
// only if an ideal bucket still refuses the margin of them.
func (b Bucket) BurstSize(overload float64, minFor time.Duration, most int) (n int, ok bool) {
	if overload <= 1 || b.Rate <= 0 || most <= 0 {
		return 0, false
	}
	rate := overload * b.Rate
	drain := float64(b.Size) / (rate - b.Rate) // seconds until the bucket is empty
	n = int(math.Ceil(rate * math.Max(minFor.Seconds(), 2*drain)))
	if n <= most {
		return n, true
	}
	n = most
	allowed := b.Allowed(time.Duration(float64(n) / rate * float64(time.Second)))
	return n, float64(n)-allowed >= float64(b.OverloadMargin(n))
}

// Beyond is how many requests, sent at rate, take the bucket past its tolerance by
// extra refusals: an ideal bucket fed them refuses at least extra + Tol. It is 0
// when rate does not outpace the refill.
func (b Bucket) Beyond(extra int, rate float64) int {
	if rate <= b.Rate {
		return 0
	}
	n := b.Size + int(math.Ceil(b.Tol)) + extra
	for range 100 { // the refill during the burst adds requests, and they add time
		refill := 0.0
		if n > 1 {
			refill = b.Rate * float64(n-1) / rate
		}
		next := b.Size + int(math.Ceil(b.Tol)) + extra + int(math.Ceil(refill))
		if next == n {
			break
		}
		n = next
	}
	return n
}

// Excess is the first moment the 2xx of a burst exceed what the bucket allows.
type Excess struct {
	At      time.Duration
	Count   int
	Allowed float64
}

// FirstExcess takes the times the 2xx answers came back (since the first send, any
// order) and returns the first moment their count exceeds Allowed, or nil.
func (b Bucket) FirstExcess(oks []time.Duration) *Excess {
	sorted := slices.Clone(oks)
	slices.Sort(sorted)
	for k, t := range sorted {
		// Counted from the first send, which is before the server took its first
		// token: the bound is never tighter than the bucket's.
		if float64(k+1) > b.Allowed(t) {
			return &Excess{At: t, Count: k + 1, Allowed: b.Allowed(t)}
		}
	}
	return nil
}

// Take is a request that drew on one bucket, as the x-ratelimit-remaining check sees
// it.
type Take struct {
	Index          int
	Sent, Received time.Duration
	// Took: the request was served (2xx), so it took a token from every bucket it
	// draws on.
	Took bool
	// Remaining is x-ratelimit-remaining when the answer describes this bucket, NaN
	// when it describes another (or none).
	Remaining float64
}

// RemainingSlack is how far a stated remaining may lie above the bucket's own
// count: 2 for the convention (rounded down or up, before or after the take) and
// the tolerance.
func (b Bucket) RemainingSlack() float64 { return 2 + b.Tol }

// RemainingViolation is an answer whose x-ratelimit-remaining says the bucket holds
// more than it can: since an earlier answer, Spent requests took a token and the
// bucket refilled by at most Gain.
type RemainingViolation struct {
	Take, Since Take
	Spent       int
	Gain        float64
	Bound       float64 // the answer may state less than this
}

// CheckRemaining holds the remaining stated along takes to the bucket: between an
// answer i and a later request j sent after i was answered, the bucket lost the
// tokens of every served request certainly taken in between (sent after i was
// answered, answered before j was sent, and j itself) and gained at most
// R × (j answered − i sent). So j states less than i's remaining − spent + gain +
// RemainingSlack: remaining falls as tokens are spent, and rises no faster than the
// refill. It returns the first violation for each answer that has one.
func (b Bucket) CheckRemaining(takes []Take) []RemainingViolation {
	var out []RemainingViolation
	// Served requests by answer time, for counting those certainly taken between.
	var served []Take
	for _, t := range takes {
		if t.Took {
			served = append(served, t)
		}
	}
	sort.Slice(served, func(x, y int) bool { return served[x].Received < served[y].Received })
	for _, j := range takes {
		if math.IsNaN(j.Remaining) {
			continue
		}
		// The served requests answered before j was sent, their send times sorted.
		var between []time.Duration
		for _, k := range served {
			if k.Received >= j.Sent {
				break
			}
			if k.Index != j.Index {
				between = append(between, k.Sent)
			}
		}
		slices.Sort(between)
		for _, i := range takes {
			if math.IsNaN(i.Remaining) || i.Index == j.Index || i.Received >= j.Sent {
				continue
			}
			// Of those, the ones sent after i was answered.
			spent := len(between) - sort.Search(len(between), func(x int) bool { return between[x] > i.Received })
			if j.Took {
				spent++
			}
			gain := b.Rate * (j.Received - i.Sent).Seconds()
			bound := i.Remaining - float64(spent) + gain + b.RemainingSlack()
			if j.Remaining >= bound {
				out = append(out, RemainingViolation{Take: j, Since: i, Spent: spent, Gain: gain, Bound: bound})
				break
			}
		}
	}
	return out
}

// OK says whether the shot was answered 2xx.
func (s *Shot) OK() bool { return s.Err == nil && s.Status >= 200 && s.Status < 300 }
