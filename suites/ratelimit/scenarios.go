package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// The bursts the specs judge, each sent once: at the tenant's limit, above it, one
// user beyond its bucket, split across domains.

// atLimit is a burst of kind k at the tenant's rate for atLimitFor, spread over
// users; the first call sends every kind's (atLimitAll).
func (t *traffic) atLimit(ctx context.Context, k spec.Kind) (*run, string) {
	GinkgoHelper()
	key := atLimitKey(k)
	if t.slots[key] == nil {
		t.atLimitAll(ctx)
	} else if r := t.slots[key].r; r != nil {
		AddReportEntry(verdict.Burst, "(a burst of an earlier spec) "+r.res.Summary(), ReportEntryVisibilityFailureOrVerbose)
	}
	s := t.slots[key]
	if s.fail != "" {
		framework.Undecided(s.fail)
	}
	return s.r, s.skip
}

// atLimitJob is one kind's at-limit burst of atLimitAll.
type atLimitJob struct {
	k    spec.Kind
	tb   burst.Bucket
	plan []shotInfo
	res  *burst.Result
	err  error
}

// atLimitAll sends the at-limit bursts of every kind at the same time: the plan
// counts each kind in a tenant bucket of its own, so each burst is held to its own
// limit while the others run, and together they take the time of one. (A tenant
// that counts the kinds in one bucket refuses some of them: the specs say so.)
func (t *traffic) atLimitAll(ctx context.Context) {
	GinkgoHelper()
	var (
		jobs  []*atLimitJob
		kinds []spec.Kind
	)
	host := framework.F.Target.CustomDomain
	for _, k := range spec.Kinds {
		s := &slot{fail: "the burst " + atLimitKey(k) + " could not be sent (see the spec that sent it first)"}
		t.slots[atLimitKey(k)] = s
		tb, why := tenantBucket(limitModel(), k)
		if why != "" {
			s.skip, s.fail = why, ""
			continue
		}
		n := min(maxShots, int(math.Ceil(tb.Rate*atLimitFor.Seconds())))
		jobs = append(jobs, &atLimitJob{k: k, tb: tb, plan: poolShots(t.draw(ctx, k, n), k, host, roleMain, "a user")})
		kinds = append(kinds, k)
	}
	t.waitRefill(ctx, kinds...)
	var longest time.Duration
	for _, j := range jobs {
		t.withTokens(ctx, j.plan, burstTime(j.plan, j.tb.Rate))
		longest = max(longest, nominal(planSpec("", j.tb.Rate, j.plan)))
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			j.res, j.err = burst.Send(ctx, framework.F.Client, planSpec("tenant "+kindName(j.k)+" at the limit", j.tb.Rate, j.plan))
		})
	}
	wg.Wait()
	framework.F.Client.Pacer.Hold(longest)
	for _, j := range jobs {
		t.drew(kindsOf(j.plan), time.Now())
	}
	for _, j := range jobs {
		t.finishAtLimit(j, jobs, host)
	}
}

// finishAtLimit finishes one kind's at-limit burst and leaves it for its specs.
func (t *traffic) finishAtLimit(j *atLimitJob, jobs []*atLimitJob, host string) {
	GinkgoHelper()
	var others []string
	for _, o := range jobs {
		if o != j {
			others = append(others, kindName(o.k))
		}
	}
	r := &run{key: atLimitKey(j.k), title: fmt.Sprintf("Tenant %s at the limit: %s at %.4g/s over %d users, %s", kindName(j.k), kindOperation(j.k), j.tb.Rate, usersIn(j.plan), host),
		level: "tenant", kind: j.k, bucket: j.tb, info: j.plan, series: seriesOf(j.plan, func(shotInfo) string { return kindName(j.k) }),
		alongside: others}
	r.res = reportBurst(j.res, j.err)
	main := r.rec().mainShots()
	notes := []string{fmt.Sprintf("%d × 2xx, %d × 429; at the limit none may be refused", count(main, ok), count(main, is429))}
	if len(others) > 0 {
		notes = append(notes, "Sent at the same time as the at-limit bursts of "+strings.Join(others, " and ")+", each at its own tenant limit.")
	}
	t.finish(r, notes...)
	t.slots[atLimitKey(j.k)].r, t.slots[atLimitKey(j.k)].fail = r, ""
}

