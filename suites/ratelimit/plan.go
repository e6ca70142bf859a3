package ratelimit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
)

// The My Account rate limits (PROTOCOL §6, the vendor's rate-limit policy for each
// plan): token buckets at two levels, the tenant and each user, with reads, writes
// and filtered reads counted apart — or, in the early-access plan, one tenant bucket
// for every request — as the target config states them (rate_limit). A bucket of B
// tokens refilled at R per second lets at most B + R·t requests through in the first
// t seconds of a burst, whatever the burst's shape: that bound, not a fixed window,
// is what the specs hold each bucket to.
//
// Each level is tested for what it is. A tenant bucket is burst by many users, none
// sending more than its own bucket holds, so that no user limit decides; a user's
// bucket by one user, slower than the tenant's refill, so that the tenant's never
// does. Users are cheap (a passkey signup), and a user bucket refills slowly (12 s a
// token at 5/min): the specs take fresh users instead of waiting one out, and wait
// only for the tenant's buckets (a second or two) between bursts.
//
// Bursts go through burst.Send — exactly N requests at a set rate, none waiting for
// another — never through Do, whose pacing and 429 retry keep the ordinary specs
// below the limits.
//
// The pieces: this file plans the bursts (which buckets, how many users, in what
// order); traffic.go and scenarios.go send and record them; the oracle (oracle.go,
// judges.go, headers.go) judges the records, a pure function; specs.go and
// every_operation.go are the Describes that tie them together.

const (
	overload    = 4.0                     // tenant bursts are sent at 4× the limit
	burstFor    = 1500 * time.Millisecond // at least; longer when the bucket is large
	atLimitFor  = 3 * time.Second
	maxShots    = 400 // per burst
	minAtLimit  = 0.8 // sent slower than 80% of the limit, "at the limit" is not shown: INCONCLUSIVE
	minOverload = 0.5 // a burst sent slower than half its rate (2× the limit): INCONCLUSIVE
	maxWait     = 30 * time.Second
	recoverHits = 3 // requests after waiting retry-after
	// A user's burst goes this many requests beyond the user's bucket and its
	// tolerance, at half the tenant's rate (at most maxUserRate a second).
	userExtra      = 3
	maxUserRate    = 25.0
	userProbes     = 3  // requests of another user, or of another kind, while a user's bucket is empty
	kindProbes     = 10 // at least, requests of another kind while a tenant bucket is empty
	probeRate      = 1000.0
	blockUnlimited = 5 // requests in a row of one user where users have no limit
)

// limitModel is the model of the run's target config.
func limitModel() spec.Limits { return framework.F.Target.RateLimit.Limits() }

// shotInfo is what a request of a burst was: its kind, its user and domain, and
// its role.
type shotInfo struct {
	kind  spec.Kind
	user  *framework.User // nil for the canonical domain's login user
	sub   string
	who   string // "user A", "a user", "the login user"
	host  string
	token string // set just before the burst (withTokens), except the canonical domain's
	role  string // roleMain, roleProbe (another kind), roleOther (another user)
}

const (
	roleMain  = "main"
	roleProbe = "probe"
	roleOther = "other user"
	whoLogin  = "the login user"
)

func poolShots(users []*framework.User, k spec.Kind, host, role, who string) []shotInfo {
	out := make([]shotInfo, len(users))
	for i, u := range users {
		out[i] = shotInfo{kind: k, user: u, sub: u.Subject, who: who, host: host, role: role}
	}
	return out
}

func seriesOf(plan []shotInfo, name func(shotInfo) string) []string {
	out := make([]string, len(plan))
	for i, p := range plan {
		out[i] = name(p)
	}
	return out
}

func usersIn(plan []shotInfo) int {
	seen := map[string]bool{}
	for _, p := range plan {
		seen[p.sub] = true
	}
	return len(seen)
}

func kindsOf(plan []shotInfo) map[spec.Kind]int {
	out := map[spec.Kind]int{}
	for _, p := range plan {
		out[p.kind]++
	}
	return out
}

