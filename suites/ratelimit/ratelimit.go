package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
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

// kindName names a kind of request in the specs' words.
func kindName(k spec.Kind) string {
	switch k {
	case spec.Write:
		return "writes"
	case spec.FilteredRead:
		return "filtered reads"
	}
	return "reads"
}

// kindRequest is the request a burst of kind k sends: cheap and leaving nothing
// behind on any target. A write starts a passkey enrollment, a ceremony that expires
// unless verified and creates nothing (PROTOCOL §2); a filtered read lists the
// passkeys (?type=); a read lists the factors.
func kindRequest(k spec.Kind, host, token string) *harness.Request {
	switch k {
	case spec.Write:
		return &harness.Request{Method: http.MethodPost, URL: config.MeURL(host, "/authentication-methods"), JSON: map[string]string{"type": "passkey"}, Bearer: token}
	case spec.FilteredRead:
		return &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, "/authentication-methods?type=passkey"), Bearer: token}
	}
	return &harness.Request{Method: http.MethodGet, URL: config.MeURL(host, "/factors"), Bearer: token}
}

// kindOperation is what kindRequest sends, for titles and messages.
func kindOperation(k spec.Kind) string {
	switch k {
	case spec.Write:
		return `POST /me/v1/authentication-methods {"type":"passkey"}`
	case spec.FilteredRead:
		return "GET /me/v1/authentication-methods?type=passkey"
	}
	return "GET /me/v1/factors"
}

// kindScope is the scope kindRequest needs.
func kindScope(k spec.Kind) string {
	switch k {
	case spec.Write:
		return harness.ScopeCreateMethods
	case spec.FilteredRead:
		return harness.ScopeReadMethods
	}
	return harness.ScopeReadFactors
}

func limitModel() spec.Limits { return framework.F.Target.RateLimit.Limits() }

func planName() string {
	if p := limitModel().Plan; p != "" {
		return "the plan " + p
	}
	return "the target config's model"
}

// tenantBucket is the tenant's bucket of kind k, or why there is none to test.
func tenantBucket(k spec.Kind) (burst.Bucket, string) {
	l := limitModel()
	if l.Tenant.Shared && k != spec.Read {
		return burst.Bucket{}, fmt.Sprintf("%s has one tenant bucket for every request: the reads' specs test it", planName())
	}
	b := l.Tenant.Bucket(k)
	if b.Unlimited() {
		return burst.Bucket{}, fmt.Sprintf("%s sets no tenant limit on %s", planName(), kindName(k))
	}
	return burst.NewBucket(b), ""
}

// userBucket is each user's bucket of kind k, or why there is none to test.
func userBucket(k spec.Kind) (burst.Bucket, string) {
	l := limitModel()
	switch {
	case l.User.Unlimited():
		return burst.Bucket{}, fmt.Sprintf("%s has no per-user limit", planName())
	case l.User.Shared && k != spec.Read:
		return burst.Bucket{}, fmt.Sprintf("%s has one per-user bucket for every request: the reads' specs test it", planName())
	}
	b := l.User.Bucket(k)
	if b.Unlimited() {
		return burst.Bucket{}, fmt.Sprintf("%s sets no per-user limit on %s", planName(), kindName(k))
	}
	return burst.NewBucket(b), ""
}

// bucketKind is the kind that names k's bucket at a level: one for every kind when
// the level shares it.
func bucketKind(l spec.Level, k spec.Kind) spec.Kind {
	if l.Shared {
		return spec.Read
	}
	return k
}

// apart lists the kinds other than k that a level counts in buckets of their own
// (limited ones).
func apart(l spec.Level, k spec.Kind) []spec.Kind {
	var out []spec.Kind
	for _, o := range spec.Kinds {
		if bucketKind(l, o) != bucketKind(l, k) && !l.Bucket(o).Unlimited() {
			out = append(out, o)
		}
	}
	return out
}

// candidate is a bucket a request draws on.
type candidate struct {
	key    string // names the bucket: "tenant read", "user auth0|… write"
	what   string // for messages: "the tenant's reads bucket", "user A's reads bucket"
	bucket burst.Bucket
}

// candidates are the buckets a request of kind k by sub draws on, tenant first.
func candidates(k spec.Kind, sub, who string) []candidate {
	l := limitModel()
	var out []candidate
	if b := l.Tenant.Bucket(k); !b.Unlimited() {
		bk := bucketKind(l.Tenant, k)
		out = append(out, candidate{key: "tenant " + string(bk), what: "the tenant's " + levelBucketName(l.Tenant, bk) + " bucket", bucket: burst.NewBucket(b)})
	}
	if b := l.User.Bucket(k); !l.User.Unlimited() && !b.Unlimited() && sub != "" {
		bk := bucketKind(l.User, k)
		out = append(out, candidate{key: "user " + sub + " " + string(bk), what: who + "'s " + levelBucketName(l.User, bk) + " bucket", bucket: burst.NewBucket(b)})
	}
	return out
}

func levelBucketName(l spec.Level, k spec.Kind) string {
	if l.Shared {
		return "shared"
	}
	return kindName(k)
}

// pool hands out users for bursts: each user sends at most what its own bucket of a
// kind holds, so that no user limit decides a tenant's burst; users are signed up as
// needed. What a user has sent is not given back (a user bucket refills in a minute,
// longer than the specs wait).
type pool struct {
	users []*pooled
}

type pooled struct {
	u    *framework.User
	left map[spec.Kind]int // by the kind naming the user's bucket
}

