package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
)

// The oracle: pure functions from recorded bursts (Run, Recovery, Drain) and the
// limit model (spec.Limits, burst.Bucket) to a Verdict per spec — passed, failed
// with its findings, INCONCLUSIVE (the runner could not send as asked, the target
// did not answer) or skipped (nothing to show). Nothing here calls Ginkgo, Gomega,
// the framework or the network: the specs (specs.go) send the bursts and turn a
// verdict into Fail, framework.Undecided or Skip; the offline tests judge recorded
// histories (testdata/) with Judge.

// Outcome is how a spec ends.
type Outcome string

const (
	Passed    Outcome = "passed"
	Failed    Outcome = "failed"
	Undecided Outcome = "inconclusive"
	Skipped   Outcome = "skipped"
)

// ShotRef names a shot: the key of its run (or of its drain) and its index there.
type ShotRef struct {
	Run   string
	Index int
}

// Finding is one thing wrong: the requirement, the shots concerned and what.
type Finding struct {
	Req     string
	Shots   []ShotRef
	Message string
}

// Verdict is the judgement of one spec.
type Verdict struct {
	Spec    string    // the spec's text (set by Judge)
	Kind    spec.Kind // the kind its Context is about ("" for none; set by Judge)
	Req     string
	Outcome Outcome
	Message string // the failure, INCONCLUSIVE or skip message
	// Evidence are the shots whose exchanges go with a failure into the report.
	Evidence []ShotRef
	Findings []Finding
	Notes    []string // report entries (verdict.Burst), whatever the outcome
}

func passed(req string) Verdict { return Verdict{Req: req, Outcome: Passed} }

func failure(req, msg string, evidence ...ShotRef) *Verdict {
	return &Verdict{Req: req, Outcome: Failed, Message: msg, Evidence: evidence, Findings: []Finding{{Req: req, Shots: evidence, Message: msg}}}
}

func undecided(req, msg string) *Verdict { return &Verdict{Req: req, Outcome: Undecided, Message: msg} }

func skipped(req, msg string) *Verdict { return &Verdict{Req: req, Outcome: Skipped, Message: msg} }

// orPassed is v, or a pass of req when v is nil.
func orPassed(req string, v *Verdict) Verdict {
	if v == nil {
		return passed(req)
	}
	return *v
}

// findings collects what is wrong with a burst's answers, each with the shot it is
// about; its verdict fails with the first few.
type findings struct {
	req  string
	list []Finding
}

func (f *findings) add(r *Run, s *Shot, format string, a ...any) {
	f.list = append(f.list, Finding{Req: f.req, Shots: []ShotRef{r.ref(s)}, Message: fmt.Sprintf("%s, request #%d (%s of %s, %d, answered at %.3f s): ", r.Name, s.Index, kindName(s.Kind), s.Who, s.Status, s.Received.Seconds()) + fmt.Sprintf(format, a...)})
}

// addProbe notes what is wrong with a probe of the every-operation spec (no run to
// name it by: its operation does).
func (f *findings) addProbe(ref ShotRef, s *Shot, format string, a ...any) {
	f.list = append(f.list, Finding{Req: f.req, Shots: []ShotRef{ref}, Message: fmt.Sprintf("%s %s, %d: ", s.Method, s.Path, s.Status) + fmt.Sprintf(format, a...)})
}

// verdict fails with what and the first findings, or is nil when there are none.
func (f *findings) verdict(what string) *Verdict {
	if len(f.list) == 0 {
		return nil
	}
	var evidence []ShotRef
	for _, x := range f.list[:min(3, len(f.list))] {
		evidence = append(evidence, x.Shots...)
	}
	lines := make([]string, 0, 8)
	for _, x := range f.list[:min(8, len(f.list))] {
		lines = append(lines, x.Message)
	}
	more := ""
	if len(f.list) > len(lines) {
		more = fmt.Sprintf("\n… and %d more", len(f.list)-len(lines))
	}
	return &Verdict{Req: f.req, Outcome: Failed, Message: fmt.Sprintf("%s (%d findings):\n%s%s", what, len(f.list), strings.Join(lines, "\n"), more),
		Evidence: evidence, Findings: f.list}
}

// The recorded bursts, read.