// burstTime is about how long plan takes at rate, with room for the answers.
func burstTime(plan []shotInfo, rate float64) time.Duration {
	return time.Duration(float64(len(plan))/rate*float64(time.Second)) + 2*time.Second
}

func planSpec(name string, rate float64, plan []shotInfo) burst.Spec {
	return burst.Spec{
		Name: name, Rate: rate, Count: len(plan),
		Request: func(i int) *harness.Request { return kindRequest(plan[i].kind, plan[i].host, plan[i].token) },
	}
}

// nominal is how long b takes at its rate: from its first request to its last.
func nominal(b burst.Spec) time.Duration {
	if b.Rate <= 0 || b.Count < 2 {
		return 0
	}
	return time.Duration(float64(b.Count-1) / b.Rate * float64(time.Second))
}

// pool hands out users for bursts: each user sends at most what its own bucket of a
// kind holds, so that no user limit decides a tenant's burst; users are signed up as
// needed. What a user has sent is not given back (a user bucket refills in a minute,
// longer than the specs wait).
type pool struct {
	users  []*pooled
	spares bool // the run's spare users joined (addSpares)
}

type pooled struct {
	u    *framework.User
	left map[spec.Kind]int // by the kind naming the user's bucket
}

// draw assigns n requests of kind k to users, a run of requests to each, signing up
// the users the pool's own have no room left for.
func (t *traffic) draw(ctx context.Context, k spec.Kind, n int) []*framework.User {
	GinkgoHelper()
	p := t.pool
	l := limitModel()
	size, block := -1, blockUnlimited
	if b := l.User.Bucket(k); !l.User.Unlimited() && !b.Unlimited() {
		size, block = b.Burst, b.Burst
	}
	if block <= 0 {
		Fail(fmt.Sprintf("%s gives a user's bucket of %s no room", planName(l), kindName(k)))
	}
	bk := bucketKind(l.User, k)
	t.addSpares()
	leftOf := func(pu *pooled) int {
		if left, ok := pu.left[bk]; ok {
			return left
		}
		return size
	}
	// take is how many of the requests left pu sends: a run of at most block, at most
	// what its bucket has left.
	take := func(pu *pooled, rest int) int {
		if size >= 0 {
			return min(block, rest, leftOf(pu))
		}
		return min(block, rest)
	}
	rest, need := n, 0
	for _, pu := range p.users {
		rest -= take(pu, rest)
	}
	for ; rest > 0; rest -= min(block, rest) {
		need++
	}
	t.signUp(ctx, need)
	out := make([]*framework.User, 0, n)
	for _, pu := range p.users {
		took := take(pu, n-len(out))
		if size >= 0 {
			pu.left[bk] = leftOf(pu) - took
		}
		for range took {
			out = append(out, pu.u)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// addSpares adds the users this process signed up for other specs to the pool, once,
// each with what its buckets hold now by the pacer's count (which refills a little
// slower than the target: the burst finds at least that much), so that the bursts
// sign up only the users those cannot stand in for.
func (t *traffic) addSpares() {
	if t.pool.spares {
		return
	}
	t.pool.spares = true
	l := limitModel()
	for _, u := range framework.ClaimSpareUsers() {
		pu := &pooled{u: u, left: map[spec.Kind]int{}}
		if !l.User.Unlimited() {
			for _, k := range spec.Kinds {
				if n := framework.F.Client.Pacer.UserTokens(u.Subject, k); !math.IsInf(n, 1) {
					pu.left[bucketKind(l.User, k)] = int(math.Floor(n))
				}
			}
		}
		t.pool.users = append(t.pool.users, pu)
	}
}

// signupsAtOnce is how many users the pool signs up at the same time.
const signupsAtOnce = 4

// signUp adds n new users to the pool, signed up several at a time.
func (t *traffic) signUp(ctx context.Context, n int) {
	GinkgoHelper()
	users := make([]*framework.User, n)
	ats := make([]time.Time, n) // when each signup began: its token lives from then at most
	// The run's users whose buckets are full again serve as new ones.
	var lent []*framework.User
	for len(lent) < n {
		u := framework.BorrowRested(ctx)
		if u == nil {
			break
		}
		lent = append(lent, u)
	}
	users = users[:n-len(lent)]
	ats = ats[:n-len(lent)]
	atOnce(len(users), signupsAtOnce, func(i int) {
		ats[i] = time.Now()
		users[i] = framework.NewUser(ctx)
		framework.Claim(users[i]) // its buckets are the bursts'
	})
	for i, u := range users {
		if u == nil {
			Fail("signing up the users of a burst failed (see above)")
		}
		t.tokens[u] = heldOf(u.Signup, ats[i])
		t.pool.users = append(t.pool.users, &pooled{u: u, left: map[spec.Kind]int{}})
	}
	for _, u := range lent { // tokenFor logs them in
		t.pool.users = append(t.pool.users, &pooled{u: u, left: map[spec.Kind]int{}})
	}
}

// splitKind is the kind the cross-domain burst sends, its tenant bucket and the
// burst's size: of the reads the canonical domain's login user can send (writes
// there would start an enrollment on a domain passkeys may not be bound to), the one
// where the canonical domain's share stands out most above the tolerance.
func splitKind(l spec.Limits) (spec.Kind, burst.Bucket, int, string) {
	best, bestScore := spec.Kind(""), math.Inf(-1)
	var bestBucket burst.Bucket
	bestN := 0
	var whys []string
	for _, k := range []spec.Kind{spec.Read, spec.FilteredRead} {
		tb, why := tenantBucket(l, k)
		if why != "" {
			whys = append(whys, why)
			continue
		}
		n, ok := tb.BurstSize(overload, burstFor, maxShots)
		if !ok {
			whys = append(whys, fmt.Sprintf("%s (the tenant's %s) cannot be emptied by a burst of at most %d requests", tb, kindName(k), maxShots))
			continue
		}
		share := float64(n / 2)
		if ub, why := userBucket(l, k); why == "" {
			share = math.Min(share, float64(ub.Size))
		}
		if score := share - tb.Tol; score > bestScore {
			best, bestScore, bestBucket, bestN = k, score, tb, n
		}
	}
	if best == "" {
		return "", burst.Bucket{}, 0, strings.Join(whys, "; ")
	}
	return best, bestBucket, bestN, ""
}

// userRate is how fast a user's burst of kind k goes: half the tenant's refill, so
// that the tenant's bucket never decides.
func userRate(l spec.Limits, k spec.Kind) float64 {
	if tb := l.Tenant.Bucket(k); !tb.Unlimited() {
		return min(maxUserRate, tb.Rate/2)
	}
	return maxUserRate
}

// userPlan is one kind's user run, ready to send.
type userPlan struct {
	k            spec.Kind
	ub           burst.Bucket
	rate         float64
	plan, others []shotInfo // user A's requests (main, then probes), then user B's
	main, other  *burst.Result
	err          error
}

func (p *userPlan) name(i shotInfo) string {
	if i.role == roleProbe {
		return i.who + ": " + kindName(i.kind) + " (probe)"
	}
	return i.who + ": " + kindName(i.kind)
}

// userRunsFit says whether the tenant's buckets, full, hold every request of the
// user runs: then no tenant bucket can refuse one of them, whatever the order.
func userRunsFit(t spec.Level, plans []*userPlan) bool {
	if t.Unlimited() {
		return true
	}
	drawn := map[spec.Kind]int{}
	for _, p := range plans {
		for _, i := range append(slices.Clone(p.plan), p.others...) {
			drawn[bucketKind(t, i.kind)]++
		}
	}
	for bk, n := range drawn {
		if b := t.Bucket(bk); !b.Unlimited() {
			if tb := burst.NewBucket(b); float64(n)+tb.Tol > float64(tb.Size) {
				return false
			}
		}
	}
	return true
}