// overloaded is a burst of kind k at overload× the tenant's rate, spread over users,
// followed at once by probes of the kinds the tenant counts apart.
func (t *traffic) overloaded(ctx context.Context, k spec.Kind) (*run, string) {
	GinkgoHelper()
	return t.get(ctx, overloadedKey(k), func(ctx context.Context) (*run, string) {
		l := limitModel()
		tb, why := tenantBucket(l, k)
		if why != "" {
			return nil, why
		}
		n, ok := tb.BurstSize(overload, burstFor, maxShots)
		if !ok {
			return nil, fmt.Sprintf("%s (the tenant's %s) cannot be emptied by a burst of at most %d requests at %.0f× its rate", tb, kindName(k), maxShots, overload)
		}
		host := framework.F.Target.CustomDomain
		plan := poolShots(t.draw(ctx, k, n), k, host, roleMain, "a user")
		var probes []shotInfo
		for _, o := range apart(l.Tenant, k) {
			ob, _ := tenantBucket(l, o)
			// More probes than one bucket fed the burst could still let through (its
			// tolerance and 50 ms of refill), or they could not tell the buckets apart.
			need := int(math.Ceil(math.Min(tb.Tol+tb.Rate*0.05, ob.Tol+ob.Rate*0.05))) + 5
			probes = append(probes, poolShots(t.draw(ctx, o, min(max(kindProbes, need), ob.Size)), o, host, roleProbe, "a user")...)
		}
		t.waitRefill(ctx, withApart(l, k)...)
		// The probes' tokens now, so that nothing delays them after the burst.
		t.withTokens(ctx, probes, burstTime(plan, overload*tb.Rate)+burstTime(probes, probeRate))
		r := t.newRunProbed(ctx, overloadedKey(k), fmt.Sprintf("Tenant %s at %.0f× the limit: %s over %d users, %s", kindName(k), overload, kindOperation(k), usersIn(plan), host),
			"tenant "+kindName(k)+" above the limit", "tenant", k, tb, overload*tb.Rate, plan, seriesOf(plan, func(shotInfo) string { return kindName(k) }),
			"tenant "+kindName(k)+" above the limit, probes", probes, seriesOf(probes, func(p shotInfo) string { return "probe: " + kindName(p.kind) }))
		notes := []string{r.verdictNote()}
		if len(probes) > 0 {
			notes = append(notes, "Right after the burst, requests of the other kinds probe their own buckets (drawn, not counted against this limit).")
		}
		t.finish(r, notes...)
		return r, ""
	})
}

// recover waits the retry-after a burst of kind k asked for (wait, seconds), counted
// from the end of the burst r, and sends recoverHits requests of k one token
// interval apart, each after the previous answer; judge says whether an answer ends
// the spec (MA-RL-006). The answers are kept for the record.
func (t *traffic) recover(ctx context.Context, r *run, wait float64, judge func(i int, a Answer)) {
	GinkgoHelper()
	k := r.kind
	users := t.draw(ctx, k, recoverHits)
	rec := Recovery{Kind: k, Wait: wait}
	defer func() { t.recoveries = append(t.recoveries, rec) }()
	// Counted from the end of the burst: by then no request of it takes a token.
	limitWait(ctx, time.Until(r.res.Ended.Add(time.Duration(wait*float64(time.Second)))))
	for i, u := range users {
		resp, err := framework.F.Client.Once(ctx, kindRequest(k, framework.F.Target.CustomDomain, t.tokenFor(ctx, u, 5*time.Second)))
		t.drew(map[spec.Kind]int{k: 1}, time.Now())
		a := answerOf(resp, err)
		rec.Answers = append(rec.Answers, a)
		judge(i, a)
		limitWait(ctx, r.bucket.Interval())
	}
}

// userRun is one user's burst of kind k beyond the user's bucket, then that user's
// requests of the kinds it counts apart, then (once the tenant's bucket of k has
// room) another user's requests of kind k, all while the first user's bucket of k
// is empty. The first call prepares every kind's and sends them (userAll).
func (t *traffic) userRun(ctx context.Context, k spec.Kind) (*run, string) {
	GinkgoHelper()
	key := userRunKey(k)
	if t.slots[key] == nil {
		t.userAll(ctx)
		s := t.slots[key]
		if s.fail != "" {
			framework.Undecided(s.fail)
		}
		return s.r, s.skip
	}
	return t.get(ctx, key, nil)
}

