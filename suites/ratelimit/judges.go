package ratelimit

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
)

// The oracle's judgement of each spec, one function per spec (it text in specs.go).

// judgeAtLimit: a burst at the tenant's limit, spread over users, draws no 429
// (MA-RL-001).
func judgeAtLimit(l spec.Limits, r *Run) Verdict {
	const req = "MA-RL-001"
	if v := checkAnswers(req, r); v != nil {
		return *v
	}
	res := r.result()
	if err := res.RequireRate(minAtLimit); err != nil {
		return *undecided(req, err.Error())
	}
	main := r.mainShots()
	if _, first := r.Bucket.Ideal(times(main, true)); first >= 0 {
		return *undecided(req, fmt.Sprintf("the runner's sends bunched up: request #%d left when even an ideal %s would have been empty. %s", first, r.Bucket, res.Summary()))
	}
	if v := checkStatuses(req, r); v != nil {
		return *v
	}
	refused := count(main, is429)
	if refused == 0 {
		return passed(req)
	}
	name := kindName(r.Kind)
	var first *Shot
	for _, s := range main {
		if s.is429() && (first == nil || s.Received < first.Received) {
			first = s
		}
	}
	kind := first.Header.Get("X-Auth0-Error-Kind")
	why := ""
	if kind != "global-rate-limit" {
		why = fmt.Sprintf(" No x-auth0-error-kind: global-rate-limit, so a user's limit may have refused, although no user sent more %s than its own bucket holds (some had sent requests of other kinds before, which %s counts apart).", name, planName(l))
	}
	if kind == "" {
		kind = "none"
	}
	if len(r.Alongside) > 0 {
		why += fmt.Sprintf(" The at-limit bursts of %s ran at the same time, each at its own limit, which %s counts apart: a tenant that counts them in one bucket refuses here (see MA-RL-013).", strings.Join(r.Alongside, " and "), planName(l))
	}
	return *failure(req, fmt.Sprintf("%d of %d %s sent at the tenant's limit, %s, over %d users (none sending more than its own bucket holds), were refused with 429; the first at %.3f s, after %d × 2xx (x-auth0-error-kind: %s).%s\n%s",
		refused, len(main), name, r.Bucket, usersOf(r.shots(func(*Shot) bool { return true })), first.Received.Seconds(),
		count(main, func(s *Shot) bool { return s.ok() && s.Received < first.Received }), kind, why, res.Summary()), r.ref(first))
}

// judgeOverloaded: a burst at 4× the tenant's limit, spread over users, is held to
// B + R·t (MA-RL-002).
func judgeOverloaded(r *Run) Verdict {
	const req = "MA-RL-002"
	return orPassed(req, checkLimited(req, r, fmt.Sprintf("%s of %d users, none beyond its own bucket", kindName(r.Kind), r.mainUsers()),
		"The tenant lets more through than its configured limit: check rate_limit in the target config, or the limiter."))
}

// judgeManyUsers: many users together are held to the one tenant bucket (MA-RL-007).
func judgeManyUsers(r *Run) Verdict {
	const req = "MA-RL-007"
	users := r.mainUsers()
	if users < 2 {
		return *skipped(req, "the burst had one user")
	}
	return orPassed(req, checkLimited(req, r, fmt.Sprintf("%d users together, none beyond its own bucket", users),
		"Users together got more than the tenant's limit: the limit is kept per user (or per token), not per tenant."))
}

// sharedTenant skips the tenant's kinds-apart spec where the tenant has one bucket.
func sharedTenant(l spec.Limits) *Verdict {
	if l.Tenant.Shared {
		return skipped("MA-RL-013", planName(l)+" has one tenant bucket for every request: there is nothing to count apart")
	}
	return nil
}