// draw assigns n requests of kind k to users, a run of requests to each, signing up
// the users the pool's own have no room left for.
func (p *pool) draw(ctx context.Context, k spec.Kind, n int) []*framework.User {
	GinkgoHelper()
	l := limitModel()
	size, block := -1, blockUnlimited
	if b := l.User.Bucket(k); !l.User.Unlimited() && !b.Unlimited() {
		size, block = b.Burst, b.Burst
	}
	if block <= 0 {
		Fail(fmt.Sprintf("%s gives a user's bucket of %s no room", planName(), kindName(k)))
	}
	bk := bucketKind(l.User, k)
	// take is how many of the requests left pu sends: a run of at most block, at most
	// what its bucket has left.
	take := func(pu *pooled, rest int) int {
		t := min(block, rest)
		if size >= 0 {
			left, ok := pu.left[bk]
			if !ok {
				left = size
			}
			t = min(t, left)
		}
		return t
	}
	rest, need := n, 0
	for _, pu := range p.users {
		rest -= take(pu, rest)
	}
	for ; rest > 0; rest -= min(block, rest) {
		need++
	}
	p.signUp(ctx, need)
	out := make([]*framework.User, 0, n)
	for _, pu := range p.users {
		t := take(pu, n-len(out))
		if size >= 0 {
			left, ok := pu.left[bk]
			if !ok {
				left = size
			}
			pu.left[bk] = left - t
		}
		for range t {
			out = append(out, pu.u)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// signupsAtOnce is how many users the pool signs up at the same time.
const signupsAtOnce = 4

// signUp adds n new users to the pool, signed up several at a time.
func (p *pool) signUp(ctx context.Context, n int) {
	GinkgoHelper()
	users := make([]*framework.User, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, signupsAtOnce)
	for i := range users {
		wg.Go(func() {
			defer GinkgoRecover()
			sem <- struct{}{}
			defer func() { <-sem }()
			users[i] = framework.NewUser(ctx)
		})
	}
	wg.Wait()
	for _, u := range users {
		if u == nil {
			Fail("signing up the users of a burst failed (see above)")
		}
		rl.tokens[u] = heldOf(u.Signup, time.Now())
		p.users = append(p.users, &pooled{u: u, left: map[spec.Kind]int{}})
	}
}

// held is a user's access token for the custom domain and when it runs out (zero:
// the target did not say).
type held struct {
	token string
	until time.Time
}

func heldOf(t harness.Tokens, at time.Time) held {
	h := held{token: t.AccessToken}
	if t.ExpiresIn > 0 {
		h.until = at.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return h
}

// signedUp is a new user, whose signup token the bursts use while it lasts.
func signedUp(ctx context.Context) *framework.User {
	GinkgoHelper()
	u := framework.NewUser(ctx)
	rl.tokens[u] = heldOf(u.Signup, time.Now())
	return u
}

// tokenFor is u's access token with at least need left: a target may give the My
// Account API short-lived tokens, so u logs in again (a passkey login, which no My
// Account limit counts) when the one it holds runs out sooner.
func tokenFor(ctx context.Context, u *framework.User, need time.Duration) string {
	GinkgoHelper()
	h, ok := rl.tokens[u]
	if !ok || (!h.until.IsZero() && time.Until(h.until) < need) {
		at := time.Now()
		h = heldOf(framework.SignIn(ctx, u, u.Passkeys[0], framework.F.Target.CustomDomain), at)
		rl.tokens[u] = h
	}
	return h.token
}

// withTokens gives each request of plan its user's token, good for need.
func withTokens(ctx context.Context, plan []shotInfo, need time.Duration) {
	GinkgoHelper()
	for i := range plan {
		if plan[i].user != nil {
			plan[i].token = tokenFor(ctx, plan[i].user, need)
		}
	}
}

// burstTime is about how long plan takes at rate, with room for the answers.
func burstTime(plan []shotInfo, rate float64) time.Duration {
	return time.Duration(float64(len(plan))/rate*float64(time.Second)) + 2*time.Second
}

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
)

func poolShots(users []*framework.User, k spec.Kind, host, role, who string) []shotInfo {
	out := make([]shotInfo, len(users))
	for i, u := range users {
		out[i] = shotInfo{kind: k, user: u, sub: u.Subject, who: who, host: host, role: role}
	}
	return out
}

// run is a burst (with any probes merged in) and what each of its requests was.
type run struct {
	title  string
	level  string // "tenant" or "user"
	kind   spec.Kind
	bucket burst.Bucket // the bucket the main requests are held to
	res    *burst.Result
	info   []shotInfo // by shot index
	series []string   // by shot index, for the picture
	// alongside names the kinds whose bursts ran at the same time (at the limit, or
	// one user beyond its bucket).
	alongside []string
}

func (r *run) is(s *burst.Shot, role string) bool { return r.info[s.Index].role == role }

// shots selects the run's shots.
func (r *run) shots(keep func(*burst.Shot, shotInfo) bool) []*burst.Shot {
	var out []*burst.Shot
	for i := range r.res.Shots {
		s := &r.res.Shots[i]
		if keep(s, r.info[s.Index]) {
			out = append(out, s)
		}
	}
	return out
}

func (r *run) main(s *burst.Shot) bool { return r.is(s, roleMain) }

// tenantDraws are the shots that drew on the tenant's bucket of kind k.
func (r *run) tenantDraws(k spec.Kind) []*burst.Shot {
	t := limitModel().Tenant
	return r.shots(func(_ *burst.Shot, i shotInfo) bool { return bucketKind(t, i.kind) == bucketKind(t, k) })
}

// mainUsers counts the users of the main requests.
func (r *run) mainUsers() int {
	var plan []shotInfo
	for _, i := range r.info {
		if i.role == roleMain {
			plan = append(plan, i)
		}
	}
	return usersIn(plan)
}

func (r *run) mainShots() []*burst.Shot {
	return r.shots(func(_ *burst.Shot, i shotInfo) bool { return i.role == roleMain })
}

func count(shots []*burst.Shot, keep func(*burst.Shot) bool) int {
	n := 0
	for _, s := range shots {
		if keep(s) {
			n++
		}
	}
	return n
}

func is429(s *burst.Shot) bool  { return s.Err == nil && s.Status == http.StatusTooManyRequests }
func okShot(s *burst.Shot) bool { return s.OK() }

func times(shots []*burst.Shot, sent bool) []time.Duration {
	out := make([]time.Duration, 0, len(shots))
	for _, s := range shots {
		switch {
		case sent:
			out = append(out, s.Sent)
		case s.OK():
			out = append(out, s.Received)
		}
	}
	return out
}

// limits is the state the rate-limit specs share: the users, the bursts sent (each
// once, for every spec that judges it) and when each tenant bucket is full again.
type limits struct {
	pool   *pool
	slots  map[string]*slot
	tokens map[*framework.User]held
	full   map[spec.Kind]time.Time // by the kind naming the tenant's bucket
}

func newLimits() limits {
	return limits{pool: &pool{}, slots: map[string]*slot{}, tokens: map[*framework.User]held{}, full: map[spec.Kind]time.Time{}}
}

// drew notes that n requests of each kind drew on the tenant's buckets until end:
// a bucket is full again at most n/R after it would have been anyway, and never
// later than a whole refill after end (429s take no token; the bound errs long).
func (l *limits) drew(byKind map[spec.Kind]int, end time.Time) {
	t := limitModel().Tenant
	for k, n := range byKind {
		b := t.Bucket(k)
		if b.Unlimited() || n == 0 {
			continue
		}
		bb := burst.NewBucket(b)
		bk := bucketKind(t, k)
		from := end
		if l.full[bk].After(end) {
			from = l.full[bk]
		}
		full := from.Add(time.Duration(float64(n) / bb.Rate * float64(time.Second)))
		if whole := end.Add(bb.RefillTime()); full.After(whole) {
			full = whole
		}
		l.full[bk] = full
	}
}

func kindsOf(plan []shotInfo) map[spec.Kind]int {
	out := map[spec.Kind]int{}
	for _, p := range plan {
		out[p.kind]++
	}
	return out
}

type slot struct {
	r    *run
	skip string // why the burst cannot show anything on this target
	fail string // set while sending: a spec that finds it set sees an unfinished burst
}

var rl limits

// get returns the burst named key, sending it with build the first time.
func (l *limits) get(ctx context.Context, key string, build func(context.Context) (*run, string)) (*run, string) {
	GinkgoHelper()
	s := l.slots[key]
	if s == nil {
		s = &slot{fail: "the burst " + key + " could not be sent (see the spec that sent it first)"}
		l.slots[key] = s
		s.r, s.skip = build(ctx)
		s.fail = ""
	} else if s.r != nil {
		AddReportEntry(verdict.Burst, "(a burst of an earlier spec) "+s.r.res.Summary(), ReportEntryVisibilityFailureOrVerbose)
	}
	if s.fail != "" {
		framework.Undecided(s.fail)
	}
	return s.r, s.skip
}

// sent is the burst named key if an earlier spec sent it, else nil.
func (l *limits) sent(key string) *run {
	if s := l.slots[key]; s != nil {
		return s.r
	}
	return nil
}

// waitRefill lets the tenant's buckets of kinds (all when none is named) fill up
// after the requests that drew on them: the next burst starts from a known state,
// and the specs after these find the limits as the ordinary traffic left them.
func waitRefill(ctx context.Context, kinds ...spec.Kind) {
	if len(kinds) == 0 {
		kinds = spec.Kinds
	}
	var until time.Time
	for _, k := range kinds {
		if f := rl.full[bucketKind(limitModel().Tenant, k)]; f.After(until) {
			until = f
		}
	}
	if until.IsZero() {
		return
	}
	// The floor counts the refill; the margin for the target's clock is the suite's.
	framework.F.Client.Pacer.Hold(min(time.Until(until), maxWait))
	framework.Pause(ctx, min(time.Until(until.Add(250*time.Millisecond)), maxWait))
}

// withApart is k and the kinds the tenant counts apart from it.
func withApart(k spec.Kind) []spec.Kind {
	return append([]spec.Kind{k}, apart(limitModel().Tenant, k)...)
}

// limitWait pauses for d, a wait the limits under test set (a refill, a retry-after),
// counted in the run's floor.
func limitWait(ctx context.Context, d time.Duration) {
	framework.F.Client.Pacer.Hold(d)
	framework.Pause(ctx, d)
}

// fire sends plan as one burst at rate, without validating (so that a probe can
// follow at once). A burst the runner could not finish is INCONCLUSIVE.
func fire(ctx context.Context, name string, rate float64, plan []shotInfo) *burst.Result {
	GinkgoHelper()
	defer func() { rl.drew(kindsOf(plan), time.Now()) }()
	return sendBurst(ctx, planSpec(name, rate, plan))
}

func planSpec(name string, rate float64, plan []shotInfo) burst.Spec {
	return burst.Spec{
		Name: name, Rate: rate, Count: len(plan),
		Request: func(i int) *harness.Request { return kindRequest(plan[i].kind, plan[i].host, plan[i].token) },
	}
}

// sendBurst sends a burst and leaves its figures in the report; a burst the runner
// could not finish is INCONCLUSIVE.
func sendBurst(ctx context.Context, b burst.Spec) *burst.Result {
	GinkgoHelper()
	res, err := burst.Send(ctx, framework.F.Client, b)
	framework.F.Client.Pacer.Hold(nominal(b)) // sent at a rate the limits set: the floor counts it
	return reportBurst(res, err)
}

// nominal is how long b takes at its rate: from its first request to its last.
func nominal(b burst.Spec) time.Duration {
	if b.Rate <= 0 || b.Count < 2 {
		return 0
	}
	return time.Duration(float64(b.Count-1) / b.Rate * float64(time.Second))
}

// reportBurst leaves a burst's figures in the report; a burst the runner could not
// finish is INCONCLUSIVE.
func reportBurst(res *burst.Result, err error) *burst.Result {
	GinkgoHelper()
	if res != nil {
		AddReportEntry(verdict.Burst, res.Summary(), ReportEntryVisibilityFailureOrVerbose)
	}
	if err != nil {
		var ue *harness.UnreachableError
		if res != nil || errors.As(err, &ue) {
			framework.Undecided(err.Error())
		}
		Fail("burst: " + err.Error())
	}
	return res
}

// finish validates a run's answers (after the timed part) and draws its picture.
func (r *run) finish(notes ...string) {
	GinkgoHelper()
	for i := range r.res.Shots {
		r.res.Shots[i].Series = r.series[r.res.Shots[i].Index]
	}
	burst.Validate(framework.F.Client, r.res)
	r.picture(notes...)
}

// picture writes the run's timeline into the report dir.
func (r *run) picture(notes ...string) {
	GinkgoHelper()
	b := r.bucket
	tl := burst.Timeline{Title: r.title, Rate: b.Rate, Burst: b.Size, Tolerance: b.Tol, Notes: notes,
		Counted: func(s *burst.Shot) bool { return r.main(s) }}
	if e := b.FirstExcess(times(r.mainShots(), false)); e != nil {
		tl.Marks = append(tl.Marks, burst.TimelineMark{At: e.At, Count: float64(e.Count), Label: "2xx beyond the limit"})
	}
	path, err := burst.WriteTimelineFile(framework.F.ReportDir, r.res, tl)
	if err != nil {
		AddReportEntry(verdict.Timeline, "the timeline could not be written: "+err.Error(), ReportEntryVisibilityFailureOrVerbose)
		return
	}
	AddReportEntry(verdict.Timeline, path, ReportEntryVisibilityFailureOrVerbose)
}

// verdictNote is the picture's note on the bound.
func (r *run) verdictNote() string {
	main := r.mainShots()
	span := r.res.Span()
	b := r.bucket
	v := fmt.Sprintf("%d × 2xx and %d × 429 of %d %s in %.3f s; %s allows at most %.1f (+ tolerance %.0f) in that time",
		count(main, okShot), count(main, is429), len(main), kindName(r.kind), span.Seconds(), b, b.Allowed(span)-b.Tol, b.Tol)
	if e := b.FirstExcess(times(main, false)); e != nil {
		v += fmt.Sprintf(" — EXCEEDED at %.3f s: %d × 2xx where at most %.1f are allowed", e.At.Seconds(), e.Count, e.Allowed)
	}
	return v
}

// newRun sends plan (the main requests and any probes of the same user, in order)
// and returns the run, not yet finished.
func newRun(ctx context.Context, title, name, level string, k spec.Kind, b burst.Bucket, rate float64, plan []shotInfo, series []string) *run {
	GinkgoHelper()
	r := &run{title: title, level: level, kind: k, bucket: b, info: plan, series: series}
	withTokens(ctx, plan, burstTime(plan, rate))
	r.res = fire(ctx, name, rate, plan)
	return r
}

// merge sends plan right away as a burst of its own at rate and adds it to the run.
func (r *run) merge(ctx context.Context, name string, rate float64, plan []shotInfo, series []string) {
	GinkgoHelper()
	withTokens(ctx, plan, burstTime(plan, rate))
	r.res.Merge(fire(ctx, name, rate, plan))
	r.info = append(r.info, plan...)
	r.series = append(r.series, series...)
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

// The bursts.

// atLimit is a burst of kind k at the tenant's rate for atLimitFor, spread over
// users; the first call sends every kind's (atLimitAll).
func atLimit(ctx context.Context, k spec.Kind) (*run, string) {
	GinkgoHelper()
	key := atLimitKey(k)
	if rl.slots[key] == nil {
		atLimitAll(ctx)
	} else if r := rl.slots[key].r; r != nil {
		AddReportEntry(verdict.Burst, "(a burst of an earlier spec) "+r.res.Summary(), ReportEntryVisibilityFailureOrVerbose)
	}
	s := rl.slots[key]
	if s.fail != "" {
		framework.Undecided(s.fail)
	}
	return s.r, s.skip
}

func atLimitKey(k spec.Kind) string { return "tenant " + string(k) + " at the limit" }

// atLimitAll sends the at-limit bursts of every kind at the same time: the plan
// counts each kind in a tenant bucket of its own, so each burst is held to its own
// limit while the others run, and together they take the time of one. (A tenant
// that counts the kinds in one bucket refuses some of them: the specs say so.)
func atLimitAll(ctx context.Context) {
	GinkgoHelper()
	type job struct {
		k    spec.Kind
		tb   burst.Bucket
		plan []shotInfo
		res  *burst.Result
		err  error
	}
	var (
		jobs  []*job
		kinds []spec.Kind
	)
	host := framework.F.Target.CustomDomain
	for _, k := range spec.Kinds {
		s := &slot{fail: "the burst " + atLimitKey(k) + " could not be sent (see the spec that sent it first)"}
		rl.slots[atLimitKey(k)] = s
		tb, why := tenantBucket(k)
		if why != "" {
			s.skip, s.fail = why, ""
			continue
		}
		n := min(maxShots, int(math.Ceil(tb.Rate*atLimitFor.Seconds())))
		jobs = append(jobs, &job{k: k, tb: tb, plan: poolShots(rl.pool.draw(ctx, k, n), k, host, roleMain, "a user")})
		kinds = append(kinds, k)
	}
	waitRefill(ctx, kinds...)
	var longest time.Duration
	for _, j := range jobs {
		withTokens(ctx, j.plan, burstTime(j.plan, j.tb.Rate))
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
		rl.drew(kindsOf(j.plan), time.Now())
	}
	for _, j := range jobs {
		var others []string
		for _, o := range jobs {
			if o != j {
				others = append(others, kindName(o.k))
			}
		}
		r := &run{title: fmt.Sprintf("Tenant %s at the limit: %s at %.4g/s over %d users, %s", kindName(j.k), kindOperation(j.k), j.tb.Rate, usersIn(j.plan), host),
			level: "tenant", kind: j.k, bucket: j.tb, info: j.plan, series: seriesOf(j.plan, func(shotInfo) string { return kindName(j.k) }),
			alongside: others}
		r.res = reportBurst(j.res, j.err)
		notes := []string{fmt.Sprintf("%d × 2xx, %d × 429; at the limit none may be refused", count(r.mainShots(), okShot), count(r.mainShots(), is429))}
		if len(others) > 0 {
			notes = append(notes, "Sent at the same time as the at-limit bursts of "+strings.Join(others, " and ")+", each at its own tenant limit.")
		}
		r.finish(notes...)
		rl.slots[atLimitKey(j.k)].r, rl.slots[atLimitKey(j.k)].fail = r, ""
	}
}

// overloaded is a burst of kind k at overload× the tenant's rate, spread over users,
// followed at once by probes of the kinds the tenant counts apart.
func overloaded(ctx context.Context, k spec.Kind) (*run, string) {
	GinkgoHelper()
	return rl.get(ctx, "tenant "+string(k)+" above the limit", func(ctx context.Context) (*run, string) {
		tb, why := tenantBucket(k)
		if why != "" {
			return nil, why
		}
		n, ok := tb.BurstSize(overload, burstFor, maxShots)
		if !ok {
			return nil, fmt.Sprintf("%s (the tenant's %s) cannot be emptied by a burst of at most %d requests at %.0f× its rate", tb, kindName(k), maxShots, overload)
		}
		host := framework.F.Target.CustomDomain
		plan := poolShots(rl.pool.draw(ctx, k, n), k, host, roleMain, "a user")
		var probes []shotInfo
		for _, o := range apart(limitModel().Tenant, k) {
			ob, _ := tenantBucket(o)
			// More probes than one bucket fed the burst could still let through (its
			// tolerance and 50 ms of refill), or they could not tell the buckets apart.
			need := int(math.Ceil(math.Min(tb.Tol+tb.Rate*0.05, ob.Tol+ob.Rate*0.05))) + 5
			probes = append(probes, poolShots(rl.pool.draw(ctx, o, min(max(kindProbes, need), ob.Size)), o, host, roleProbe, "a user")...)
		}
		waitRefill(ctx, withApart(k)...)
		// The probes' tokens now, so that nothing delays them after the burst.
		withTokens(ctx, probes, burstTime(plan, overload*tb.Rate)+burstTime(probes, probeRate))
		r := newRun(ctx, fmt.Sprintf("Tenant %s at %.0f× the limit: %s over %d users, %s", kindName(k), overload, kindOperation(k), usersIn(plan), host),
			"tenant "+kindName(k)+" above the limit", "tenant", k, tb, overload*tb.Rate, plan, seriesOf(plan, func(shotInfo) string { return kindName(k) }))
		if len(probes) > 0 {
			r.merge(ctx, "tenant "+kindName(k)+" above the limit, probes", probeRate, probes,
				seriesOf(probes, func(p shotInfo) string { return "probe: " + kindName(p.kind) }))
		}
		notes := []string{r.verdictNote()}
		if len(probes) > 0 {
			notes = append(notes, "Right after the burst, requests of the other kinds probe their own buckets (drawn, not counted against this limit).")
		}
		r.finish(notes...)
		return r, ""
	})
}

// userRate is how fast a user's burst of kind k goes: half the tenant's refill, so
// that the tenant's bucket never decides.
func userRate(k spec.Kind) float64 {
	if tb := limitModel().Tenant.Bucket(k); !tb.Unlimited() {
		return min(maxUserRate, tb.Rate/2)
	}
	return maxUserRate
}

// userRun is one user's burst of kind k beyond the user's bucket, then that user's
// requests of the kinds it counts apart, then (once the tenant's bucket of k has
// room) another user's requests of kind k, all while the first user's bucket of k
// is empty. The first call prepares every kind's and sends them (userAll).
func userRun(ctx context.Context, k spec.Kind) (*run, string) {
	GinkgoHelper()
	key := userRunKey(k)
	if rl.slots[key] == nil {
		userAll(ctx)
		s := rl.slots[key]
		if s.fail != "" {
			framework.Undecided(s.fail)
		}
		return s.r, s.skip
	}
	return rl.get(ctx, key, nil)
}

func userRunKey(k spec.Kind) string { return "user " + string(k) }

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

// userAll prepares every kind's user run and sends them: at the same time when
// the tenant's buckets, full, hold every request of all of them (each user run
// then draws on the tenant's buckets as if alone, however the bursts interleave),
// else one after another, each after the tenant's buckets it draws on refilled.
func userAll(ctx context.Context) {
	GinkgoHelper()
	var plans []*userPlan
	host := framework.F.Target.CustomDomain
	for _, k := range spec.Kinds {
		s := &slot{fail: "the burst " + userRunKey(k) + " could not be sent (see the spec that sent it first)"}
		rl.slots[userRunKey(k)] = s
		ub, why := userBucket(k)
		if why != "" {
			s.skip, s.fail = why, ""
			continue
		}
		p := &userPlan{k: k, ub: ub, rate: userRate(k)}
		a := signedUp(ctx)
		p.plan = poolShots(slices.Repeat([]*framework.User{a}, ub.Beyond(userExtra, p.rate)), k, host, roleMain, "user A")
		for _, o := range apart(limitModel().User, k) {
			ob, _ := userBucket(o)
			p.plan = append(p.plan, poolShots(slices.Repeat([]*framework.User{a}, min(userProbes, ob.Size)), o, host, roleProbe, "user A")...)
		}
		p.others = poolShots(rl.pool.draw(ctx, k, min(userProbes, ub.Size)), k, host, roleOther, "user B")
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return
	}
	if !userRunsFit(plans) {
		for _, p := range plans {
			userAlone(ctx, p)
		}
		return
	}
	var kinds []spec.Kind
	var longest time.Duration
	for _, p := range plans {
		kinds = append(kinds, withApart(p.k)...)
		withTokens(ctx, p.plan, burstTime(p.plan, p.rate)+burstTime(p.others, p.rate))
		withTokens(ctx, p.others, burstTime(p.plan, p.rate)+burstTime(p.others, p.rate))
		longest = max(longest, nominal(planSpec("", p.rate, p.plan))+nominal(planSpec("", p.rate, p.others)))
	}
	waitRefill(ctx, kinds...)
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
		rl.drew(kindsOf(append(slices.Clone(p.plan), p.others...)), time.Now())
		others = append(others, kindName(p.k))
	}
	for _, p := range plans {
		r := newUserRun(p, reportBurst(p.main, p.err), host)
		if p.other != nil {
			r.res.Merge(reportBurst(p.other, nil))
		}
		r.info = append(r.info, p.others...)
		r.series = append(r.series, seriesOf(p.others, p.name)...)
		r.alongside = slices.DeleteFunc(slices.Clone(others), func(o string) bool { return o == kindName(p.k) })
		finishUserRun(r, "Sent at the same time as the user runs of "+strings.Join(r.alongside, " and ")+
			"; together they draw no tenant bucket beyond what it holds full.")
	}
}

// userRunsFit says whether the tenant's buckets, full, hold every request of the
// user runs: then no tenant bucket can refuse one of them, whatever the order.
func userRunsFit(plans []*userPlan) bool {
	t := limitModel().Tenant
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

// userAlone sends one user run on its own, after the tenant's buckets it draws on
// refilled; user B's requests wait until the tenant's bucket of k has room.
func userAlone(ctx context.Context, p *userPlan) {
	GinkgoHelper()
	host := framework.F.Target.CustomDomain
	k := p.k
	waitRefill(ctx, withApart(k)...)
	withTokens(ctx, p.plan, burstTime(p.plan, p.rate))
	r := newUserRun(p, fire(ctx, "user "+kindName(k), p.rate, p.plan), host)
	// Another user, once the tenant's bucket of k holds what it will take.
	if tb := burst.NewBucket(limitModel().Tenant.Bucket(k)); tb.Rate > 0 {
		drew := times(r.tenantDraws(k), true)
		wait := tb.TimeUntil(drew, float64(len(p.others))+tb.Tol)
		limitWait(ctx, time.Until(r.res.Started.Add(slices.Max(drew)+wait)))
	}
	r.merge(ctx, "user "+kindName(k)+", another user", p.rate, p.others, seriesOf(p.others, p.name))
	finishUserRun(r)
}

func newUserRun(p *userPlan, res *burst.Result, host string) *run {
	return &run{title: fmt.Sprintf("One user's %s beyond the user's bucket: %s at %.4g/s, %s", kindName(p.k), kindOperation(p.k), p.rate, host),
		level: "user", kind: p.k, bucket: p.ub, info: slices.Clone(p.plan), series: seriesOf(p.plan, p.name), res: res}
}

// finishUserRun validates and draws a user run and leaves it for its specs.
func finishUserRun(r *run, notes ...string) {
	GinkgoHelper()
	r.finish(append([]string{r.verdictNote(), "User A's requests of the other kinds and user B's requests come while user A's bucket is empty; only user A's " +
		kindName(r.kind) + " count against the limit drawn."}, notes...)...)
	rl.slots[userRunKey(r.kind)].r, rl.slots[userRunKey(r.kind)].fail = r, ""
}

// Judging.

// otherViolations drops, from a description violation, the problems with the
// rate-limit headers: the header specs judge those themselves, and every other spec
// of the burst would fail for them too.
func otherViolations(v error) error {
	var ve *spec.ValidationError
	if v == nil || !errors.As(v, &ve) {
		return v
	}
	var rest []spec.Problem
	for _, p := range ve.Problems {
		if w := strings.ToLower(p.Where); strings.HasPrefix(w, "header x-ratelimit-") || w == "header retry-after" {
			continue
		}
		rest = append(rest, p)
	}
	switch {
	case len(rest) == len(ve.Problems):
		return v
	case len(rest) == 0:
		return nil
	}
	return &spec.ValidationError{Problems: rest}
}

// requireAnswers fails (or, when the target could not be reached, ends as
// INCONCLUSIVE) on transport errors and on answers that break the API description
// other than in their rate-limit headers.
func requireAnswers(r *run) {
	GinkgoHelper()
	var failed, unreachable, violations []*burst.Shot
	for i := range r.res.Shots {
		s := &r.res.Shots[i]
		var ue *harness.UnreachableError
		switch {
		case errors.As(s.Err, &ue):
			unreachable = append(unreachable, s)
		case s.Err != nil:
			failed = append(failed, s)
		case otherViolations(s.Violation) != nil:
			violations = append(violations, s)
		}
	}
	n := len(r.res.Shots)
	switch {
	case len(failed) > 0:
		burst.Record(framework.F.Client, failed[0])
		Fail(fmt.Sprintf("%d of %d requests of the burst failed; the first: %v", len(failed), n, failed[0].Err))
	case len(unreachable) > 0:
		framework.Undecided(fmt.Sprintf("%d of %d requests of the burst got no answer; the first: %v", len(unreachable), n, unreachable[0].Err))
	case len(violations) > 0:
		for _, s := range violations[:min(3, len(violations))] {
			burst.Record(framework.F.Client, s)
		}
		s := violations[0]
		Fail(fmt.Sprintf("%d of %d answers of the burst break the API description; request #%d answered %d:\n%v",
			len(violations), n, s.Index, s.Status, otherViolations(s.Violation)))
	}
}

// requireStatuses fails when a request of the run answered other than 2xx or 429:
// each is a valid request of its user.
func requireStatuses(r *run) {
	GinkgoHelper()
	for i := range r.res.Shots {
		if s := &r.res.Shots[i]; !s.OK() && !is429(s) {
			burst.Record(framework.F.Client, s)
			in := r.info[s.Index]
			Fail(fmt.Sprintf("request #%d (%s, %s) answered %d; a valid request of its user answers 2xx or 429", s.Index, kindOperation(in.kind), in.who, s.Status))
		}
	}
}

// requireOverload ends the spec as INCONCLUSIVE unless the runner really sent the
// tenant's burst above the limit: at least half its requested rate, and so many
// requests so fast that even an ideal bucket, fed them as they left, refuses a
// clear number. A slow or stalled runner must not make a limit look right or wrong.
func requireOverload(r *run) {
	GinkgoHelper()
	if err := r.res.RequireRate(minOverload); err != nil {
		framework.Undecided(err.Error())
	}
	main := r.mainShots()
	refused, _ := r.bucket.Ideal(times(main, true))
	if need := r.bucket.OverloadMargin(len(main)); refused < need {
		framework.Undecided(fmt.Sprintf("the runner could not send a burst that overloads the bucket: fed the requests as they left, an ideal %s refuses only %d, fewer than the %d needed to decide. %s",
			r.bucket, refused, need, r.res.Summary()))
	}
}

// requireLimited holds the main requests of a tenant's burst to the bucket: 429s
// appear, and never more 2xx than B + R·t (+ tolerance) in the first t seconds.
func requireLimited(r *run, what, hint string) {
	GinkgoHelper()
	requireAnswers(r)
	requireOverload(r)
	requireStatuses(r)
	main := r.mainShots()
	b := r.bucket
	if e := b.FirstExcess(times(main, false)); e != nil {
		span := r.res.Span()
		Fail(fmt.Sprintf("%s: %d requests succeeded within %.3f s of the burst's start, where %s lets at most %.1f through (B + R·t + tolerance %.0f); over the whole burst %d succeeded in %.3f s where at most %.1f may. %s\n%s",
			what, e.Count, e.At.Seconds(), b, e.Allowed, b.Tol, count(main, okShot), span.Seconds(), b.Allowed(span), hint, r.res.Summary()))
	}
	if count(main, is429) == 0 {
		Fail(fmt.Sprintf("%s: no request was refused with 429, although the burst asked for %.4g/s against %s. %s\n%s",
			what, r.res.Rate, b, hint, r.res.Summary()))
	}
}

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

func headersOf(s *burst.Shot) rateHeaders {
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

// findings collects what is wrong with a burst's answers, each with the shot it is
// about, and fails the spec with the first few.
type findings struct {
	lines []string
	shots []*burst.Shot
}

func (f *findings) add(r *run, s *burst.Shot, format string, a ...any) {
	in := r.info[s.Index]
	f.lines = append(f.lines, fmt.Sprintf("%s, request #%d (%s of %s, %d, answered at %.3f s): ", r.res.Name, s.Index, kindName(in.kind), in.who, s.Status, s.Received.Seconds())+fmt.Sprintf(format, a...))
	f.shots = append(f.shots, s)
}

// addShot notes what is wrong with a shot of a burst sent outside a run (no run
// info to name it by: its operation does).
func (f *findings) addShot(s *burst.Shot, format string, a ...any) {
	f.lines = append(f.lines, fmt.Sprintf("%s %s, %d: ", s.Method(), s.Operation(), s.Status)+fmt.Sprintf(format, a...))
	f.shots = append(f.shots, s)
}

func (f *findings) fail(what string) {
	GinkgoHelper()
	if len(f.lines) == 0 {
		return
	}
	for _, s := range f.shots[:min(3, len(f.shots))] {
		burst.Record(framework.F.Client, s)
	}
	shown := f.lines[:min(8, len(f.lines))]
	more := ""
	if len(f.lines) > len(shown) {
		more = fmt.Sprintf("\n… and %d more", len(f.lines)-len(shown))
	}
	Fail(fmt.Sprintf("%s (%d findings):\n%s%s", what, len(f.lines), strings.Join(shown, "\n"), more))
}

// runsOf are the bursts that show kind k's buckets: at the tenant's limit, above
// it, and one user's; with why each one that cannot be made is missing.
func runsOf(ctx context.Context, k spec.Kind) ([]*run, []string) {
	GinkgoHelper()
	var runs []*run
	var whys []string
	for _, get := range []func(context.Context, spec.Kind) (*run, string){atLimit, overloaded, userRun} {
		if r, why := get(ctx, k); r != nil {
			requireAnswers(r)
			runs = append(runs, r)
		} else {
			whys = append(whys, why)
		}
	}
	if len(runs) == 0 {
		Skip("no burst of " + kindName(k) + " can be sent: " + strings.Join(whys, "; "))
	}
	return runs, whys
}

// candidatesOf are the buckets a shot of a run draws on.
func (r *run) candidatesOf(s *burst.Shot) []candidate {
	in := r.info[s.Index]
	return candidates(in.kind, in.sub, in.who)
}

// remainingFindings holds x-ratelimit-remaining to the buckets: 0 on every 429,
// never above x-ratelimit-limit, and, along the answers that describe one bucket,
// falling as its tokens are spent and rising no faster than it refills. It returns
// how many answers could be placed.
func remainingFindings(r *run, f *findings) (placed, ambiguous int) {
	takes := map[string][]burst.Take{}
	buckets := map[string]candidate{}
	for i := range r.res.Shots {
		s := &r.res.Shots[i]
		if !s.OK() && !is429(s) {
			continue
		}
		h := headersOf(s)
		if is429(s) && !math.IsNaN(h.Remaining) && h.Remaining != 0 {
			f.add(r, s, "x-ratelimit-remaining is %v on a 429: the bucket that refused has no request left", h.Remaining)
		}
		if !math.IsNaN(h.Remaining) && !math.IsNaN(h.Limit) && h.Remaining > h.Limit {
			f.add(r, s, "x-ratelimit-remaining %v exceeds x-ratelimit-limit %v", h.Remaining, h.Limit)
		}
		cs := r.candidatesOf(s)
		d, amb := described(h, cs)
		if amb {
			ambiguous++
		}
		if d != nil && !math.IsNaN(h.Remaining) {
			placed++
		}
		for _, c := range cs {
			t := burst.Take{Index: s.Index, Sent: s.Sent, Received: s.Received, Took: s.OK(), Remaining: math.NaN()}
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
			s := &r.res.Shots[v.Take.Index]
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
func fitFindings(r *run, f *findings) {
	for i := range r.res.Shots {
		s := &r.res.Shots[i]
		if !s.OK() && !is429(s) {
			continue
		}
		h := headersOf(s)
		cs := r.candidatesOf(s)
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
				now = r.res.Started.Add(s.Received)
			}
			// The server's Date is truncated to the second; reset is rounded either way.
			lo, hi := float64(now.Unix())-1, float64(now.Unix())+fullS+2
			if h.Reset < lo || h.Reset > hi {
				f.add(r, s, "x-ratelimit-reset %.0f is not within the %.0f s the bucket needs to refill after the answer's Date %s", h.Reset, fullS, now.UTC().Format(time.RFC3339))
			}
		}
		if is429(s) && !math.IsNaN(h.RetryAfter) && h.RetryAfter > fullS+1 {
			f.add(r, s, "retry-after %v s is longer than the %.0f s the bucket needs to refill from empty", h.RetryAfter, fullS)
		}
	}
}

var _ = Describe("The My Account rate limit", Label("ratelimit"), Serial, Ordered, ContinueOnFailure, func() {
	BeforeAll(func() {
		framework.RequireCustomDomain() // the users sign up with native passkeys, which live there
		rl = newLimits()
		// The ordinary specs before these may have left a tenant bucket part empty:
		// as full as the pacer reckons them.
		for _, k := range spec.Kinds {
			bk := bucketKind(limitModel().Tenant, k)
			if f := framework.F.Client.Pacer.TenantFullAt(k); f.After(rl.full[bk]) {
				rl.full[bk] = f
			}
		}
	})
	// Leave full tenant buckets to the specs that come after.
	AfterAll(func(ctx SpecContext) { waitRefill(ctx) })

	for _, k := range spec.Kinds {
		name := kindName(k)
		Context("on "+name, func() {
			It("answers no 429 while requests stay at the tenant's limit", framework.Req("MA-RL-001"), func(ctx SpecContext) {
				r, why := atLimit(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireAnswers(r)
				if err := r.res.RequireRate(minAtLimit); err != nil {
					framework.Undecided(err.Error())
				}
				main := r.mainShots()
				if _, first := r.bucket.Ideal(times(main, true)); first >= 0 {
					framework.Undecided(fmt.Sprintf("the runner's sends bunched up: request #%d left when even an ideal %s would have been empty. %s", first, r.bucket, r.res.Summary()))
				}
				requireStatuses(r)
				if refused := count(main, is429); refused > 0 {
					var first *burst.Shot
					for _, s := range main {
						if is429(s) && (first == nil || s.Received < first.Received) {
							first = s
						}
					}
					burst.Record(framework.F.Client, first)
					kind := first.Header.Get("X-Auth0-Error-Kind")
					why := ""
					if kind != "global-rate-limit" {
						why = fmt.Sprintf(" No x-auth0-error-kind: global-rate-limit, so a user's limit may have refused, although no user sent more %s than its own bucket holds (some had sent requests of other kinds before, which %s counts apart).", name, planName())
					}
					if kind == "" {
						kind = "none"
					}
					if len(r.alongside) > 0 {
						why += fmt.Sprintf(" The at-limit bursts of %s ran at the same time, each at its own limit, which %s counts apart: a tenant that counts them in one bucket refuses here (see MA-RL-013).", strings.Join(r.alongside, " and "), planName())
					}
					Fail(fmt.Sprintf("%d of %d %s sent at the tenant's limit, %s, over %d users (none sending more than its own bucket holds), were refused with 429; the first at %.3f s, after %d × 2xx (x-auth0-error-kind: %s).%s\n%s",
						refused, len(main), name, r.bucket, usersIn(r.info), first.Received.Seconds(), count(main, func(s *burst.Shot) bool { return s.OK() && s.Received < first.Received }), kind, why, r.res.Summary()))
				}
			})

			It("refuses a burst well above the tenant's limit with 429, letting at most B + R·t through in the first t seconds", framework.Req("MA-RL-002"), func(ctx SpecContext) {
				r, why := overloaded(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireLimited(r, fmt.Sprintf("%s of %d users, none beyond its own bucket", name, r.mainUsers()),
					"The tenant lets more through than its configured limit: check rate_limit in the target config, or the limiter.")
			})

			if k == spec.Read {
				It("counts the requests of many users against the one tenant bucket", framework.Req("MA-RL-007"), func(ctx SpecContext) {
					r, why := overloaded(ctx, k)
					if r == nil {
						Skip(why)
					}
					users := r.mainUsers()
					if users < 2 {
						Skip("the burst had one user")
					}
					requireLimited(r, fmt.Sprintf("%d users together, none beyond its own bucket", users),
						"Users together got more than the tenant's limit: the limit is kept per user (or per token), not per tenant.")
				})
			}

			It("serves the other kinds while the tenant's bucket of this kind is empty", framework.Req("MA-RL-013"), func(ctx SpecContext) {
				if limitModel().Tenant.Shared {
					Skip(planName() + " has one tenant bucket for every request: there is nothing to count apart")
				}
				r, why := overloaded(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireAnswers(r)
				requireStatuses(r)
				main := r.mainShots()
				probes := r.shots(func(_ *burst.Shot, i shotInfo) bool { return i.role == roleProbe })
				if len(probes) == 0 {
					Skip(fmt.Sprintf("%s counts no other kind in a tenant bucket of its own", planName()))
				}
				// Had the probes been counted with the burst in one bucket (this kind's or
				// theirs), fed the burst it would have refused one of them: else they
				// cannot tell shared buckets from apart ones.
				first, span := slices.Min(times(probes, true)), slices.Max(times(probes, true))-slices.Min(times(probes, true))
				for _, o := range apart(limitModel().Tenant, k) {
					of := count(probes, func(s *burst.Shot) bool { return r.info[s.Index].kind == o })
					ob, _ := tenantBucket(o)
					room := math.Inf(1)
					for _, b := range []burst.Bucket{r.bucket, ob} {
						room = math.Min(room, b.TokensAt(times(main, true), first)+b.Rate*span.Seconds()+b.Tol)
					}
					if room >= float64(of) {
						framework.Undecided(fmt.Sprintf("the %d %s probes left %s after the burst, when either bucket, fed the burst, could still have held %.1f of them (with tolerance): they cannot show whether the buckets are apart. %s",
							of, kindName(o), (first - slices.Max(times(main, true))).Round(time.Millisecond), room, r.res.Summary()))
					}
				}
				var f findings
				for _, s := range probes {
					if !s.OK() {
						f.add(r, s, "refused while only the tenant's %s bucket was empty (%d of %d %s refused at the end of the burst)", name,
							count(main[max(0, len(main)-10):], is429), min(10, len(main)), name)
					}
				}
				f.fail(fmt.Sprintf("other kinds refused while the tenant's %s bucket was empty: the tenant counts them in the same bucket as %s", name, name))
			})

			It("answers again after the wait retry-after asked for", framework.Req("MA-RL-006"), func(ctx SpecContext) {
				r, why := overloaded(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireAnswers(r)
				requireOverload(r)
				wait := -1.0
				for _, s := range r.mainShots() {
					if is429(s) {
						if ra := headersOf(s).RetryAfter; !math.IsNaN(ra) {
							wait = math.Max(wait, ra)
						}
					}
				}
				if wait < 0 {
					Skip("the burst drew no 429 with a retry-after to honour (MA-RL-002, MA-RL-004)")
				}
				if wait > maxWait.Seconds() {
					Fail(fmt.Sprintf("retry-after asks for %.0f s; %s refills completely in %s", wait, r.bucket, r.bucket.RefillTime()))
				}
				users := rl.pool.draw(ctx, k, recoverHits)
				// Counted from the end of the burst: by then no request of it takes a token.
				limitWait(ctx, time.Until(r.res.Ended.Add(time.Duration(wait*float64(time.Second)))))
				for i, u := range users {
					resp, err := framework.F.Client.Once(ctx, kindRequest(k, framework.F.Target.CustomDomain, tokenFor(ctx, u, 5*time.Second)))
					rl.drew(map[spec.Kind]int{k: 1}, time.Now())
					resp = answered(resp, err)
					if !between(resp.Status, 200, 299) {
						Fail(fmt.Sprintf("%s, request %d of %d after waiting the %.0f s retry-after asked for (one token interval apart, each after the previous answer), answered %d:\n%s",
							kindOperation(k), i+1, recoverHits, wait, resp.Status, resp.Body))
					}
					limitWait(ctx, r.bucket.Interval())
				}
			})

			It("refuses one user beyond the user's bucket with 429 while the tenant has room", framework.Req("MA-RL-011"), func(ctx SpecContext) {
				r, why := userRun(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireAnswers(r)
				requireStatuses(r)
				main := r.mainShots()
				ub := r.bucket
				if refused, _ := ub.Ideal(times(main, true)); float64(refused) < 1+ub.Tol {
					framework.Undecided(fmt.Sprintf("the runner sent user A's %d %s so slowly that an ideal %s refuses only %d of them. %s", len(main), name, ub, refused, r.res.Summary()))
				}
				if tb := burst.NewBucket(limitModel().Tenant.Bucket(k)); tb.Rate > 0 {
					if _, first := tb.Ideal(times(r.tenantDraws(k), true)); first >= 0 {
						framework.Undecided(fmt.Sprintf("the runner's sends bunched up so that the tenant's %s could have refused request #%d: a 429 would not show the user's limit. %s", tb, first, r.res.Summary()))
					}
				}
				if e := ub.FirstExcess(times(main, false)); e != nil {
					Fail(fmt.Sprintf("user A got %d %s through within %.3f s, where its own bucket, %s, lets at most %.1f through (B + R·t + tolerance %.0f): the per-user limit is missing or larger than configured. %s",
						e.Count, name, e.At.Seconds(), ub, e.Allowed, ub.Tol, r.res.Summary()))
				}
				if count(main, is429) == 0 {
					Fail(fmt.Sprintf("none of user A's %d %s was refused with 429, although they overran its own bucket, %s: the per-user limit is missing. %s", len(main), name, ub, r.res.Summary()))
				}
			})

			It("serves another user while one user's bucket is empty", framework.Req("MA-RL-012"), func(ctx SpecContext) {
				r, why := userRun(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireAnswers(r)
				requireStatuses(r)
				if count(r.mainShots(), is429) == 0 {
					Skip("user A's bucket was never found empty (MA-RL-011 fails), so another user's requests show nothing")
				}
				var f findings
				for _, s := range r.shots(func(_ *burst.Shot, i shotInfo) bool { return i.role == roleOther }) {
					if !s.OK() {
						f.add(r, s, "refused while user A's %s bucket was empty and the tenant's had room", name)
					}
				}
				f.fail(fmt.Sprintf("another user's %s refused while one user's bucket was empty: the per-user limit is shared between users", name))
			})

			It("serves a user's other kinds while the user's bucket of this kind is empty", framework.Req("MA-RL-013"), func(ctx SpecContext) {
				r, why := userRun(ctx, k)
				if r == nil {
					Skip(why)
				}
				requireAnswers(r)
				requireStatuses(r)
				probes := r.shots(func(_ *burst.Shot, i shotInfo) bool { return i.role == roleProbe })
				if len(probes) == 0 {
					Skip(fmt.Sprintf("%s counts no other kind in a user bucket of its own", planName()))
				}
				if count(r.mainShots(), is429) == 0 {
					Skip("user A's bucket was never found empty (MA-RL-011 fails), so its other requests show nothing")
				}
				var f findings
				for _, s := range probes {
					if !s.OK() {
						f.add(r, s, "refused while only user A's %s bucket was empty", name)
					}
				}
				f.fail(fmt.Sprintf("user A's other kinds refused while only its %s bucket was empty: the user's buckets are not kept apart", name))
			})

			It("sends x-ratelimit-limit, -remaining and -reset on every 2xx and 429", framework.Req("MA-RL-003"), func(ctx SpecContext) {
				runs, _ := runsOf(ctx, k)
				var f findings
				for _, r := range runs {
					for i := range r.res.Shots {
						s := &r.res.Shots[i]
						if !s.OK() && !is429(s) {
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
				f.fail("answers without the rate-limit headers")
			})

			It("sends retry-after on every 429, the tenant's and a user's", framework.Req("MA-RL-004"), func(ctx SpecContext) {
				runs, _ := runsOf(ctx, k)
				var f findings
				refused := 0
				for _, r := range runs {
					for i := range r.res.Shots {
						if s := &r.res.Shots[i]; is429(s) {
							refused++
							if math.IsNaN(headersOf(s).RetryAfter) {
								level := "the tenant's bucket"
								if r.level == "user" {
									level = "user A's bucket"
								}
								f.add(r, s, "a 429 of %s without retry-after (it is %s)", level, describeHeader(s.Header, "Retry-After"))
							}
						}
					}
				}
				if refused == 0 {
					Skip("the bursts drew no 429, so there is no retry-after to check (MA-RL-002, MA-RL-011)")
				}
				f.fail("429s without retry-after")
			})

			It("states x-ratelimit-remaining 0 on a 429, falling as requests are served and rising no faster than the bucket refills", framework.Req("MA-RL-009"), func(ctx SpecContext) {
				runs, _ := runsOf(ctx, k)
				var f findings
				placed, ambiguous, refused := 0, 0, 0
				for _, r := range runs {
					p, a := remainingFindings(r, &f)
					placed, ambiguous = placed+p, ambiguous+a
					refused += count(r.shots(func(*burst.Shot, shotInfo) bool { return true }), is429)
				}
				AddReportEntry(verdict.Burst, fmt.Sprintf("x-ratelimit-remaining placed on a bucket (by x-ratelimit-limit) for %d answers; %d could describe either level (the same size)", placed, ambiguous), ReportEntryVisibilityFailureOrVerbose)
				f.fail("x-ratelimit-remaining that does not describe the bucket")
				if placed == 0 && refused == 0 {
					Skip("no answer could be placed on a bucket by its x-ratelimit-limit, and none was a 429")
				}
			})

			It("states an x-ratelimit-limit, -reset and retry-after that fit the bucket they describe", framework.Req("MA-RL-010"), func(ctx SpecContext) {
				runs, _ := runsOf(ctx, k)
				var f findings
				for _, r := range runs {
					fitFindings(r, &f)
				}
				f.fail("rate-limit headers that do not fit the buckets of " + planName())
			})
		})
	}

	It("counts requests on the canonical and the custom domain against the one tenant bucket", framework.Req("MA-RL-008"), func(ctx SpecContext) {
		k, tb, n, why := splitKind()
		if why != "" {
			Skip(why)
		}
		canonical, why := framework.CanonicalMeToken(ctx)
		if canonical == "" {
			Skip(why)
		}
		c := framework.Claims(canonical)
		sub, _ := c["sub"].(string)
		if scope, _ := c["scope"].(string); !slices.Contains(strings.Fields(scope), kindScope(k)) {
			Skip(fmt.Sprintf("the canonical domain's token lacks %s (its scope: %q): the login client's grant for the My Account API does not allow it", kindScope(k), scope))
		}
		// The canonical domain's share: at most what the login user's own bucket holds
		// (as the pacer reckons what the run spent of it), so that only the tenant's
		// bucket can refuse; reserved through the pacer, which waits if need be.
		m := n / 2
		if ub, why := userBucket(k); why == "" {
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
		custom := rl.pool.draw(ctx, k, n-m)
		// The canonical requests spread evenly over the burst.
		plan := make([]shotInfo, 0, n)
		for i, j := 0, 0; i < n; i++ {
			if j < m && i >= (2*j+1)*n/(2*m) {
				plan = append(plan, shotInfo{kind: k, sub: sub, who: "the login user", host: framework.F.Target.Domain, token: canonical, role: roleMain})
				j++
				continue
			}
			u := custom[i-j]
			plan = append(plan, shotInfo{kind: k, user: u, sub: u.Subject, who: "a user", host: framework.F.Target.CustomDomain, role: roleMain})
		}
		waitRefill(ctx, k)
		r := newRun(ctx, fmt.Sprintf("Tenant %s at %.0f× the limit split across %s (%d) and %s (%d)", kindName(k), overload, framework.F.Target.CustomDomain, n-m, framework.F.Target.Domain, m),
			"domains "+kindName(k), "tenant", k, tb, overload*tb.Rate, plan, seriesOf(plan, func(p shotInfo) string { return p.host }))
		r.finish(r.verdictNote(), "A per-tenant limit refuses both domains together as it refuses one; a per-domain limit lets the canonical domain's requests through besides.")
		hint := "The two domains together got more than the tenant's limit: the limit is kept per domain, not per tenant."
		if one := rl.sent("tenant " + string(k) + " above the limit"); one != nil && count(one.mainShots(), is429) > 0 && one.bucket.FirstExcess(times(one.mainShots(), false)) == nil {
			hint += " The custom domain alone was held to it (MA-RL-002)."
		}
		requireLimited(r, fmt.Sprintf("%d %s on %s and %d on %s", n-m, kindName(k), framework.F.Target.CustomDomain, m, framework.F.Target.Domain), hint)
	})
})

// splitKind is the kind the cross-domain burst sends, its tenant bucket and the
// burst's size: of the reads the canonical domain's login user can send (writes
// there would start an enrollment on a domain passkeys may not be bound to), the one
// where the canonical domain's share stands out most above the tolerance.
func splitKind() (spec.Kind, burst.Bucket, int, string) {
	best, bestScore := spec.Kind(""), math.Inf(-1)
	var bestBucket burst.Bucket
	bestN := 0
	var whys []string
	for _, k := range []spec.Kind{spec.Read, spec.FilteredRead} {
		tb, why := tenantBucket(k)
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
		if ub, why := userBucket(k); why == "" {
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

// answered is a single answer outside a burst: transport failures fail the spec (or
// make it INCONCLUSIVE), answers that break the API description other than in
// their rate-limit headers fail it; a 429 comes back for the caller to judge.
func answered(resp *harness.Response, err error) *harness.Response {
	GinkgoHelper()
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			framework.Undecided(ue.Error())
		}
		Fail("request failed: " + err.Error())
	}
	if resp.RequestViolation != nil {
		Fail("suite bug: the suite's own request breaks the API description: " + resp.RequestViolation.Error())
	}
	if v := otherViolations(resp.Violation); v != nil {
		Fail(fmt.Sprintf("%s %s answered %d, which breaks the API description:\n%s", resp.Exchange.Method, resp.Exchange.URL, resp.Status, v))
	}
	return resp
}

func between(v, lo, hi int) bool { return v >= lo && v <= hi }

// Every operation documents 429 (the description's TooManyRequests response): once a
// caller's bucket of a kind is empty, every operation of that kind is refused with
// 429 and retry-after, not only the one that emptied it. Each operation is sent as a
// request the target would otherwise serve (a real id, a pending enrollment with its
// proof, a connect_code), so only the limit can refuse it. The user's bucket is
// emptied by a burst of cheap requests of the kind, and the probes follow at once,
// well within the second a user's bucket takes to get a token back (12 s at 5/min).
// Only fresh users' buckets are emptied: the tenant's room for the bursts is taken
// from the pacer first (sendPaced), so the spec runs among the others, not alone.
var _ = Describe("The My Account rate limit on every operation", Label("ratelimit"), func() {
	It("answers 429 with retry-after on every operation once the caller's bucket of its kind is empty", framework.Req("MA-RL-014"), func(ctx SpecContext) {
		l := limitModel()
		if l.User.Unlimited() {
			Skip(planName() + " has no per-user limit: emptying the tenant's bucket for one probe per operation would need the tenant to itself (the tenant-level specs above draw 429s on their bursts)")
		}
		methodsUser, accountsUser := framework.NewUser(ctx), framework.NewUser(ctx)
		mc := framework.Me(ctx, methodsUser)
		ids := framework.MethodsOf(ctx, mc, "") // 1 read
		Expect(ids).NotTo(BeEmpty(), "a new user lists no authentication method")
		d := framework.DriverFor(ctx, "passkey")
		second := framework.VerifyMethod(ctx, mc, d, methodsUser, framework.StartMethod(ctx, mc, d, methodsUser)) // 2 writes
		pending := framework.StartMethod(ctx, mc, d, methodsUser)                                                 // 1 write
		proof, err := d.Proof(ctx, framework.AsEnrolling(methodsUser), pending)
		Expect(err).NotTo(HaveOccurred())
		verifyURL, err := mc.VerifyURL(pending.Location)
		Expect(err).NotTo(HaveOccurred())

		// What each operation is probed with, by the client it goes through.
		type probe struct {
			c  *myaccount.Client
			op string
			in myaccount.Call
		}
		method := func(id string) map[string]string { return map[string]string{"authentication_method_id": id} }
		probes := []probe{
			{mc, myaccount.ListFactors, myaccount.Call{}},
			{mc, myaccount.ListMethods, myaccount.Call{}},
			{mc, myaccount.ListMethods, myaccount.Call{Query: url.Values{"type": {"passkey"}}}},
			{mc, myaccount.GetMethod, myaccount.Call{Path: method(ids[0])}},
			{mc, myaccount.StartEnrollment, myaccount.Call{Body: d.StartBody(framework.AsEnrolling(methodsUser))}},
			{mc, myaccount.UpdateMethod, myaccount.Call{Path: method(ids[0]), Body: map[string]any{"name": "rate-limited"}}},
			{mc, myaccount.DeleteMethod, myaccount.Call{Path: method(second.ID)}},
			{mc, myaccount.VerifyEnrollment, myaccount.Call{URL: verifyURL, Body: proof.Body}},
		}
		clients := []*myaccount.Client{mc}
		if ca := framework.F.Target.ConnectedAccounts; ca.Connection != "" {
			ac := framework.Me(ctx, accountsUser, framework.AccountScopes...)
			clients = append(clients, ac)
			linked := framework.ExpectCompleted(framework.Complete(ctx, ac, framework.Connect(ctx, ac), nil)) // 2 writes
			next := framework.Connect(ctx, ac)                                                                // 1 write
			probes = append(probes,
				probe{ac, myaccount.ListConnectedAccounts, myaccount.Call{}},
				probe{ac, myaccount.ListConnectedAccounts, myaccount.Call{Query: url.Values{"connection": {ca.Connection}}}},
				probe{ac, myaccount.ListConnections, myaccount.Call{}},
				probe{ac, myaccount.Connect, myaccount.Call{Body: map[string]any{"connection": ca.Connection, "redirect_uri": ca.RedirectURI}}},
				probe{ac, myaccount.Complete, myaccount.Call{Body: map[string]any{"auth_session": next.AuthSession, "connect_code": next.Code,
					"redirect_uri": next.RedirectURI, "code_verifier": next.Verifier}}},
				probe{ac, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": linked}}},
			)
		}

		// The kinds to empty, per client: each bucket the probes draw on.
		type drained struct {
			c *myaccount.Client
			k spec.Kind
		}
		var order []drained
		byBucket := map[drained][]*harness.Request{}
		for _, p := range probes {
			r, err := p.c.Request(p.op, p.in)
			Expect(err).NotTo(HaveOccurred())
			u, _ := url.Parse(r.URL)
			k := spec.KindOf(r.Method, u.Query())
			if l.User.Shared {
				k = spec.Read
			}
			key := drained{p.c, k}
			if _, ok := byBucket[key]; !ok {
				order = append(order, key)
			}
			byBucket[key] = append(byBucket[key], r)
		}
		var f findings
		for _, key := range order {
			b := l.User.Bucket(key.k)
			// Empty the bucket: its burst and one more, sent at once (a request the
			// target refuses with 429 shows it is empty).
			// Requests the user's token may make (its scopes), that change nothing
			// that lasts: a refusal for scope might come before the limit counts.
			cheap, err := key.c.Request(myaccount.ListFactors, myaccount.Call{})
			switch {
			case key.c != mc && key.k == spec.Write:
				cheap, err = key.c.Request(myaccount.Connect, myaccount.Call{Body: map[string]any{"connection": framework.F.Target.ConnectedAccounts.Connection, "redirect_uri": framework.F.Target.ConnectedAccounts.RedirectURI}})
			case key.c != mc && key.k == spec.FilteredRead:
				cheap, err = key.c.Request(myaccount.ListConnectedAccounts, myaccount.Call{Query: url.Values{"connection": {framework.F.Target.ConnectedAccounts.Connection}}})
			case key.c != mc:
				cheap, err = key.c.Request(myaccount.ListConnectedAccounts, myaccount.Call{})
			case key.k == spec.Write:
				cheap, err = key.c.Request(myaccount.StartEnrollment, myaccount.Call{Body: map[string]any{"type": "passkey"}})
			case key.k == spec.FilteredRead:
				cheap, err = key.c.Request(myaccount.ListMethods, myaccount.Call{Query: url.Values{"type": {"passkey"}}})
			}
			Expect(err).NotTo(HaveOccurred())
			empty := sendPaced(ctx, burst.Spec{Name: "empty the bucket", Rate: 50, Count: b.Burst + 1, Request: func(int) *harness.Request { return cheap }})
			if countStatus(empty, http.StatusTooManyRequests) == 0 {
				Fail(fmt.Sprintf("%d %s of one user within %s drew no 429, although the user's bucket (%s) holds %d (MA-RL-011)",
					b.Burst+1, kindName(key.k), empty.Span().Round(time.Millisecond), b, b.Burst))
			}
			reqs := byBucket[key]
			res := sendPaced(ctx, burst.Spec{Name: "a probe per operation", Rate: 50, Count: len(reqs), Request: func(i int) *harness.Request { return reqs[i] }})
			// The bursts went round the pacer: the cleanup after this spec waits for
			// the refill instead of drawing a 429.
			framework.F.Client.Pacer.Drained(key.c.Session.Subject, key.k)
			for i := range res.Shots {
				s := &res.Shots[i]
				switch {
				case s.Err != nil:
					f.addShot(s, "the request failed: %v", s.Err)
				case s.Status != http.StatusTooManyRequests:
					f.addShot(s, "answered while the user's bucket of %s (%s) was empty: %.200s", kindName(key.k), b, s.Body)
				case math.IsNaN(headersOf(s).RetryAfter): // seconds or an HTTP-date (RFC 9110 §10.2.3)
					f.addShot(s, "a 429 without retry-after (%s)", describeHeader(s.Header, "Retry-After"))
				case s.Violation != nil:
					f.addShot(s, "the 429 breaks the API description: %v", s.Violation)
				}
			}
		}
		// Both users' buckets are empty: deleting what they created one request at a
		// time would wait out the refill (12 s a write). With a Management API client
		// the users are deleted at the end of the run with everything they have.
		if framework.F.Target.Management.ClientID != "" {
			for _, c := range clients {
				for _, r := range c.Created() {
					c.Forget(r.Kind, r.ID)
				}
			}
		}
		f.fail("operations not refused with 429 (and retry-after) while the caller's bucket was empty")
	})
})

// sendPaced sends a burst of a user's requests among other specs: each request first
// takes its room in the tenant's buckets from the pacer, which every worker's
// ordinary requests draw on too, so that only the user's own bucket can refuse it.
// It is validated after.
func sendPaced(ctx context.Context, b burst.Spec) *burst.Result {
	GinkgoHelper()
	for i := range b.Count {
		r := b.Request(i)
		u, err := url.Parse(r.URL)
		Expect(err).NotTo(HaveOccurred())
		if err := framework.F.Client.Pacer.MyAccount(ctx, "", r.Method, u.Query()); err != nil {
			framework.Undecided("waiting for the tenant's room: " + err.Error())
		}
	}
	res := reportBurst(burst.Send(ctx, framework.F.Client, b))
	burst.Validate(framework.F.Client, res)
	return res
}

func countStatus(res *burst.Result, status int) int { return res.Statuses()[status] }
