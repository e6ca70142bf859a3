package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
)

// The oracle on the rate-limit headers: present on every 2xx and 429 (MA-RL-003),
// retry-after on every 429 (MA-RL-004), remaining describing its bucket
// (MA-RL-009), limit, reset and retry-after fitting it (MA-RL-010).

// rateHeaders are the rate-limit headers of one answer; a field is NaN when the
// header is missing or not a non-negative number.
type rateHeaders struct {
	Limit, Remaining, Reset, RetryAfter float64
	Kind                                string
	Date                                time.Time
}

func headerNumber(h http.Header, name string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(h.Get(name)), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return math.NaN()
	}
	return v
}

func headersOf(s *Shot) rateHeaders {
	h := rateHeaders{
		Limit: headerNumber(s.Header, "X-RateLimit-Limit"), Remaining: headerNumber(s.Header, "X-RateLimit-Remaining"),
		Reset: headerNumber(s.Header, "X-RateLimit-Reset"), RetryAfter: headerNumber(s.Header, "Retry-After"),
		Kind: s.Header.Get("X-Auth0-Error-Kind"),
	}
	h.Date, _ = http.ParseTime(s.Header.Get("Date"))
	if ra := s.Header.Get("Retry-After"); math.IsNaN(h.RetryAfter) && ra != "" && !h.Date.IsZero() {
		// Retry-After may also be an HTTP-date (RFC 9110 §10.2.3).
		if t, err := http.ParseTime(ra); err == nil && !t.Before(h.Date) {
			h.RetryAfter = t.Sub(h.Date).Seconds()
		}
	}
	return h
}

// describeHeader says what a header was instead of a non-negative number.
func describeHeader(h http.Header, name string) string {
	v, ok := h[http.CanonicalHeaderKey(name)]
	if !ok {
		return "missing"
	}
	return fmt.Sprintf("%q, not a non-negative number", strings.Join(v, ", "))
}

// described is the bucket an answer's headers describe, told by x-ratelimit-limit:
// the one of its candidates of that size, nil when none is or two are (then the
// answer cannot be placed).
func described(h rateHeaders, cs []candidate) (*candidate, bool) {
	var found *candidate
	n := 0
	for i := range cs {
		if !math.IsNaN(h.Limit) && h.Limit == float64(cs[i].bucket.Size) {
			found = &cs[i]
			n++
		}
	}
	if n > 1 {
		return nil, true
	}
	return found, false
}

// judgeHeadersPresent: x-ratelimit-limit, -remaining and -reset on every 2xx and 429
// of kind k's bursts (MA-RL-003).
func judgeHeadersPresent(k spec.Kind, runs []*Run, whys []string) Verdict {
	const req = "MA-RL-003"
	if v := checkRuns(req, k, runs, whys); v != nil {
		return *v
	}
	f := findings{req: req}
	for _, r := range runs {
		for i := range r.Shots {
			s := &r.Shots[i]
			if !s.ok() && !s.is429() {
				continue
			}
			h := headersOf(s)
			for _, c := range []struct {
				name string
				v    float64
			}{{"x-ratelimit-limit", h.Limit}, {"x-ratelimit-remaining", h.Remaining}, {"x-ratelimit-reset", h.Reset}} {
				if math.IsNaN(c.v) {
					f.add(r, s, "%s is %s", c.name, describeHeader(s.Header, c.name))
				}
			}
		}
	}
	return orPassed(req, f.verdict("answers without the rate-limit headers"))
}

// judgeRetryAfter: retry-after on every 429 of kind k's bursts, the tenant's and a
// user's (MA-RL-004).
func judgeRetryAfter(k spec.Kind, runs []*Run, whys []string) Verdict {
	const req = "MA-RL-004"
	if v := checkRuns(req, k, runs, whys); v != nil {
		return *v
	}
	f := findings{req: req}
	refused := 0
	for _, r := range runs {
		for i := range r.Shots {
			if s := &r.Shots[i]; s.is429() {
				refused++
				if math.IsNaN(headersOf(s).RetryAfter) {
					level := "the tenant's bucket"
					if r.Level == "user" {
						level = "user A's bucket"
					}
					f.add(r, s, "a 429 of %s without retry-after (it is %s)", level, describeHeader(s.Header, "Retry-After"))
				}
			}
		}
	}
	if refused == 0 {
		return *skipped(req, "the bursts drew no 429, so there is no retry-after to check (MA-RL-002, MA-RL-011)")
	}
	return orPassed(req, f.verdict("429s without retry-after"))
}

// judgeRemaining: x-ratelimit-remaining 0 on a 429, falling as requests are served
// and rising no faster than the bucket refills (MA-RL-009).
func judgeRemaining(l spec.Limits, k spec.Kind, runs []*Run, whys []string) Verdict {
	const req = "MA-RL-009"
	if v := checkRuns(req, k, runs, whys); v != nil {
		return *v
	}
	f := findings{req: req}
	placed, ambiguous, refused := 0, 0, 0
	for _, r := range runs {
		p, a := remainingFindings(l, r, &f)
		placed, ambiguous = placed+p, ambiguous+a
		refused += count(r.shots(func(*Shot) bool { return true }), is429)
	}
	v := orPassed(req, f.verdict("x-ratelimit-remaining that does not describe the bucket"))
	if v.Outcome == Passed && placed == 0 && refused == 0 {
		v = *skipped(req, "no answer could be placed on a bucket by its x-ratelimit-limit, and none was a 429")
	}
	v.Notes = []string{fmt.Sprintf("x-ratelimit-remaining placed on a bucket (by x-ratelimit-limit) for %d answers; %d could describe either level (the same size)", placed, ambiguous)}
	return v
}