// judgeTenantKinds: the probes of the other kinds, sent right after a burst that
// emptied the tenant's bucket of this kind, are served (MA-RL-013).
func judgeTenantKinds(l spec.Limits, r *Run) Verdict {
	const req = "MA-RL-013"
	if v := firstOf(func() *Verdict { return sharedTenant(l) }, func() *Verdict { return checkAnswers(req, r) },
		func() *Verdict { return checkStatuses(req, r) }); v != nil {
		return *v
	}
	name := kindName(r.Kind)
	main := r.mainShots()
	probes := r.role(roleProbe)
	if len(probes) == 0 {
		return *skipped(req, fmt.Sprintf("%s counts no other kind in a tenant bucket of its own", planName(l)))
	}
	// Had the probes been counted with the burst in one bucket (this kind's or
	// theirs), fed the burst it would have refused one of them: else they
	// cannot tell shared buckets from apart ones.
	first, span := slices.Min(times(probes, true)), slices.Max(times(probes, true))-slices.Min(times(probes, true))
	for _, o := range apart(l.Tenant, r.Kind) {
		of := count(probes, func(s *Shot) bool { return s.Kind == o })
		ob, _ := tenantBucket(l, o)
		room := math.Inf(1)
		for _, b := range []burst.Bucket{r.Bucket, ob} {
			room = math.Min(room, b.TokensAt(times(main, true), first)+b.Rate*span.Seconds()+b.Tol)
		}
		if room >= float64(of) {
			return *undecided(req, fmt.Sprintf("the %d %s probes left %s after the burst, when either bucket, fed the burst, could still have held %.1f of them (with tolerance): they cannot show whether the buckets are apart. %s",
				of, kindName(o), (first-slices.Max(times(main, true))).Round(time.Millisecond), room, r.summary()))
		}
	}
	f := findings{req: req}
	for _, s := range probes {
		if !s.ok() {
			f.add(r, s, "refused while only the tenant's %s bucket was empty (%d of %d %s refused at the end of the burst)", name,
				count(main[max(0, len(main)-10):], is429), min(10, len(main)), name)
		}
	}
	return orPassed(req, f.verdict(fmt.Sprintf("other kinds refused while the tenant's %s bucket was empty: the tenant counts them in the same bucket as %s", name, name)))
}

// judgeRetryWait is the first part of the retry-after spec (MA-RL-006): the burst
// above the limit drew 429s whose retry-after the spec can wait out, the longest of
// which is wait (seconds). A passed verdict lets the spec wait and send again.
func judgeRetryWait(r *Run) (Verdict, float64) {
	const req = "MA-RL-006"
	if v := firstOf(func() *Verdict { return checkAnswers(req, r) }, func() *Verdict { return checkOverload(req, r) }); v != nil {
		return *v, 0
	}
	wait := -1.0
	for _, s := range r.mainShots() {
		if s.is429() {
			if ra := headersOf(s).RetryAfter; !math.IsNaN(ra) {
				wait = math.Max(wait, ra)
			}
		}
	}
	if wait < 0 {
		return *skipped(req, "the burst drew no 429 with a retry-after to honour (MA-RL-002, MA-RL-004)"), wait
	}
	if wait > maxWait.Seconds() {
		return *failure(req, fmt.Sprintf("retry-after asks for %.0f s; %s refills completely in %s", wait, r.Bucket, r.Bucket.RefillTime())), wait
	}
	return passed(req), wait
}

// judgeRecovered judges request i (of recoverHits) of kind k sent after waiting
// the retry-after: an answer that breaks the description other than in its
// rate-limit headers fails, one the target did not give is INCONCLUSIVE, and it
// must be a 2xx (MA-RL-006).
func judgeRecovered(k spec.Kind, i int, wait float64, a Answer) *Verdict {
	const req = "MA-RL-006"
	switch {
	case a.Unreachable:
		return undecided(req, a.Err)
	case a.Err != "":
		return failure(req, "request failed: "+a.Err)
	case a.RequestViolation != "":
		return failure(req, "suite bug: the suite's own request breaks the API description: "+a.RequestViolation)
	case a.Violation != "":
		return failure(req, fmt.Sprintf("%s %s answered %d, which breaks the API description:\n%s", a.Method, a.URL, a.Status, a.Violation))
	case a.Status < 200 || a.Status > 299:
		return failure(req, fmt.Sprintf("%s, request %d of %d after waiting the %.0f s retry-after asked for (one token interval apart, each after the previous answer), answered %d:\n%s",
			answerOperation(k, a), i+1, recoverHits, wait, a.Status, a.Body))
	}
	return nil
}

// answerOperation names what a was the answer to: what a burst of kind k sends; for
// a read, which has no query or body, the path as recorded (runs recorded before the
// reads listed the methods read GET /factors).
func answerOperation(k spec.Kind, a Answer) string {
	if u, err := url.Parse(a.URL); err == nil && k == spec.Read && a.Method != "" && u.Path != "" {
		return a.Method + " " + u.Path
	}
	return kindOperation(k)
}

// judgeRecovery is the retry-after spec on a recorded history: the wait, then the
// answers after it.
func judgeRecovery(r *Run, rec *Recovery) Verdict {
	v, wait := judgeRetryWait(r)
	if v.Outcome != Passed || rec == nil {
		return v
	}
	for i, a := range rec.Answers {
		if v := judgeRecovered(rec.Kind, i, wait, a); v != nil {
			return *v
		}
	}
	return v
}