// userPlans prepares every kind's user run: user A's burst and probes, user B's
// requests.
func (t *traffic) userPlans(ctx context.Context) []*userPlan {
	GinkgoHelper()
	l := limitModel()
	var plans []*userPlan
	host := framework.F.Target.CustomDomain
	for _, k := range spec.Kinds {
		s := &slot{fail: "the burst " + userRunKey(k) + " could not be sent (see the spec that sent it first)"}
		t.slots[userRunKey(k)] = s
		ub, why := userBucket(l, k)
		if why != "" {
			s.skip, s.fail = why, ""
			continue
		}
		p := &userPlan{k: k, ub: ub, rate: userRate(l, k)}
		a := t.signedUp(ctx)
		p.plan = poolShots(slices.Repeat([]*framework.User{a}, ub.Beyond(userExtra, p.rate)), k, host, roleMain, "user A")
		for _, o := range apart(l.User, k) {
			ob, _ := userBucket(l, o)
			p.plan = append(p.plan, poolShots(slices.Repeat([]*framework.User{a}, min(userProbes, ob.Size)), o, host, roleProbe, "user A")...)
		}
		p.others = poolShots(t.draw(ctx, k, min(userProbes, ub.Size)), k, host, roleOther, "user B")
		plans = append(plans, p)
	}
	return plans
}

// userAll prepares every kind's user run and sends them: at the same time when
// the tenant's buckets, full, hold every request of all of them (each user run
// then draws on the tenant's buckets as if alone, however the bursts interleave),
// else one after another, each after the tenant's buckets it draws on refilled.
func (t *traffic) userAll(ctx context.Context) {
	GinkgoHelper()
	plans := t.userPlans(ctx)
	if len(plans) == 0 {
		return
	}
	if !userRunsFit(limitModel().Tenant, plans) {
		for _, p := range plans {
			t.userAlone(ctx, p)
		}
		return
	}
	var kinds []spec.Kind
	var longest time.Duration
	for _, p := range plans {
		kinds = append(kinds, withApart(limitModel(), p.k)...)
		t.withTokens(ctx, p.plan, burstTime(p.plan, p.rate)+burstTime(p.others, p.rate))
		t.withTokens(ctx, p.others, burstTime(p.plan, p.rate)+burstTime(p.others, p.rate))
		longest = max(longest, nominal(planSpec("", p.rate, p.plan))+nominal(planSpec("", p.rate, p.others)))
	}
	t.waitRefill(ctx, kinds...)
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Go(func() {
			p.main, p.err = burst.Send(ctx, framework.F.Client, planSpec("user "+kindName(p.k), p.rate, p.plan))
			if p.err == nil {
				p.other, p.err = burst.Send(ctx, framework.F.Client, planSpec("user "+kindName(p.k)+", another user", p.rate, p.others))
			}
		})
	}
	wg.Wait()
	framework.F.Client.Pacer.Hold(longest)
	var others []string
	for _, p := range plans {
		t.drew(kindsOf(append(slices.Clone(p.plan), p.others...)), time.Now())
		others = append(others, kindName(p.k))
	}
	host := framework.F.Target.CustomDomain
	for _, p := range plans {
		r := newUserRun(p, reportBurst(p.main, p.err), host)
		if p.other != nil {
			r.res.Merge(reportBurst(p.other, nil))
		}
		r.info = append(r.info, p.others...)
		r.series = append(r.series, seriesOf(p.others, p.name)...)
		r.alongside = slices.DeleteFunc(slices.Clone(others), func(o string) bool { return o == kindName(p.k) })
		t.finishUserRun(r, "Sent at the same time as the user runs of "+strings.Join(r.alongside, " and ")+
			"; together they draw no tenant bucket beyond what it holds full.")
	}
}

