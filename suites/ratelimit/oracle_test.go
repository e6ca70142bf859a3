package ratelimit

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
)

// The oracle on made-up bursts: a simulated limiter (a token bucket per bucket the
// model gives, answering with the headers a conforming target sends) and its
// faults, one change at a time.

var (
	enterprise, _ = spec.LimitPlan(spec.PlanEnterprise)
	epoch         = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// sim is a limiter of the model: a token bucket per bucket key.
type sim struct {
	l      spec.Limits
	tokens map[string]float64
	last   map[string]time.Duration
	// faults
	noLimit, noRetryAfter, noHeaders bool
	remainingPlus                    float64
}

func newSim(l spec.Limits) *sim {
	return &sim{l: l, tokens: map[string]float64{}, last: map[string]time.Duration{}}
}

// answer serves shot s sent at s.Sent, answered 1 ms later.
func (m *sim) answer(s *Shot) {
	s.Received = s.Sent + time.Millisecond
	cs := candidates(m.l, s.Kind, s.Sub, s.Who)
	var refused *candidate
	for i := range cs {
		c := &cs[i]
		if _, ok := m.tokens[c.key]; !ok {
			m.tokens[c.key], m.last[c.key] = float64(c.bucket.Size), s.Sent
		}
		m.tokens[c.key] = math.Min(float64(c.bucket.Size), m.tokens[c.key]+(s.Sent-m.last[c.key]).Seconds()*c.bucket.Rate)
		m.last[c.key] = s.Sent
		if m.tokens[c.key] < 1 && refused == nil && !m.noLimit {
			refused = c
		}
	}
	s.Status = http.StatusOK
	if refused == nil {
		for _, c := range cs {
			m.tokens[c.key]--
		}
	} else {
		s.Status = http.StatusTooManyRequests
	}
	// The headers describe the bucket that refused, else the one with the fewest left.
	d := refused
	for i := range cs {
		if d == nil || (refused == nil && m.tokens[cs[i].key] < m.tokens[d.key]) {
			d = &cs[i]
		}
	}
	now := epoch.Add(s.Received)
	s.Header = http.Header{"Date": {now.Format(http.TimeFormat)}}
	if d == nil || m.noHeaders {
		return
	}
	left := math.Max(0, math.Floor(m.tokens[d.key]))
	if s.Status == http.StatusTooManyRequests {
		left = 0
	}
	s.Header.Set("X-RateLimit-Limit", strconv.Itoa(d.bucket.Size))
	s.Header.Set("X-RateLimit-Remaining", strconv.FormatFloat(left+m.remainingPlus, 'f', -1, 64))
	full := (float64(d.bucket.Size) - m.tokens[d.key]) / d.bucket.Rate
	s.Header.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Duration(full*float64(time.Second))).Unix(), 10))
	if s.Status == http.StatusTooManyRequests && !m.noRetryAfter {
		s.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(1/d.bucket.Rate))))
	}
}

// plan is n shots of kind k by users (a new user every perUser shots) at rate.
type planned struct {
	k             spec.Kind
	n, perUser    int
	rate          float64
	role, who, at string // at: a user prefix
	from          time.Duration
}

func (p planned) shots(start int) []Shot {
	out := make([]Shot, p.n)
	for i := range out {
		out[i] = Shot{Index: start + i, Kind: p.k, Role: p.role, Who: p.who, Host: "login.example",
			Sub:  p.at + strconv.Itoa(i/max(1, p.perUser)),
			Sent: p.from + time.Duration(float64(i)/p.rate*float64(time.Second))}
	}
	return out
}

// burstRun sends the plans, in order, to the limiter and records the run.
func burstRun(m *sim, key, level string, k spec.Kind, b burst.Bucket, rate float64, plans ...planned) *Run {
	r := &Run{Key: key, Name: key, Level: level, Kind: k, Bucket: b, Rate: rate, Started: epoch}
	for _, p := range plans {
		r.Shots = append(r.Shots, p.shots(len(r.Shots))...)
	}
	for i := range r.Shots {
		m.answer(&r.Shots[i])
	}
	main := r.mainShots()
	if len(main) > 1 {
		r.Achieved = float64(len(main)-1) / (main[len(main)-1].Sent - main[0].Sent).Seconds()
	}
	return r
}