// judgeUserLimit: one user beyond its bucket is refused with 429 and held to
// B + R·t while the tenant has room (MA-RL-011).
func judgeUserLimit(l spec.Limits, r *Run) Verdict {
	const req = "MA-RL-011"
	if v := firstOf(func() *Verdict { return checkAnswers(req, r) }, func() *Verdict { return checkStatuses(req, r) }); v != nil {
		return *v
	}
	name := kindName(r.Kind)
	main := r.mainShots()
	ub := r.Bucket
	if refused, _ := ub.Ideal(times(main, true)); float64(refused) < 1+ub.Tol {
		return *undecided(req, fmt.Sprintf("the runner sent user A's %d %s so slowly that an ideal %s refuses only %d of them. %s", len(main), name, ub, refused, r.summary()))
	}
	if tb := burst.NewBucket(l.Tenant.Bucket(r.Kind)); tb.Rate > 0 {
		if _, first := tb.Ideal(times(r.tenantDraws(l.Tenant, r.Kind), true)); first >= 0 {
			return *undecided(req, fmt.Sprintf("the runner's sends bunched up so that the tenant's %s could have refused request #%d: a 429 would not show the user's limit. %s", tb, first, r.summary()))
		}
	}
	if e := ub.FirstExcess(times(main, false)); e != nil {
		return *failure(req, fmt.Sprintf("user A got %d %s through within %.3f s, where its own bucket, %s, lets at most %.1f through (B + R·t + tolerance %.0f): the per-user limit is missing or larger than configured. %s",
			e.Count, name, e.At.Seconds(), ub, e.Allowed, ub.Tol, r.summary()))
	}
	if count(main, is429) == 0 {
		return *failure(req, fmt.Sprintf("none of user A's %d %s was refused with 429, although they overran its own bucket, %s: the per-user limit is missing. %s", len(main), name, ub, r.summary()))
	}
	return passed(req)
}

// judgeOtherUser: another user is served while one user's bucket is empty (MA-RL-012).
func judgeOtherUser(r *Run) Verdict {
	const req = "MA-RL-012"
	if v := firstOf(func() *Verdict { return checkAnswers(req, r) }, func() *Verdict { return checkStatuses(req, r) }); v != nil {
		return *v
	}
	if count(r.mainShots(), is429) == 0 {
		return *skipped(req, "user A's bucket was never found empty (MA-RL-011 fails), so another user's requests show nothing")
	}
	name := kindName(r.Kind)
	f := findings{req: req}
	for _, s := range r.role(roleOther) {
		if !s.ok() {
			f.add(r, s, "refused while user A's %s bucket was empty and the tenant's had room", name)
		}
	}
	return orPassed(req, f.verdict(fmt.Sprintf("another user's %s refused while one user's bucket was empty: the per-user limit is shared between users", name)))
}

// judgeUserKinds: a user's other kinds are served while its bucket of this kind is
// empty (MA-RL-013).
func judgeUserKinds(l spec.Limits, r *Run) Verdict {
	const req = "MA-RL-013"
	if v := firstOf(func() *Verdict { return checkAnswers(req, r) }, func() *Verdict { return checkStatuses(req, r) }); v != nil {
		return *v
	}
	probes := r.role(roleProbe)
	if len(probes) == 0 {
		return *skipped(req, fmt.Sprintf("%s counts no other kind in a user bucket of its own", planName(l)))
	}
	if count(r.mainShots(), is429) == 0 {
		return *skipped(req, "user A's bucket was never found empty (MA-RL-011 fails), so its other requests show nothing")
	}
	name := kindName(r.Kind)
	f := findings{req: req}
	for _, s := range probes {
		if !s.ok() {
			f.add(r, s, "refused while only user A's %s bucket was empty", name)
		}
	}
	return orPassed(req, f.verdict(fmt.Sprintf("user A's other kinds refused while only its %s bucket was empty: the user's buckets are not kept apart", name)))
}

// judgeDomains: a burst split between the custom and the canonical domain is held
// to the one tenant bucket (MA-RL-008); over is the custom domain's burst above the
// limit of the same kind, if one was sent, for the hint.
func judgeDomains(r, over *Run) Verdict {
	const req = "MA-RL-008"
	hint := "The two domains together got more than the tenant's limit: the limit is kept per domain, not per tenant."
	if over != nil && count(over.mainShots(), is429) > 0 && over.Bucket.FirstExcess(times(over.mainShots(), false)) == nil {
		hint += " The custom domain alone was held to it (MA-RL-002)."
	}
	hosts := map[string]int{}
	var custom, canonical string
	for _, s := range r.mainShots() {
		hosts[s.Host]++
		if s.Who == whoLogin {
			canonical = s.Host
		} else {
			custom = s.Host
		}
	}
	return orPassed(req, checkLimited(req, r, fmt.Sprintf("%d %s on %s and %d on %s", hosts[custom], kindName(r.Kind), custom, hosts[canonical], canonical), hint))
}
