package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// traffic is what the rate-limit specs of the ordered Describe share, owned by it:
// the users, the bursts sent (each once, for every spec that judges it, kept as
// sent and as the oracle reads them) and when each tenant bucket is full again.
type traffic struct {
	pool   *pool
	slots  map[string]*slot
	tokens map[*framework.User]held
	full   map[spec.Kind]time.Time // by the kind naming the tenant's bucket
	runs   map[string]*run         // every finished burst, by key
	order  []string                // their keys, as they finished
	// recoveries are the answers after waiting a retry-after (MA-RL-006).
	recoveries []Recovery
	observed   []Observed // how the specs ended, when recording
}

func newTraffic() *traffic {
	return &traffic{pool: &pool{}, slots: map[string]*slot{}, tokens: map[*framework.User]held{}, full: map[spec.Kind]time.Time{}, runs: map[string]*run{}}
}

type slot struct {
	r    *run
	skip string // why the burst cannot show anything on this target
	fail string // set while sending: a spec that finds it set sees an unfinished burst
}

// get returns the burst named key, sending it with build the first time.
func (t *traffic) get(ctx context.Context, key string, build func(context.Context) (*run, string)) (*run, string) {
	GinkgoHelper()
	s := t.slots[key]
	if s == nil {
		s = &slot{fail: "the burst " + key + " could not be sent (see the spec that sent it first)"}
		t.slots[key] = s
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
func (t *traffic) sent(key string) *run {
	if s := t.slots[key]; s != nil {
		return s.r
	}
	return nil
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
func (t *traffic) signedUp(ctx context.Context) *framework.User {
	GinkgoHelper()
	if u := framework.BorrowRested(ctx); u != nil {
		return u // tokenFor logs it in
	}
	at := time.Now() // the token lives from the signup's start at most
	u := framework.NewUser(ctx)
	framework.Claim(u) // its buckets are the bursts'
	t.tokens[u] = heldOf(u.Signup, at)
	return u
}

// tokenFor is u's access token with at least need left: a target may give the My
// Account API short-lived tokens, so u logs in again (a passkey login, which no My
// Account limit counts) when the one it holds runs out sooner.
func (t *traffic) tokenFor(ctx context.Context, u *framework.User, need time.Duration) string {
	GinkgoHelper()
	h, ok := t.tokens[u]
	if !ok || (!h.until.IsZero() && time.Until(h.until) < need) {
		at := time.Now()
		h = heldOf(framework.SignIn(ctx, u, u.Passkeys[0], framework.F.Target.CustomDomain), at)
		t.tokens[u] = h
	}
	return h.token
}

// withTokens gives each request of plan its user's token, good for need from when
// the last of them is had. Logins take a round trip or two each, which far from the
// target adds up over a burst's users: they go several at a time, and the tokens are
// checked again once all are had, so that none had early runs short before the
// burst starts (seen: 300 ms away with 12 s tokens, one login after another, the
// first users' tokens had expired when their burst left).
func (t *traffic) withTokens(ctx context.Context, plan []shotInfo, need time.Duration) {
	GinkgoHelper()
	// margin: while a round of logins goes, the others' tokens age; a round logs in
	// too those that would run short by the time a round like the last one is over.
	var margin time.Duration
	for pass := 0; ; pass++ {
		if t.shortOf(plan, need) == nil {
			for i := range plan {
				if plan[i].user != nil {
					plan[i].token = t.tokens[plan[i].user].token
				}
			}
			return
		}
		if pass == maxLoginPasses {
			break
		}
		start := time.Now()
		t.logIn(ctx, t.shortOf(plan, need+margin))
		margin = 2 * time.Since(start)
	}
	framework.Undecided(fmt.Sprintf("the target's My Account tokens live too short for a burst: logging in its %d users took longer than a token lasts, less the %s the burst needs", countUsers(plan), need.Round(time.Millisecond)))
}

// maxLoginPasses bounds withTokens' rounds of logins.
const maxLoginPasses = 3

// loginsAtOnce is how many users withTokens logs in at the same time.
const loginsAtOnce = 8

// shortOf are the users of plan (each once) whose token runs short of need.
func (t *traffic) shortOf(plan []shotInfo, need time.Duration) []*framework.User {
	var short []*framework.User
	seen := map[*framework.User]bool{}
	for _, s := range plan {
		if u := s.user; u != nil && !seen[u] && t.runsShort(u, need) {
			seen[u] = true
			short = append(short, u)
		}
	}
	return short
}

// runsShort says whether u holds no token, or one with less than need left.
func (t *traffic) runsShort(u *framework.User, need time.Duration) bool {
	h, ok := t.tokens[u]
	return !ok || (!h.until.IsZero() && time.Until(h.until) < need)
}

// logIn logs users in with their first passkey, loginsAtOnce at a time, and keeps
// their tokens.
func (t *traffic) logIn(ctx context.Context, users []*framework.User) {
	GinkgoHelper()
	got := make([]held, len(users))
	atOnce(len(users), loginsAtOnce, func(i int) {
		at := time.Now() // the token lives from the login's start at most
		got[i] = heldOf(framework.SignIn(ctx, users[i], users[i].Passkeys[0], framework.F.Target.CustomDomain), at)
	})
	for i, u := range users {
		if got[i].token == "" {
			Fail("logging in the users of a burst failed (see above)")
		}
		t.tokens[u] = got[i]
	}
}

// atOnce runs f(0) … f(n-1), at most limit of them at the same time, and returns
// when all are done; a failure in one fails the spec (the others finish).
func atOnce(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer GinkgoRecover()
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// countUsers is how many users plan's requests have.
func countUsers(plan []shotInfo) int {
	seen := map[*framework.User]bool{}
	for _, s := range plan {
		if s.user != nil {
			seen[s.user] = true
		}
	}
	return len(seen)
}

// drew notes that n requests of each kind drew on the tenant's buckets until end:
// a bucket is full again at most n/R after it would have been anyway, and never
// later than a whole refill after end (429s take no token; the bound errs long).
func (t *traffic) drew(byKind map[spec.Kind]int, end time.Time) {
	tenant := limitModel().Tenant
	for k, n := range byKind {
		b := tenant.Bucket(k)
		if b.Unlimited() || n == 0 {
			continue
		}
		bb := burst.NewBucket(b)
		bk := bucketKind(tenant, k)
		from := end
		if t.full[bk].After(end) {
			from = t.full[bk]
		}
		full := from.Add(time.Duration(float64(n) / bb.Rate * float64(time.Second)))
		if whole := end.Add(bb.RefillTime()); full.After(whole) {
			full = whole
		}
		t.full[bk] = full
	}
}

// waitRefill lets the tenant's buckets of kinds (all when none is named) fill up
// after the requests that drew on them: the next burst starts from a known state,
// and the specs after these find the limits as the ordinary traffic left them.
func (t *traffic) waitRefill(ctx context.Context, kinds ...spec.Kind) {
	if len(kinds) == 0 {
		kinds = spec.Kinds
	}
	var until time.Time
	for _, k := range kinds {
		if f := t.full[bucketKind(limitModel().Tenant, k)]; f.After(until) {
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

// limitWait pauses for d, a wait the limits under test set (a refill, a retry-after),
// counted in the run's floor.
func limitWait(ctx context.Context, d time.Duration) {
	framework.F.Client.Pacer.Hold(d)
	framework.Pause(ctx, d)
}

// fire sends plan as one burst at rate, without validating (so that a probe can
// follow at once). A burst the runner could not finish is INCONCLUSIVE.
func (t *traffic) fire(ctx context.Context, name string, rate float64, plan []shotInfo) *burst.Result {
	GinkgoHelper()
	defer func() { t.drew(kindsOf(plan), time.Now()) }()
	return sendBurst(ctx, planSpec(name, rate, plan))
}

// sendBurst sends a burst and leaves its figures in the report; a burst the runner
// could not finish is INCONCLUSIVE.
func sendBurst(ctx context.Context, b burst.Spec) *burst.Result {
	GinkgoHelper()
	res, err := burst.Send(ctx, framework.F.Client, b)
	framework.F.Client.Pacer.Hold(nominal(b)) // sent at a rate the limits set: the floor counts it
	return reportBurst(res, err)
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

// run is a burst (with any probes merged in) and what each of its requests was.
type run struct {
	key    string // names the burst among the specs' (atLimitKey, …)
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

// rec is the run as the oracle reads it.
func (r *run) rec() *Run {
	return runOf(r.key, r.level, r.kind, r.bucket, r.alongside, r.res, r.info)
}

// newRun sends plan (the main requests and any probes of the same user, in order)
// and returns the run, not yet finished.
func (t *traffic) newRun(ctx context.Context, key, title, name, level string, k spec.Kind, b burst.Bucket, rate float64, plan []shotInfo, series []string) *run {
	GinkgoHelper()
	r := &run{key: key, title: title, level: level, kind: k, bucket: b, info: plan, series: series}
	t.withTokens(ctx, plan, burstTime(plan, rate))
	r.res = t.fire(ctx, name, rate, plan)
	return r
}

// newRunProbed is newRun with probes sent at probeRate right after the burst's last
// request, while its answers are still on their way: however far the target is,
// the probes meet the buckets as the burst left them (not refilled while its
// answers travelled back).
func (t *traffic) newRunProbed(ctx context.Context, key, title, name, level string, k spec.Kind, b burst.Bucket, rate float64, plan []shotInfo, series []string,
	probeName string, probes []shotInfo, probeSeries []string) *run {
	GinkgoHelper()
	if len(probes) == 0 {
		return t.newRun(ctx, key, title, name, level, k, b, rate, plan, series)
	}
	need := burstTime(plan, rate) + burstTime(probes, probeRate)
	t.withTokens(ctx, plan, need)
	t.withTokens(ctx, probes, need)
	r := &run{key: key, title: title, level: level, kind: k, bucket: b, info: append(slices.Clone(plan), probes...), series: append(slices.Clone(series), probeSeries...)}
	defer func() { t.drew(kindsOf(r.info), time.Now()) }()
	main, then := planSpec(name, rate, plan), planSpec(probeName, probeRate, probes)
	rs, err := burst.SendEach(ctx, framework.F.Client, main, then)
	framework.F.Client.Pacer.Hold(nominal(main) + nominal(then))
	if len(rs) == 0 {
		reportBurst(nil, err)
	}
	for i, res := range rs {
		if i == len(rs)-1 {
			reportBurst(res, err) // a burst cut short is the last one sent
		} else {
			reportBurst(res, nil)
		}
	}
	r.res = rs[0]
	r.res.Merge(rs[1])
	return r
}

// merge sends plan right away as a burst of its own at rate and adds it to the run.
func (t *traffic) merge(ctx context.Context, r *run, name string, rate float64, plan []shotInfo, series []string) {
	GinkgoHelper()
	t.withTokens(ctx, plan, burstTime(plan, rate))
	r.res.Merge(t.fire(ctx, name, rate, plan))
	r.info = append(r.info, plan...)
	r.series = append(r.series, series...)
}

// finish validates a run's answers (after the timed part), draws its picture and
// keeps it for the oracle.
func (t *traffic) finish(r *run, notes ...string) {
	GinkgoHelper()
	for i := range r.res.Shots {
		r.res.Shots[i].Series = r.series[r.res.Shots[i].Index]
	}
	burst.Validate(framework.F.Client, r.res)
	r.picture(notes...)
	if _, ok := t.runs[r.key]; !ok {
		t.order = append(t.order, r.key)
	}
	t.runs[r.key] = r
}

// picture attaches the run's timeline as data, which the report draws into the
// report dir (the timeline entry names the file).
func (r *run) picture(notes ...string) {
	GinkgoHelper()
	b := r.bucket
	tl := burst.Timeline{Title: r.title, Rate: b.Rate, Burst: b.Size, Tolerance: b.Tol, Notes: notes,
		Counted: func(s *burst.Shot) bool { return r.info[s.Index].role == roleMain }}
	if e := b.FirstExcess(times(r.rec().mainShots(), false)); e != nil {
		tl.Marks = append(tl.Marks, burst.TimelineMark{At: e.At, Count: float64(e.Count), Label: "2xx beyond the limit"})
	}
	p := r.res.Picture(tl)
	data, err := json.Marshal(p)
	if err != nil {
		AddReportEntry(verdict.Timeline, "the timeline could not be recorded: "+err.Error(), ReportEntryVisibilityFailureOrVerbose)
		return
	}
	AddReportEntry(verdict.TimelineData, string(data), ReportEntryVisibilityNever)
	AddReportEntry(verdict.Timeline, filepath.Join(framework.F.ReportDir, p.File), ReportEntryVisibilityFailureOrVerbose)
}

// verdictNote is the picture's note on the bound.
func (r *run) verdictNote() string {
	main := r.rec().mainShots()
	span := r.res.Span()
	b := r.bucket
	v := fmt.Sprintf("%d × 2xx and %d × 429 of %d %s in %.3f s; %s allows at most %.1f (+ tolerance %.0f) in that time",
		count(main, ok), count(main, is429), len(main), kindName(r.kind), span.Seconds(), b, b.Allowed(span)-b.Tol, b.Tol)
	if e := b.FirstExcess(times(main, false)); e != nil {
		v += fmt.Sprintf(" — EXCEEDED at %.3f s: %d × 2xx where at most %.1f are allowed", e.At.Seconds(), e.Count, e.Allowed)
	}
	return v
}

// shot is the sent shot a finding names, for its exchange in the report.
func (t *traffic) shot(ref ShotRef) *burst.Shot {
	if r := t.runs[ref.Run]; r != nil && ref.Index < len(r.res.Shots) {
		return &r.res.Shots[ref.Index]
	}
	return nil
}

// history is what the specs sent, for the oracle's offline tests.
func (t *traffic) history() *History {
	h := &History{Limits: limitModel(), Skips: map[string]string{}, Recoveries: t.recoveries, Observed: t.observed}
	for _, key := range t.order {
		h.Runs = append(h.Runs, *t.runs[key].rec())
	}
	for key, s := range t.slots {
		if s.skip != "" {
			h.Skips[key] = s.skip
		}
	}
	return h
}

// save writes the history where RecordEnv asks, if it does.
func (t *traffic) save() {
	path := recordTo("bursts.json.gz")
	if path == "" || len(t.order) == 0 {
		return
	}
	if err := WriteHistory(path, t.history()); err != nil {
		fmt.Fprintf(GinkgoWriter, "recording the rate-limit bursts: %v\n", err)
	}
}