func tenantOverloaded(m *sim, k spec.Kind, probes bool) *Run {
	tb, _ := tenantBucket(m.l, k)
	n, _ := tb.BurstSize(overload, burstFor, maxShots)
	plans := []planned{{k: k, n: n, perUser: 5, rate: overload * tb.Rate, role: roleMain, who: "a user", at: "auth0|u"}}
	if probes {
		last := plans[0].shots(0)[n-1].Sent
		for i, o := range apart(m.l.Tenant, k) {
			plans = append(plans, planned{k: o, n: kindProbes, perUser: 5, rate: probeRate, role: roleProbe, who: "a user", at: "auth0|p" + strconv.Itoa(i) + "-", from: last + time.Millisecond})
		}
	}
	return burstRun(m, overloadedKey(k), "tenant", k, tb, overload*tb.Rate, plans...)
}

func tenantAtLimit(m *sim, k spec.Kind) *Run {
	tb, _ := tenantBucket(m.l, k)
	n := int(math.Ceil(tb.Rate * atLimitFor.Seconds()))
	return burstRun(m, atLimitKey(k), "tenant", k, tb, tb.Rate, planned{k: k, n: n, perUser: 5, rate: tb.Rate, role: roleMain, who: "a user", at: "auth0|a"})
}

func userOverrun(m *sim, k spec.Kind) *Run {
	ub, _ := userBucket(m.l, k)
	rate := userRate(m.l, k)
	n := ub.Beyond(userExtra, rate)
	plans := []planned{{k: k, n: n, perUser: n, rate: rate, role: roleMain, who: "user A", at: "auth0|A"}}
	from := time.Duration(float64(n) / rate * float64(time.Second))
	for _, o := range apart(m.l.User, k) {
		plans = append(plans, planned{k: o, n: userProbes, perUser: userProbes, rate: rate, role: roleProbe, who: "user A", at: "auth0|A", from: from})
		from += time.Second
	}
	plans = append(plans, planned{k: k, n: userProbes, perUser: userProbes, rate: rate, role: roleOther, who: "user B", at: "auth0|B", from: from})
	return burstRun(m, userRunKey(k), "user", k, ub, rate, plans...)
}