func (s *Shot) ok() bool           { return s.Err == "" && s.Status >= 200 && s.Status < 300 }
func (s *Shot) is429() bool        { return s.Err == "" && s.Status == http.StatusTooManyRequests }
func ok(s *Shot) bool              { return s.ok() }
func is429(s *Shot) bool           { return s.is429() }
func (r *Run) ref(s *Shot) ShotRef { return ShotRef{Run: r.Key, Index: s.Index} }

// shots selects the run's shots.
func (r *Run) shots(keep func(*Shot) bool) []*Shot {
	var out []*Shot
	for i := range r.Shots {
		if s := &r.Shots[i]; keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func (r *Run) role(role string) []*Shot {
	return r.shots(func(s *Shot) bool { return s.Role == role })
}

func (r *Run) mainShots() []*Shot { return r.role(roleMain) }

// mainUsers counts the users of the main requests.
func (r *Run) mainUsers() int { return usersOf(r.mainShots()) }

func usersOf(shots []*Shot) int {
	seen := map[string]bool{}
	for _, s := range shots {
		seen[s.Sub] = true
	}
	return len(seen)
}

// tenantDraws are the shots that drew on the tenant's bucket of kind k.
func (r *Run) tenantDraws(t spec.Level, k spec.Kind) []*Shot {
	return r.shots(func(s *Shot) bool { return bucketKind(t, s.Kind) == bucketKind(t, k) })
}

// result is the run as a burst.Result, for its figures and summary.
func (r *Run) result() *burst.Result {
	res := &burst.Result{Name: r.Name, Rate: r.Rate, Achieved: r.Achieved, Started: r.Started, Ended: r.Ended,
		JitterP50: r.JitterP50, JitterP99: r.JitterP99, JitterMax: r.JitterMax, LatencyP50: r.LatencyP50, LatencyP99: r.LatencyP99,
		Shots: make([]burst.Shot, len(r.Shots))}
	for i, s := range r.Shots {
		res.Shots[i] = burst.Shot{Index: s.Index, Sent: s.Sent, Received: s.Received, Status: s.Status, Header: s.Header}
		if s.Err != "" {
			res.Shots[i].Err = errors.New(s.Err)
		}
	}
	return res
}

func (r *Run) summary() string { return r.result().Summary() }

func count(shots []*Shot, keep func(*Shot) bool) int {
	n := 0
	for _, s := range shots {
		if keep(s) {
			n++
		}
	}
	return n
}

// times are the shots' send times (sent) or the answer times of their 2xx.
func times(shots []*Shot, sent bool) []time.Duration {
	out := make([]time.Duration, 0, len(shots))
	for _, s := range shots {
		switch {
		case sent:
			out = append(out, s.Sent)
		case s.ok():
			out = append(out, s.Received)
		}
	}
	return out
}

// The steps every judgement of a burst takes.

// checkAnswers fails (or, when the target could not be reached, is INCONCLUSIVE)
// on transport errors and on answers that break the API description other than in
// their rate-limit headers.
func checkAnswers(req string, r *Run) *Verdict {
	var failed, unreachable, violations []*Shot
	for i := range r.Shots {
		s := &r.Shots[i]
		switch {
		case s.Unreachable:
			unreachable = append(unreachable, s)
		case s.Err != "":
			failed = append(failed, s)
		case s.Violation != "":
			violations = append(violations, s)
		}
	}
	n := len(r.Shots)
	switch {
	case len(failed) > 0:
		return failure(req, fmt.Sprintf("%d of %d requests of the burst failed; the first: %v", len(failed), n, failed[0].Err), r.ref(failed[0]))
	case len(unreachable) > 0:
		return undecided(req, fmt.Sprintf("%d of %d requests of the burst got no answer; the first: %v", len(unreachable), n, unreachable[0].Err))
	case len(violations) > 0:
		var evidence []ShotRef
		for _, s := range violations[:min(3, len(violations))] {
			evidence = append(evidence, r.ref(s))
		}
		s := violations[0]
		return failure(req, fmt.Sprintf("%d of %d answers of the burst break the API description; request #%d answered %d:\n%v",
			len(violations), n, s.Index, s.Status, s.Violation), evidence...)
	}
	return nil
}

// checkStatuses fails when a request of the run answered other than 2xx or 429:
// each is a valid request of its user.
func checkStatuses(req string, r *Run) *Verdict {
	for i := range r.Shots {
		if s := &r.Shots[i]; !s.ok() && !s.is429() {
			return failure(req, fmt.Sprintf("request #%d (%s, %s) answered %d; a valid request of its user answers 2xx or 429", s.Index, kindOperation(s.Kind), s.Who, s.Status), r.ref(s))
		}
	}
	return nil
}

// checkOverload is INCONCLUSIVE unless the runner really sent the tenant's burst
// above the limit: at least half its requested rate, and so many requests so fast
// that even an ideal bucket, fed them as they left, refuses a clear number. A slow
// or stalled runner must not make a limit look right or wrong.
func checkOverload(req string, r *Run) *Verdict {
	res := r.result()
	if err := res.RequireRate(minOverload); err != nil {
		return undecided(req, err.Error())
	}
	main := r.mainShots()
	refused, _ := r.Bucket.Ideal(times(main, true))
	if need := r.Bucket.OverloadMargin(len(main)); refused < need {
		return undecided(req, fmt.Sprintf("the runner could not send a burst that overloads the bucket: fed the requests as they left, an ideal %s refuses only %d, fewer than the %d needed to decide. %s",
			r.Bucket, refused, need, res.Summary()))
	}
	return nil
}

// checkLimited holds the main requests of a tenant's burst to the bucket: 429s
// appear, and never more 2xx than B + R·t (+ tolerance) in the first t seconds.
func checkLimited(req string, r *Run, what, hint string) *Verdict {
	for _, step := range []func(string, *Run) *Verdict{checkAnswers, checkOverload, checkStatuses} {
		if v := step(req, r); v != nil {
			return v
		}
	}
	main := r.mainShots()
	b := r.Bucket
	res := r.result()
	if e := b.FirstExcess(times(main, false)); e != nil {
		span := res.Span()
		return failure(req, fmt.Sprintf("%s: %d requests succeeded within %.3f s of the burst's start, where %s lets at most %.1f through (B + R·t + tolerance %.0f); over the whole burst %d succeeded in %.3f s where at most %.1f may. %s\n%s",
			what, e.Count, e.At.Seconds(), b, e.Allowed, b.Tol, count(main, ok), span.Seconds(), b.Allowed(span), hint, res.Summary()))
	}
	if count(main, is429) == 0 {
		return failure(req, fmt.Sprintf("%s: no request was refused with 429, although the burst asked for %.4g/s against %s. %s\n%s",
			what, res.Rate, b, hint, res.Summary()))
	}
	return nil
}

// checkRuns are the steps before judging the headers of kind k's bursts: each
// answered, and at least one sent (whys say why each missing one could not be).
func checkRuns(req string, k spec.Kind, runs []*Run, whys []string) *Verdict {
	for _, r := range runs {
		if v := checkAnswers(req, r); v != nil {
			return v
		}
	}
	if len(runs) == 0 {
		return skipped(req, "no burst of "+kindName(k)+" can be sent: "+strings.Join(whys, "; "))
	}
	return nil
}

func firstOf(steps ...func() *Verdict) *Verdict {
	for _, s := range steps {
		if v := s(); v != nil {
			return v
		}
	}
	return nil
}

// drainRef names probe i of drain d.
func drainRef(d, i int) ShotRef { return ShotRef{Run: fmt.Sprintf("drain %d", d), Index: i} }

// judgeEmptied: the burst meant to empty a user's bucket drew a 429 (else the
// every-operation spec fails at once, MA-RL-014, citing MA-RL-011).
func judgeEmptied(d Drain) *Verdict {
	if d.Refused > 0 {
		return nil
	}
	b := d.Bucket
	return failure("MA-RL-014", fmt.Sprintf("%d %s of one user within %s drew no 429, although the user's bucket (%s) holds %d (MA-RL-011)",
		b.Burst+1, kindName(d.Kind), d.Span.Round(time.Millisecond), b, b.Burst))
}

// judgeOperations: once a user's bucket of a kind is empty, every operation of that
// kind is refused with 429 and retry-after, as the description documents
// (MA-RL-014).
func judgeOperations(drains []Drain) Verdict {
	const req = "MA-RL-014"
	f := findings{req: req}
	for di, d := range drains {
		if v := judgeEmptied(d); v != nil {
			return *v
		}
		for i := range d.Probes {
			s := &d.Probes[i]
			ref := drainRef(di, s.Index)
			switch {
			case s.Err != "":
				f.addProbe(ref, s, "the request failed: %v", s.Err)
			case s.Status != http.StatusTooManyRequests:
				f.addProbe(ref, s, "answered while the user's bucket of %s (%s) was empty: %.200s", kindName(d.Kind), d.Bucket, s.Body)
			case math.IsNaN(headersOf(s).RetryAfter): // seconds or an HTTP-date (RFC 9110 §10.2.3)
				f.addProbe(ref, s, "a 429 without retry-after (%s)", describeHeader(s.Header, "Retry-After"))
			case s.Violation != "":
				f.addProbe(ref, s, "the 429 breaks the API description: %v", s.Violation)
			}
		}
	}
	return orPassed(req, f.verdict("operations not refused with 429 (and retry-after) while the caller's bucket was empty"))
}

// Judge judges a recorded history as the specs judge what they send, spec by spec
// in the specs' order: for each kind the tenant's bursts at and above the limit,
// the retry-after, one user's burst and the headers of them all, then the
// cross-domain burst and the every-operation probes. A burst the history does not
// hold makes its specs skipped (with the reason recorded, if any).
func Judge(h *History) []Verdict {
	l := h.Limits
	var out []Verdict
	add := func(k spec.Kind, it string, v Verdict) {
		v.Spec, v.Kind = it, k
		out = append(out, v)
	}
	for _, k := range spec.Kinds {
		at, over, user := h.run(atLimitKey(k)), h.run(overloadedKey(k)), h.run(userRunKey(k))
		with := func(r *Run, key, req string, judge func(*Run) Verdict) Verdict {
			if r == nil {
				return *skipped(req, h.why(key))
			}
			return judge(r)
		}
		add(k, itAtLimit, with(at, atLimitKey(k), "MA-RL-001", func(r *Run) Verdict { return judgeAtLimit(l, r) }))
		add(k, itOverloaded, with(over, overloadedKey(k), "MA-RL-002", judgeOverloaded))
		if k == spec.Read {
			add(k, itManyUsers, with(over, overloadedKey(k), "MA-RL-007", judgeManyUsers))
		}
		if v := sharedTenant(l); v != nil {
			add(k, itTenantKinds, *v)
		} else {
			add(k, itTenantKinds, with(over, overloadedKey(k), "MA-RL-013", func(r *Run) Verdict { return judgeTenantKinds(l, r) }))
		}
		add(k, itRetryAfterHonoured, with(over, overloadedKey(k), "MA-RL-006", func(r *Run) Verdict { return judgeRecovery(r, h.recovery(k)) }))
		add(k, itUserLimit, with(user, userRunKey(k), "MA-RL-011", func(r *Run) Verdict { return judgeUserLimit(l, r) }))
		add(k, itOtherUser, with(user, userRunKey(k), "MA-RL-012", judgeOtherUser))
		add(k, itUserKinds, with(user, userRunKey(k), "MA-RL-013", func(r *Run) Verdict { return judgeUserKinds(l, r) }))
		var runs []*Run
		var whys []string
		for _, key := range []string{atLimitKey(k), overloadedKey(k), userRunKey(k)} {
			if r := h.run(key); r != nil {
				runs = append(runs, r)
			} else {
				whys = append(whys, h.why(key))
			}
		}
		add(k, itHeaders, judgeHeadersPresent(k, runs, whys))
		add(k, itRetryAfter, judgeRetryAfter(k, runs, whys))
		add(k, itRemaining, judgeRemaining(l, k, runs, whys))
		add(k, itFit, judgeFit(l, k, runs, whys))
	}
	for _, k := range spec.Kinds {
		if r := h.run(domainsKey(k)); r != nil {
			add(k, itDomains, judgeDomains(r, h.run(overloadedKey(k))))
		}
	}
	if len(h.Drains) > 0 {
		add("", itEveryOperation, judgeOperations(h.Drains))
	}
	return out
}

// run is the history's burst of that key, nil when it holds none.
func (h *History) run(key string) *Run {
	for i := range h.Runs {
		if h.Runs[i].Key == key {
			return &h.Runs[i]
		}
	}
	return nil
}

// why is the reason the history gives for holding no burst of that key.
func (h *History) why(key string) string {
	if w, ok := h.Skips[key]; ok {
		return w
	}
	return "the history holds no burst " + key
}

func (h *History) recovery(k spec.Kind) *Recovery {
	for i := range h.Recoveries {
		if h.Recoveries[i].Kind == k {
			return &h.Recoveries[i]
		}
	}
	return nil
}