// judgeFit: x-ratelimit-limit, -reset and retry-after fit the bucket they describe
// (MA-RL-010).
func judgeFit(l spec.Limits, k spec.Kind, runs []*Run, whys []string) Verdict {
	const req = "MA-RL-010"
	if v := checkRuns(req, k, runs, whys); v != nil {
		return *v
	}
	f := findings{req: req}
	for _, r := range runs {
		fitFindings(l, r, &f)
	}
	return orPassed(req, f.verdict("rate-limit headers that do not fit the buckets of "+planName(l)))
}

// candidatesOf are the buckets a shot draws on.
func candidatesOf(l spec.Limits, s *Shot) []candidate {
	return candidates(l, s.Kind, s.Sub, s.Who)
}

// remainingFindings holds x-ratelimit-remaining to the buckets: 0 on every 429,
// never above x-ratelimit-limit, and, along the answers that describe one bucket,
// falling as its tokens are spent and rising no faster than it refills. It returns
// how many answers could be placed.
func remainingFindings(l spec.Limits, r *Run, f *findings) (placed, ambiguous int) {
	takes := map[string][]burst.Take{}
	buckets := map[string]candidate{}
	for i := range r.Shots {
		s := &r.Shots[i]
		if !s.ok() && !s.is429() {
			continue
		}
		h := headersOf(s)
		if s.is429() && !math.IsNaN(h.Remaining) && h.Remaining != 0 {
			f.add(r, s, "x-ratelimit-remaining is %v on a 429: the bucket that refused has no request left", h.Remaining)
		}
		if !math.IsNaN(h.Remaining) && !math.IsNaN(h.Limit) && h.Remaining > h.Limit {
			f.add(r, s, "x-ratelimit-remaining %v exceeds x-ratelimit-limit %v", h.Remaining, h.Limit)
		}
		cs := candidatesOf(l, s)
		d, amb := described(h, cs)
		if amb {
			ambiguous++
		}
		if d != nil && !math.IsNaN(h.Remaining) {
			placed++
		}
		for _, c := range cs {
			t := burst.Take{Index: s.Index, Sent: s.Sent, Received: s.Received, Took: s.ok(), Remaining: math.NaN()}
			if d != nil && d.key == c.key {
				t.Remaining = h.Remaining
			}
			takes[c.key] = append(takes[c.key], t)
			buckets[c.key] = c
		}
	}
	keys := make([]string, 0, len(takes))
	for k := range takes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		c := buckets[key]
		for _, v := range c.bucket.CheckRemaining(takes[key]) {
			s := &r.Shots[v.Take.Index]
			verb := "rose"
			if v.Take.Remaining >= v.Since.Remaining {
				verb = "did not fall"
			}
			f.add(r, s, "x-ratelimit-remaining %v %s from %v (request #%d, answered before this one was sent) although %d requests were served in between and %s (%s) refills at most %.2f in that time: it must be below %.2f",
				v.Take.Remaining, verb, v.Since.Remaining, v.Since.Index, v.Spent, c.what, c.bucket, v.Gain, v.Bound)
		}
	}
	return placed, ambiguous
}

// fitFindings holds x-ratelimit-limit, -reset and retry-after to the bucket the
// answer describes: the limit is the size of a bucket the request draws on, reset
// lies within the time that bucket needs to refill after the answer, and so does
// retry-after.
func fitFindings(l spec.Limits, r *Run, f *findings) {
	for i := range r.Shots {
		s := &r.Shots[i]
		if !s.ok() && !s.is429() {
			continue
		}
		h := headersOf(s)
		cs := candidatesOf(l, s)
		d, amb := described(h, cs)
		// The longest refill of the buckets the answer may describe.
		var full time.Duration
		var sizes []string
		for _, c := range cs {
			sizes = append(sizes, fmt.Sprintf("%d (%s)", c.bucket.Size, c.what))
			if d == nil || d.key == c.key {
				full = max(full, c.bucket.RefillTime())
			}
		}
		if !math.IsNaN(h.Limit) && d == nil && !amb && len(cs) > 0 {
			f.add(r, s, "x-ratelimit-limit %v is the size of no bucket the request draws on: %s", h.Limit, strings.Join(sizes, ", "))
		}
		fullS := math.Ceil(full.Seconds())
		if !math.IsNaN(h.Reset) {
			now := h.Date
			if now.IsZero() {
				now = r.Started.Add(s.Received)
			}
			// The server's Date is truncated to the second; reset is rounded either way.
			lo, hi := float64(now.Unix())-1, float64(now.Unix())+fullS+2
			if h.Reset < lo || h.Reset > hi {
				f.add(r, s, "x-ratelimit-reset %.0f is not within the %.0f s the bucket needs to refill after the answer's Date %s", h.Reset, fullS, now.UTC().Format(time.RFC3339))
			}
		}
		if s.is429() && !math.IsNaN(h.RetryAfter) && h.RetryAfter > fullS+1 {
			f.add(r, s, "retry-after %v s is longer than the %.0f s the bucket needs to refill from empty", h.RetryAfter, fullS)
		}
	}
}