func TestOracleTable(t *testing.T) {
	l := enterprise
	cases := []struct {
		name  string
		judge func() Verdict
		want  Outcome
		has   string // in the message
	}{
		{"at the limit: none refused", func() Verdict { return judgeAtLimit(l, tenantAtLimit(newSim(l), spec.Read)) }, Passed, ""},
		{"at the limit: a limit half the size refuses", func() Verdict {
			half := l
			half.Tenant.Read = spec.PerSecond(12, 12)
			tb := burst.NewBucket(l.Tenant.Read)
			return judgeAtLimit(l, burstRun(newSim(half), atLimitKey(spec.Read), "tenant", spec.Read, tb, tb.Rate,
				planned{k: spec.Read, n: 75, perUser: 5, rate: tb.Rate, role: roleMain, who: "a user", at: "auth0|a"}))
		}, Failed, "were refused with 429"},
		{"at the limit: sent too slowly", func() Verdict {
			r := tenantAtLimit(newSim(l), spec.Read)
			r.Achieved = 0.5 * r.Rate
			return judgeAtLimit(l, r)
		}, Undecided, "could not send at the requested rate"},
		{"above the limit: held to B + R·t", func() Verdict { return judgeOverloaded(tenantOverloaded(newSim(l), spec.Read, true)) }, Passed, ""},
		{"above the limit: no limit", func() Verdict {
			m := newSim(l)
			m.noLimit = true
			return judgeOverloaded(tenantOverloaded(m, spec.Read, true))
		}, Failed, "requests succeeded within"},
		{"above the limit: a doubled bucket", func() Verdict {
			double := l
			double.Tenant.Write = spec.PerSecond(50, 50)
			r := tenantOverloaded(newSim(double), spec.Write, true)
			r.Bucket = burst.NewBucket(l.Tenant.Write)
			return judgeOverloaded(r)
		}, Failed, "lets at most"},
		{"above the limit: too slow to overload", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, true)
			r.Achieved = 0.4 * r.Rate
			return judgeOverloaded(r)
		}, Undecided, "could not send"},
		{"many users: one user only", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, false)
			for i := range r.Shots {
				r.Shots[i].Sub = "auth0|one"
			}
			return judgeManyUsers(r)
		}, Skipped, "one user"},
		{"tenant kinds apart: probes served", func() Verdict { return judgeTenantKinds(l, tenantOverloaded(newSim(l), spec.Read, true)) }, Passed, ""},
		{"tenant kinds shared: probes refused", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, true)
			for _, s := range r.role(roleProbe) {
				s.Status = http.StatusTooManyRequests
			}
			return judgeTenantKinds(l, r)
		}, Failed, "the tenant counts them in the same bucket"},
		{"tenant kinds: one tenant bucket", func() Verdict {
			ea, _ := spec.LimitPlan(spec.PlanEarlyAccess)
			return judgeTenantKinds(ea, tenantOverloaded(newSim(l), spec.Read, true))
		}, Skipped, "nothing to count apart"},
		{"a transport error fails", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, true)
			r.Shots[3].Err, r.Shots[3].Status = "connection reset", 0
			return judgeOverloaded(r)
		}, Failed, "requests of the burst failed"},
		{"no answer is INCONCLUSIVE", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, true)
			r.Shots[3].Err, r.Shots[3].Unreachable, r.Shots[3].Status = "dial tcp: refused", true, 0
			return judgeOverloaded(r)
		}, Undecided, "got no answer"},
		{"an answer breaking the description fails", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, true)
			r.Shots[3].Violation = "body: missing factors"
			return judgeOverloaded(r)
		}, Failed, "break the API description"},
		{"a 500 fails", func() Verdict {
			r := tenantOverloaded(newSim(l), spec.Read, true)
			r.Shots[60].Status = http.StatusInternalServerError
			return judgeOverloaded(r)
		}, Failed, "a valid request of its user answers 2xx or 429"},
		{"retry-after: the wait", func() Verdict {
			v, wait := judgeRetryWait(tenantOverloaded(newSim(l), spec.Read, true))
			if wait != 1 {
				v.Outcome, v.Message = Failed, "wait "+strconv.FormatFloat(wait, 'f', -1, 64)
			}
			return v
		}, Passed, ""},
		{"retry-after: none to honour", func() Verdict {
			m := newSim(l)
			m.noRetryAfter = true
			v, _ := judgeRetryWait(tenantOverloaded(m, spec.Read, true))
			return v
		}, Skipped, "no 429 with a retry-after"},
		{"retry-after: still refused after it", func() Verdict {
			return orPassed("MA-RL-006", judgeRecovered(spec.Read, 0, 1, Answer{Method: "GET", URL: "u", Status: 429, Body: "slow down"}))
		}, Failed, "after waiting the 1 s retry-after"},
		{"retry-after: served after it", func() Verdict {
			return orPassed("MA-RL-006", judgeRecovered(spec.Read, 0, 1, Answer{Method: "GET", URL: "u", Status: 200}))
		}, Passed, ""},
		{"user: refused beyond its bucket", func() Verdict { return judgeUserLimit(l, userOverrun(newSim(l), spec.Write)) }, Passed, ""},
		{"user: no per-user limit", func() Verdict {
			m := newSim(l)
			m.l.User = spec.Level{}
			return judgeUserLimit(l, userOverrun(m, spec.Write))
		}, Failed, "the per-user limit is missing"},
		{"user: another user served", func() Verdict { return judgeOtherUser(userOverrun(newSim(l), spec.Read)) }, Passed, ""},
		{"user: another user refused", func() Verdict {
			r := userOverrun(newSim(l), spec.Read)
			for _, s := range r.role(roleOther) {
				s.Status = http.StatusTooManyRequests
			}
			return judgeOtherUser(r)
		}, Failed, "the per-user limit is shared between users"},
		{"user: never emptied", func() Verdict {
			m := newSim(l)
			m.l.User = spec.Level{}
			return judgeOtherUser(userOverrun(m, spec.Read))
		}, Skipped, "never found empty"},
		{"user: other kinds served", func() Verdict { return judgeUserKinds(l, userOverrun(newSim(l), spec.FilteredRead)) }, Passed, ""},
		{"user: other kinds refused", func() Verdict {
			r := userOverrun(newSim(l), spec.FilteredRead)
			for _, s := range r.role(roleProbe) {
				s.Status = http.StatusTooManyRequests
			}
			return judgeUserKinds(l, r)
		}, Failed, "the user's buckets are not kept apart"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := c.judge()
			if v.Outcome != c.want || !strings.Contains(v.Message, c.has) {
				t.Fatalf("got %s %q, want %s with %q", v.Outcome, v.Message, c.want, c.has)
			}
			if v.Outcome == Failed && len(v.Findings) == 0 {
				t.Fatalf("a failure without findings: %q", v.Message)
			}
		})
	}
}