// userAlone sends one user run on its own, after the tenant's buckets it draws on
// refilled; user B's requests wait until the tenant's bucket of k has room.
func (t *traffic) userAlone(ctx context.Context, p *userPlan) {
	GinkgoHelper()
	host := framework.F.Target.CustomDomain
	k := p.k
	l := limitModel()
	t.waitRefill(ctx, withApart(l, k)...)
	t.withTokens(ctx, p.plan, burstTime(p.plan, p.rate))
	r := newUserRun(p, t.fire(ctx, "user "+kindName(k), p.rate, p.plan), host)
	// Another user, once the tenant's bucket of k holds what it will take.
	if tb := burst.NewBucket(l.Tenant.Bucket(k)); tb.Rate > 0 {
		drew := times(r.rec().tenantDraws(l.Tenant, k), true)
		wait := tb.TimeUntil(drew, float64(len(p.others))+tb.Tol)
		limitWait(ctx, time.Until(r.res.Started.Add(slices.Max(drew)+wait)))
	}
	t.merge(ctx, r, "user "+kindName(k)+", another user", p.rate, p.others, seriesOf(p.others, p.name))
	t.finishUserRun(r)
}

func newUserRun(p *userPlan, res *burst.Result, host string) *run {
	return &run{key: userRunKey(p.k), title: fmt.Sprintf("One user's %s beyond the user's bucket: %s at %.4g/s, %s", kindName(p.k), kindOperation(p.k), p.rate, host),
		level: "user", kind: p.k, bucket: p.ub, info: slices.Clone(p.plan), series: seriesOf(p.plan, p.name), res: res}
}

// finishUserRun validates and draws a user run and leaves it for its specs.
func (t *traffic) finishUserRun(r *run, notes ...string) {
	GinkgoHelper()
	t.finish(r, append([]string{r.verdictNote(), "User A's requests of the other kinds and user B's requests come while user A's bucket is empty; only user A's " +
		kindName(r.kind) + " count against the limit drawn."}, notes...)...)
	t.slots[userRunKey(r.kind)].r, t.slots[userRunKey(r.kind)].fail = r, ""
}

// domains sends the cross-domain burst of kind k (n requests against the tenant's
// bucket tb): the canonical domain's login user (sub, its token canonical) sends a
// share spread evenly over the burst, users of the pool the rest on the custom
// domain.
func (t *traffic) domains(ctx context.Context, k spec.Kind, tb burst.Bucket, n int, canonical, sub string) *run {
	GinkgoHelper()
	// The canonical domain's share: at most what the login user's own bucket holds
	// (as the pacer reckons what the run spent of it), so that only the tenant's
	// bucket can refuse; reserved through the pacer, which waits if need be.
	m := n / 2
	if ub, why := userBucket(limitModel(), k); why == "" {
		m = min(m, ub.Size)
		q := url.Values{}
		if k == spec.FilteredRead {
			q.Set("type", "passkey")
		}
		for range m {
			if err := framework.F.Client.Pacer.MyAccount(ctx, sub, http.MethodGet, q); err != nil {
				framework.Undecided("waiting for the login user's bucket: " + err.Error())
			}
		}
	}
	custom := t.draw(ctx, k, n-m)
	// The canonical requests spread evenly over the burst.
	plan := make([]shotInfo, 0, n)
	for i, j := 0, 0; i < n; i++ {
		if j < m && i >= (2*j+1)*n/(2*m) {
			plan = append(plan, shotInfo{kind: k, sub: sub, who: whoLogin, host: framework.F.Target.Domain, token: canonical, role: roleMain})
			j++
			continue
		}
		u := custom[i-j]
		plan = append(plan, shotInfo{kind: k, user: u, sub: u.Subject, who: "a user", host: framework.F.Target.CustomDomain, role: roleMain})
	}
	t.waitRefill(ctx, k)
	r := t.newRun(ctx, domainsKey(k), fmt.Sprintf("Tenant %s at %.0f× the limit split across %s (%d) and %s (%d)", kindName(k), overload, framework.F.Target.CustomDomain, n-m, framework.F.Target.Domain, m),
		"domains "+kindName(k), "tenant", k, tb, overload*tb.Rate, plan, seriesOf(plan, func(p shotInfo) string { return p.host }))
	t.finish(r, r.verdictNote(), "A per-tenant limit refuses both domains together as it refuses one; a per-domain limit lets the canonical domain's requests through besides.")
	return r
}