func TestOracleHeaders(t *testing.T) {
	l := enterprise
	runs := func(m *sim) []*Run {
		return []*Run{tenantAtLimit(m, spec.Read), tenantOverloaded(m, spec.Read, true), userOverrun(m, spec.Read)}
	}
	cases := []struct {
		name  string
		fault func(*sim, []*Run) // called with the limiter before the bursts (nil runs), then with the runs
		judge func([]*Run) Verdict
		want  Outcome
		has   string
	}{
		{"headers present", nil, func(rs []*Run) Verdict { return judgeHeadersPresent(spec.Read, rs, nil) }, Passed, ""},
		{"headers missing", func(m *sim, _ []*Run) { m.noHeaders = true }, func(rs []*Run) Verdict { return judgeHeadersPresent(spec.Read, rs, nil) }, Failed, "x-ratelimit-limit is missing"},
		{"retry-after present", nil, func(rs []*Run) Verdict { return judgeRetryAfter(spec.Read, rs, nil) }, Passed, ""},
		{"retry-after missing", func(m *sim, _ []*Run) { m.noRetryAfter = true }, func(rs []*Run) Verdict { return judgeRetryAfter(spec.Read, rs, nil) }, Failed, "without retry-after"},
		{"no 429 at all", func(m *sim, _ []*Run) { m.noLimit = true }, func(rs []*Run) Verdict { return judgeRetryAfter(spec.Read, rs, nil) }, Skipped, "drew no 429"},
		{"no burst sent", nil, func([]*Run) Verdict { return judgeRetryAfter(spec.Read, nil, []string{"none"}) }, Skipped, "no burst of reads can be sent: none"},
		{"remaining right", nil, func(rs []*Run) Verdict { return judgeRemaining(l, spec.Read, rs, nil) }, Passed, ""},
		{"remaining above the limit", func(m *sim, _ []*Run) { m.remainingPlus = 10 }, func(rs []*Run) Verdict { return judgeRemaining(l, spec.Read, rs, nil) }, Failed, "exceeds x-ratelimit-limit"},
		{"remaining not 0 on a 429", func(_ *sim, rs []*Run) {
			for _, r := range rs {
				for _, s := range r.shots(is429) {
					s.Header.Set("X-RateLimit-Remaining", "1")
				}
			}
		}, func(rs []*Run) Verdict { return judgeRemaining(l, spec.Read, rs, nil) }, Failed, "x-ratelimit-remaining is 1 on a 429"},
		{"remaining frozen", func(_ *sim, rs []*Run) {
			for _, r := range rs {
				for i := range r.Shots {
					if r.Shots[i].Header.Get("X-RateLimit-Limit") == "25" {
						r.Shots[i].Header.Set("X-RateLimit-Remaining", "0")
						if r.Shots[i].ok() {
							r.Shots[i].Header.Set("X-RateLimit-Remaining", "20")
						}
					}
				}
			}
		}, func(rs []*Run) Verdict { return judgeRemaining(l, spec.Read, rs, nil) }, Failed, "did not fall"},
		{"fit", nil, func(rs []*Run) Verdict { return judgeFit(l, spec.Read, rs, nil) }, Passed, ""},
		{"a limit of no bucket", func(_ *sim, rs []*Run) {
			if rs != nil {
				rs[0].Shots[0].Header.Set("X-RateLimit-Limit", "7")
			}
		},
			func(rs []*Run) Verdict { return judgeFit(l, spec.Read, rs, nil) }, Failed, "is the size of no bucket"},
		{"a reset far off", func(_ *sim, rs []*Run) {
			if rs != nil {
				rs[0].Shots[0].Header.Set("X-RateLimit-Reset", "1")
			}
		},
			func(rs []*Run) Verdict { return judgeFit(l, spec.Read, rs, nil) }, Failed, "x-ratelimit-reset 1 is not within"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newSim(l)
			if c.fault != nil {
				c.fault(m, nil)
			}
			rs := runs(m)
			if c.fault != nil {
				c.fault(m, rs)
			}
			v := c.judge(rs)
			if v.Outcome != c.want || !strings.Contains(v.Message, c.has) {
				t.Fatalf("got %s %q, want %s with %q", v.Outcome, v.Message, c.want, c.has)
			}
		})
	}
}

func TestOracleOperations(t *testing.T) {
	probe := func(status int, h http.Header) Shot {
		return Shot{Kind: spec.Read, Method: "GET", Path: "/me/v1/factors", Status: status, Header: h, Body: "{}"}
	}
	limited := http.Header{"Retry-After": {"12"}}
	b := enterprise.User.Read
	cases := []struct {
		name   string
		drains []Drain
		want   Outcome
		has    string
	}{
		{"every probe refused", []Drain{{Kind: spec.Read, Bucket: b, Sent: 6, Refused: 1, Probes: []Shot{probe(429, limited)}}}, Passed, ""},
		{"the bucket never emptied", []Drain{{Kind: spec.Read, Bucket: b, Sent: 6, Span: time.Second}}, Failed, "drew no 429, although the user's bucket"},
		{"a probe served", []Drain{{Kind: spec.Read, Bucket: b, Sent: 6, Refused: 1, Probes: []Shot{probe(200, nil)}}}, Failed, "GET /me/v1/factors, 200: answered while"},
		{"a 429 without retry-after", []Drain{{Kind: spec.Read, Bucket: b, Sent: 6, Refused: 1, Probes: []Shot{probe(429, http.Header{})}}}, Failed, "a 429 without retry-after (missing)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := judgeOperations(c.drains)
			if v.Outcome != c.want || !strings.Contains(v.Message, c.has) {
				t.Fatalf("got %s %q, want %s with %q", v.Outcome, v.Message, c.want, c.has)
			}
		})
	}
}

func TestOracleDomains(t *testing.T) {
	l := enterprise
	m := newSim(l)
	tb, _ := tenantBucket(l, spec.Read)
	n, _ := tb.BurstSize(overload, burstFor, maxShots)
	r := burstRun(m, domainsKey(spec.Read), "tenant", spec.Read, tb, overload*tb.Rate,
		planned{k: spec.Read, n: n, perUser: 5, rate: overload * tb.Rate, role: roleMain, who: "a user", at: "auth0|d"})
	for i := range r.Shots {
		if i%4 == 0 {
			r.Shots[i].Who, r.Shots[i].Host = whoLogin, "canonical.example"
		}
	}
	if v := judgeDomains(r, nil); v.Outcome != Passed {
		t.Fatalf("one bucket: %s %q", v.Outcome, v.Message)
	}
	m = newSim(l)
	m.noLimit = true
	free := burstRun(m, domainsKey(spec.Read), "tenant", spec.Read, tb, overload*tb.Rate,
		planned{k: spec.Read, n: n, perUser: 5, rate: overload * tb.Rate, role: roleMain, who: "a user", at: "auth0|d"})
	for i := range free.Shots {
		if i%4 == 0 {
			free.Shots[i].Who, free.Shots[i].Host = whoLogin, "canonical.example"
		}
	}
	v := judgeDomains(free, tenantOverloaded(newSim(l), spec.Read, false))
	if v.Outcome != Failed || !strings.Contains(v.Message, "The custom domain alone was held to it (MA-RL-002)") ||
		!strings.Contains(v.Message, " reads on login.example and ") {
		t.Fatalf("per domain: %s %q", v.Outcome, v.Message)
	}
}
