package suites

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// The My Account rate limit (PROTOCOL §6): a token bucket per tenant of B requests,
// refilled at R per second, both from the target config (rate_limit). A bucket lets
// at most B + R·t requests through in the first t seconds of a burst, whatever the
// burst's shape: that bound, not a fixed one-second window, is what the specs hold a
// target to. Bursts go through harness.Client.Burst — exactly N requests at a set
// rate, none waiting for another — and never through Do, whose pacing and 429 retry
// keep the ordinary specs below the limit.

const (
	overload    = 4.0                     // bursts are sent at 4× the limit
	burstFor    = 1500 * time.Millisecond // at least; longer when the bucket is large
	atLimitFor  = 3 * time.Second
	maxShots    = 400 // per burst
	minAtLimit  = 0.8 // sent slower than 80% of the limit, "at the limit" is not shown: INCONCLUSIVE
	minOverload = 0.5 // a burst sent slower than half its rate (2× the limit): INCONCLUSIVE
	maxWait     = 30 * time.Second
	recoverHits = 3 // requests after waiting retry-after
)

// limitBucket is the limit as configured, with the tolerance the specs allow above it.
type limitBucket struct {
	R   float64
	B   int
	Tol float64
}

func configuredLimit() limitBucket {
	tb := F.Target.RateLimit.Limits().Tenant.Read
	r, b := tb.Rate, tb.Burst
	// 10% of the bucket, at least one request: a distributed limiter may count a
	// request or two late.
	return limitBucket{R: r, B: b, Tol: math.Max(1, math.Ceil(0.1*float64(b)))}
}

func (l limitBucket) String() string {
	return fmt.Sprintf("a bucket of %d refilled at %.4g/s (rate_limit in the target config)", l.B, l.R)
}

// allowed is the most 2xx a token bucket lets through in the first t seconds, with
// the tolerance.
func (l limitBucket) allowed(t time.Duration) float64 { return float64(l.B) + l.R*t.Seconds() + l.Tol }

// refillTime is how long an empty bucket takes to fill.
func (l limitBucket) refillTime() time.Duration {
	return time.Duration(float64(l.B) / l.R * float64(time.Second))
}

// waitRefill lets the bucket fill up: the next burst starts from a known state, and
// the specs after these find the limit as the ordinary traffic left it.
func waitRefill(ctx context.Context, l limitBucket) {
	pause(ctx, min(l.refillTime()+250*time.Millisecond, maxWait))
}

// burstSize is how many requests a burst at overload× the limit needs to empty the
// bucket and then show the refill: it lasts burstFor, or twice the time to empty
// the bucket when that is longer. It skips when that takes more than maxShots.
func burstSize(l limitBucket) int {
	rate := overload * l.R
	drain := float64(l.B) / (rate - l.R) // seconds until the bucket is empty
	n := int(math.Ceil(rate * math.Max(burstFor.Seconds(), 2*drain)))
	if n > maxShots {
		// Still fine if the burst is refused often enough to tell.
		n = maxShots
		allowed := l.allowed(time.Duration(float64(n) / rate * float64(time.Second)))
		if float64(n)-allowed < float64(overloadMargin(n, l)) {
			Skip(fmt.Sprintf("a bucket of %d at %.4g/s cannot be emptied by a burst of at most %d requests", l.B, l.R, maxShots))
		}
	}
	return n
}

// factors is the cheap read every burst sends.
func factorsRequest(host, token string) *harness.Request {
	return &harness.Request{Method: http.MethodGet, URL: harness.MeURL(host, "/factors"), Bearer: token}
}

// sendBurst sends a burst and validates the answers afterwards. A burst the runner
// could not finish is INCONCLUSIVE.
func sendBurst(ctx context.Context, b burst.Spec) *burst.Result {
	GinkgoHelper()
	res, err := burst.Send(ctx, F.Client, b)
	if res != nil {
		AddReportEntry(verdict.Burst, res.Summary(), ReportEntryVisibilityFailureOrVerbose)
	}
	if err != nil {
		var ue *harness.UnreachableError
		if res != nil || errors.As(err, &ue) {
			undecided(err.Error())
		}
		Fail("burst: " + err.Error())
	}
	burst.Validate(F.Client, res)
	return res
}

// picture writes the burst's timeline into the report dir.
func burstPicture(res *burst.Result, l limitBucket, title string, notes ...string) {
	GinkgoHelper()
	tl := burst.Timeline{Title: title, Rate: l.R, Burst: l.B, Tolerance: l.Tol, Notes: notes}
	if e := firstExcess(res, l); e != nil {
		tl.Marks = append(tl.Marks, burst.TimelineMark{At: e.At, Count: float64(e.Count), Label: "2xx beyond the limit"})
	}
	path, err := burst.WriteTimelineFile(F.ReportDir, res, tl)
	if err != nil {
		AddReportEntry(verdict.Timeline, "the timeline could not be written: "+err.Error(), ReportEntryVisibilityFailureOrVerbose)
		return
	}
	AddReportEntry(verdict.Timeline, path, ReportEntryVisibilityFailureOrVerbose)
}

// requireAnswers fails (or, when the target could not be reached, ends as
// INCONCLUSIVE) on transport errors and answers that break the API description.
func requireAnswers(res *burst.Result) {
	GinkgoHelper()
	var failed, unreachable []*burst.Shot
	var violations []*burst.Shot
	for i := range res.Shots {
		s := &res.Shots[i]
		var ue *harness.UnreachableError
		switch {
		case errors.As(s.Err, &ue):
			unreachable = append(unreachable, s)
		case s.Err != nil:
			failed = append(failed, s)
		case s.Violation != nil:
			violations = append(violations, s)
		}
	}
	switch {
	case len(failed) > 0:
		burst.Record(F.Client, failed[0])
		Fail(fmt.Sprintf("%d of %d requests of the burst failed; the first: %v", len(failed), len(res.Shots), failed[0].Err))
	case len(unreachable) > 0:
		undecided(fmt.Sprintf("%d of %d requests of the burst got no answer; the first: %v", len(unreachable), len(res.Shots), unreachable[0].Err))
	case len(violations) > 0:
		for _, s := range violations[:min(3, len(violations))] {
			burst.Record(F.Client, s)
		}
		s := violations[0]
		Fail(fmt.Sprintf("%d of %d answers of the burst break the API description; request #%d answered %d:\n%v",
			len(violations), len(res.Shots), s.Index, s.Status, s.Violation))
	}
}

// requireOverload ends the spec as INCONCLUSIVE unless the runner really sent the
// burst above the limit: at least half its requested rate, and so many requests so
// fast that even an ideal bucket, fed them as they left, refuses a clear number. A
// slow or stalled runner must not make a limit look right or wrong.
func requireOverload(res *burst.Result, l limitBucket) {
	GinkgoHelper()
	if err := res.RequireRate(minOverload); err != nil {
		undecided(err.Error())
	}
	refused, _ := ideal(res, l)
	if need := overloadMargin(len(res.Shots), l); refused < need {
		undecided(fmt.Sprintf("the runner could not send a burst that overloads the bucket: fed the requests as they left, an ideal %s refuses only %d, fewer than the %d needed to decide. %s",
			l, refused, need, res.Summary()))
	}
}

// overloadMargin is how many of n requests an ideal bucket must refuse for a burst
// to decide: 10% of them (at least 5) beyond the tolerance.
func overloadMargin(n int, l limitBucket) int {
	return int(math.Max(5, math.Ceil(0.1*float64(n))) + l.Tol)
}

// ideal feeds the burst's requests, at the times they were sent, to an ideal bucket
// that starts full: how many it refuses, and the index of the first it refuses (-1).
func ideal(res *burst.Result, l limitBucket) (refused, first int) {
	sends := make([]time.Duration, 0, len(res.Shots))
	for _, s := range res.Shots {
		sends = append(sends, s.Sent)
	}
	slices.Sort(sends)
	first = -1
	tokens, last := float64(l.B), time.Duration(0)
	if len(sends) > 0 {
		last = sends[0]
	}
	for i, t := range sends {
		tokens = math.Min(float64(l.B), tokens+(t-last).Seconds()*l.R)
		last = t
		if tokens < 1 {
			refused++
			if first < 0 {
				first = i
			}
			continue
		}
		tokens--
	}
	return refused, first
}

// limitExcess is the first moment the 2xx so far exceed what the bucket allows.
type limitExcess struct {
	At      time.Duration
	Count   int
	Allowed float64
}

func firstExcess(res *burst.Result, l limitBucket) *limitExcess {
	var oks []time.Duration
	for _, s := range res.Shots {
		if s.Err == nil && s.Status >= 200 && s.Status < 300 {
			oks = append(oks, s.Received)
		}
	}
	slices.Sort(oks)
	for k, t := range oks {
		// Received is counted from the first send, which is before the server took
		// its first token: the bound is never tighter than the bucket's.
		if float64(k+1) > l.allowed(t) {
			return &limitExcess{At: t, Count: k + 1, Allowed: l.allowed(t)}
		}
	}
	return nil
}

func countStatus(res *burst.Result, status int) int {
	return res.Statuses()[status]
}

func count2xx(res *burst.Result) int {
	n := 0
	for _, s := range res.Shots {
		if s.Err == nil && s.Status >= 200 && s.Status < 300 {
			n++
		}
	}
	return n
}

// limitVerdict is the picture's note on the bound.
func limitVerdict(res *burst.Result, l limitBucket) string {
	span := res.Span()
	v := fmt.Sprintf("%d × 2xx and %d × 429 in %.3f s; a bucket of %d at %.4g/s allows at most %.1f (+ tolerance %.0f) in that time",
		count2xx(res), countStatus(res, 429), span.Seconds(), l.B, l.R, l.allowed(span)-l.Tol, l.Tol)
	if e := firstExcess(res, l); e != nil {
		v += fmt.Sprintf(" — EXCEEDED at %.3f s: %d × 2xx where at most %.1f are allowed", e.At.Seconds(), e.Count, e.Allowed)
	}
	return v
}

// requireLimited holds a burst to the bucket: 429s appear, and never more 2xx than
// B + R·t (+ tolerance) in the first t seconds.
func requireLimited(res *burst.Result, l limitBucket, what, hint string) {
	GinkgoHelper()
	requireAnswers(res)
	requireOverload(res, l)
	for _, s := range res.Shots {
		if s.Status != 429 && (s.Status < 200 || s.Status >= 300) {
			burst.Record(F.Client, &s)
			Fail(fmt.Sprintf("%s: request #%d answered %d; a burst of valid reads answers 2xx or 429", what, s.Index, s.Status))
		}
	}
	if e := firstExcess(res, l); e != nil {
		span := res.Span()
		Fail(fmt.Sprintf("%s: %d requests succeeded within %.3f s of the burst's start, where %s lets at most %.1f through (B + R·t + tolerance %.0f); over the whole burst %d succeeded in %.3f s where at most %.1f may. %s\n%s",
			what, e.Count, e.At.Seconds(), l, e.Allowed, l.Tol, count2xx(res), span.Seconds(), l.allowed(span), hint, res.Summary()))
	}
	if countStatus(res, 429) == 0 {
		Fail(fmt.Sprintf("%s: no request was refused with 429, although the burst asked for %.4g/s against %s.\n%s",
			what, res.Rate, l, res.Summary()))
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
	if err != nil || v < 0 || math.IsInf(v, 0) {
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

func limitedOrOK(s *burst.Shot) bool {
	return s.Err == nil && (s.Status == 429 || (s.Status >= 200 && s.Status < 300))
}

// burstFindings collects what is wrong with a burst's answers, each with the shot it is
// about, and fails the spec with the first few.
type burstFindings struct {
	lines []string
	shots []*burst.Shot
}

func (f *burstFindings) add(s *burst.Shot, format string, a ...any) {
	f.lines = append(f.lines, fmt.Sprintf("request #%d (%d, answered at %.3f s): ", s.Index, s.Status, s.Received.Seconds())+fmt.Sprintf(format, a...))
	f.shots = append(f.shots, s)
}

func (f *burstFindings) fail(what string, res *burst.Result) {
	GinkgoHelper()
	if len(f.lines) == 0 {
		return
	}
	for _, s := range f.shots[:min(3, len(f.shots))] {
		burst.Record(F.Client, s)
	}
	shown := f.lines[:min(8, len(f.lines))]
	more := ""
	if len(f.lines) > len(shown) {
		more = fmt.Sprintf("\n… and %d more", len(f.lines)-len(shown))
	}
	Fail(fmt.Sprintf("%s (%d findings in %d answers):\n%s%s", what, len(f.lines), len(res.Shots), strings.Join(shown, "\n"), more))
}

var _ = Describe("The My Account rate limit", Label("ratelimit"), Serial, Ordered, ContinueOnFailure, func() {
	var (
		l    limitBucket
		a, b *user // two users of the custom domain
		main *burst.Result
	)

	BeforeAll(func(ctx SpecContext) {
		requireCustomDomain() // the suite logs in with native passkeys, which live there
		l = configuredLimit()
		main = nil
		a, b = signUp(ctx, authenticator.ES256), signUp(ctx, authenticator.ES256)
	})
	// Leave a full bucket to the specs that come after.
	AfterAll(func(ctx SpecContext) { waitRefill(ctx, l) })

	// splitHint explains a split burst that got through: by the split itself only if
	// one user on one domain was held to the limit.
	splitHint := func(hint string) string {
		switch {
		case main == nil: // the single-user burst did not run (filtered out)
			return hint
		case countStatus(main, 429) > 0 && firstExcess(main, l) == nil:
			return hint + " One user on one domain was held to it (MA-RL-002)."
		}
		return "One user on one domain is not held to the limit either (MA-RL-002)."
	}

	// burst sends the main burst once, for the specs that read it.
	mainBurst := func(ctx context.Context) *burst.Result {
		GinkgoHelper()
		if main == nil {
			waitRefill(ctx, l)
			host, token := F.Target.CustomDomain, a.Signup.AccessToken
			main = sendBurst(ctx, burst.Spec{
				Name: "burst", Rate: overload * l.R, Count: burstSize(l),
				Request: func(int) *harness.Request { return factorsRequest(host, token) },
			})
			burstPicture(main, l, fmt.Sprintf("A burst at %.0f× the limit: GET /me/v1/factors, one user, %s", overload, host), limitVerdict(main, l))
		} else {
			AddReportEntry(verdict.Burst, "(the burst of an earlier spec) "+main.Summary(), ReportEntryVisibilityFailureOrVerbose)
		}
		return main
	}

	It("answers no 429 while requests stay at the limit", Req("MA-RL-001"), func(ctx SpecContext) {
		waitRefill(ctx, l)
		host, token := F.Target.CustomDomain, a.Signup.AccessToken
		n := min(maxShots, int(math.Ceil(l.R*atLimitFor.Seconds())))
		res := sendBurst(ctx, burst.Spec{
			Name: "at the limit", Rate: l.R, Count: n,
			Request: func(int) *harness.Request { return factorsRequest(host, token) },
		})
		refused := countStatus(res, 429)
		burstPicture(res, l, fmt.Sprintf("At the limit: GET /me/v1/factors at %.4g/s, one user, %s", l.R, host),
			fmt.Sprintf("%d × 2xx, %d × 429; at the limit none may be refused", count2xx(res), refused))
		requireAnswers(res)
		if err := res.RequireRate(minAtLimit); err != nil {
			undecided(err.Error())
		}
		if sim := bunching(res, l); sim != "" {
			undecided(sim)
		}
		if refused > 0 {
			var first *burst.Shot
			for i := range res.Shots {
				if s := &res.Shots[i]; s.Status == 429 && (first == nil || s.Received < first.Received) {
					first = s
				}
			}
			burst.Record(F.Client, first)
			kind := first.Header.Get("X-Auth0-Error-Kind")
			if kind == "" {
				kind = "none"
			}
			Fail(fmt.Sprintf("%d of %d requests sent at the limit, %s, were refused with 429; the first at %.3f s, after %d × 2xx (x-auth0-error-kind: %s).\n%s",
				refused, len(res.Shots), l, first.Received.Seconds(), okBefore(res, first.Received), kind, res.Summary()))
		}
		Expect(count2xx(res)).To(Equal(len(res.Shots)), "every request at the limit succeeds: %s", res.Summary())
	})

	It("refuses a burst well above the limit with 429, letting at most B + R·t through in the first t seconds", Req("MA-RL-002"), func(ctx SpecContext) {
		requireLimited(mainBurst(ctx), l, "one user, one domain",
			"The tenant lets more through than its configured limit: check rate_limit in the target config, or the limiter.")
	})

	It("sends x-ratelimit-limit, -remaining and -reset on every 2xx and 429 of the burst", Req("MA-RL-003"), func(ctx SpecContext) {
		res := mainBurst(ctx)
		requireAnswers(res)
		requireOverload(res, l)
		var f burstFindings
		for i := range res.Shots {
			s := &res.Shots[i]
			if !limitedOrOK(s) {
				continue
			}
			h := headersOf(s)
			for _, c := range []struct {
				name string
				v    float64
			}{{"x-ratelimit-limit", h.Limit}, {"x-ratelimit-remaining", h.Remaining}, {"x-ratelimit-reset", h.Reset}} {
				if math.IsNaN(c.v) {
					f.add(s, "%s is %s", c.name, describeHeader(s.Header, c.name))
				}
			}
		}
		f.fail("answers without the rate-limit headers", res)
	})

	It("sends retry-after on every 429", Req("MA-RL-004"), func(ctx SpecContext) {
		res := mainBurst(ctx)
		requireAnswers(res)
		requireOverload(res, l)
		if countStatus(res, 429) == 0 {
			Skip("the burst drew no 429, so there is no retry-after to check (MA-RL-002 fails)")
		}
		var f burstFindings
		for i := range res.Shots {
			if s := &res.Shots[i]; s.Status == 429 && math.IsNaN(headersOf(s).RetryAfter) {
				f.add(s, "retry-after is %s", describeHeader(s.Header, "Retry-After"))
			}
		}
		f.fail("429s without retry-after", res)
	})

	It("keeps x-ratelimit-remaining, -reset and retry-after consistent with the bucket", Req("MA-RL-005"), func(ctx SpecContext) {
		res := mainBurst(ctx)
		requireAnswers(res)
		requireOverload(res, l)
		var f burstFindings
		consistency(res, l, &f)
		f.fail("rate-limit headers that do not describe the bucket", res)
	})

	It("answers again after the wait retry-after asked for", Req("MA-RL-006"), func(ctx SpecContext) {
		res := mainBurst(ctx)
		requireAnswers(res)
		requireOverload(res, l)
		wait := -1.0
		for i := range res.Shots {
			if s := &res.Shots[i]; s.Status == 429 {
				if ra := headersOf(s).RetryAfter; !math.IsNaN(ra) {
					wait = math.Max(wait, ra)
				}
			}
		}
		if wait < 0 {
			Skip("the burst drew no 429 with a retry-after to honour (MA-RL-002, MA-RL-004)")
		}
		if wait > maxWait.Seconds() {
			Fail(fmt.Sprintf("retry-after asks for %.0f s; %s refills completely in %s", wait, l, l.refillTime()))
		}
		// Counted from the end of the burst: by then no request of it takes a token.
		pause(ctx, time.Until(res.Ended.Add(time.Duration(wait*float64(time.Second)))))
		host, token := F.Target.CustomDomain, a.Signup.AccessToken
		for i := range recoverHits {
			resp := call(F.Client.Once(ctx, factorsRequest(host, token)))
			Expect(resp).To(HaveStatus(http.StatusOK), "request %d of %d after waiting the %.0f s retry-after asked for", i+1, recoverHits, wait)
			// One refill interval apart, each after the previous answer.
			pause(ctx, time.Duration(float64(time.Second)/l.R))
		}
	})

	It("counts a burst split across two users against the one tenant bucket", Req("MA-RL-007"), func(ctx SpecContext) {
		waitRefill(ctx, l)
		host := F.Target.CustomDomain
		tokens := []string{a.Signup.AccessToken, b.Signup.AccessToken}
		res := sendBurst(ctx, burst.Spec{
			Name: "two users", Rate: overload * l.R, Count: burstSize(l),
			Request: func(i int) *harness.Request { return factorsRequest(host, tokens[i%2]) },
			Series:  func(i int) string { return []string{"user A", "user B"}[i%2] },
		})
		burstPicture(res, l, fmt.Sprintf("A burst at %.0f× the limit split across two users, %s", overload, host), limitVerdict(res, l),
			"A per-tenant limit refuses the two users together as it refuses one; a per-user limit lets twice as many through.")
		requireLimited(res, l, "two users, alternating",
			splitHint("Two users together got more than the tenant's limit: the limit is kept per user (or per token), not per tenant."))
	})

	It("counts a burst split across the canonical and custom domains against the one tenant bucket", Req("MA-RL-008"), func(ctx SpecContext) {
		canonical, why := canonicalMeToken(ctx)
		if canonical == "" {
			Skip(why)
		}
		waitRefill(ctx, l)
		hosts := []string{F.Target.CustomDomain, F.Target.Domain}
		tokens := []string{a.Signup.AccessToken, canonical}
		res := sendBurst(ctx, burst.Spec{
			Name: "two domains", Rate: overload * l.R, Count: burstSize(l),
			Request: func(i int) *harness.Request { return factorsRequest(hosts[i%2], tokens[i%2]) },
			Series:  func(i int) string { return hosts[i%2] },
		})
		burstPicture(res, l, fmt.Sprintf("A burst at %.0f× the limit split across %s and %s", overload, hosts[0], hosts[1]), limitVerdict(res, l),
			"A per-tenant limit refuses both domains together as it refuses one; a per-domain limit lets twice as many through.")
		requireLimited(res, l, "two domains, alternating",
			splitHint("The two domains together got more than the tenant's limit: the limit is kept per domain, not per tenant."))
	})
})

// canonicalMeToken is a My Account token for the canonical domain, or why there is
// none. Tokens are bound to the domain they were issued on, and native passkey login
// works only on the custom domain: the canonical domain's token comes from
// Universal Login (the authorization code flow) with the target's login user.
func canonicalMeToken(ctx context.Context) (token, why string) {
	GinkgoHelper()
	if len(F.Target.LoginClients()) == 0 || F.Target.User.Username == "" {
		return "", fmt.Sprintf("no My Account token can be had for the canonical domain %s: native passkey login works only on the custom domain, and the target config has no Universal Login client (clients.spa or clients.web) and user to log in with there",
			F.Target.Domain)
	}
	requireLoginConfig()
	d := loginDriver(ctx, F.Target.Login.Driver)
	defer d.Close()
	a := newAuth(F.Target.Domain, F.Target.LoginClients()[0], harness.ScopeReadFactors)
	t := tokensOf(redeem(ctx, a, codeLogin(ctx, d, a).Code, false, nil))
	return t.AccessToken, ""
}

// describeHeader says what a header was instead of a non-negative number.
func describeHeader(h http.Header, name string) string {
	v, ok := h[http.CanonicalHeaderKey(name)]
	if !ok {
		return "missing"
	}
	return fmt.Sprintf("%q, not a non-negative number", strings.Join(v, ", "))
}

// okBefore counts the 2xx answered before t.
func okBefore(res *burst.Result, t time.Duration) int {
	n := 0
	for _, s := range res.Shots {
		if s.Err == nil && s.Status >= 200 && s.Status < 300 && s.Received < t {
			n++
		}
	}
	return n
}

// bunching says whether the runner's own sends, fed to an ideal bucket as they left,
// would have emptied it: then a 429 at "the limit" would be the runner's fault.
func bunching(res *burst.Result, l limitBucket) string {
	if _, first := ideal(res, l); first >= 0 {
		return fmt.Sprintf("the runner's sends bunched up: request #%d left when even an ideal %s would have been empty. %s", first, l, res.Summary())
	}
	return ""
}

// consistency checks x-ratelimit-remaining, -limit, -reset and retry-after against
// the bucket they describe.
func consistency(res *burst.Result, l limitBucket, f *burstFindings) {
	var shots []*burst.Shot
	for i := range res.Shots {
		if s := &res.Shots[i]; limitedOrOK(s) {
			shots = append(shots, s)
		}
	}
	limit := math.NaN()
	full := math.Ceil(l.refillTime().Seconds())
	for _, s := range shots {
		h := headersOf(s)
		if !math.IsNaN(h.Limit) {
			if math.IsNaN(limit) {
				limit = h.Limit
			} else if h.Limit != limit {
				f.add(s, "x-ratelimit-limit %v changed within the burst (it was %v)", h.Limit, limit)
			}
			if h.Remaining > h.Limit {
				f.add(s, "x-ratelimit-remaining %v exceeds x-ratelimit-limit %v", h.Remaining, h.Limit)
			}
		}
		if s.Status == 429 && h.Kind == "global-rate-limit" && h.Remaining != 0 && !math.IsNaN(h.Remaining) {
			f.add(s, "x-ratelimit-remaining is %v on a 429 for the tenant-wide limit: the bucket it describes is empty", h.Remaining)
		}
		if !math.IsNaN(h.Reset) {
			now := h.Date
			if now.IsZero() {
				now = res.Started.Add(s.Received)
			}
			// The server's Date is truncated to the second; reset is rounded either way.
			lo, hi := float64(now.Unix())-1, float64(now.Unix())+full+2
			if h.Reset < lo || h.Reset > hi {
				f.add(s, "x-ratelimit-reset %.0f is not within the %.0f s the bucket needs to refill after the answer's Date %s", h.Reset, full, now.UTC().Format(time.RFC3339))
			}
		}
		if s.Status == 429 && !math.IsNaN(h.RetryAfter) && h.RetryAfter > full+1 {
			f.add(s, "retry-after %v s is longer than the %.0f s an empty bucket needs to refill", h.RetryAfter, full)
		}
	}
	// Between two requests of which one was answered before the other was sent, the
	// bucket can only have gained what it refills in the meantime: remaining never
	// rises faster than R/s (+1 for rounding down).
	for j, sj := range shots {
		rj := headersOf(sj).Remaining
		if math.IsNaN(rj) {
			continue
		}
		for _, si := range shots[:j] {
			ri := headersOf(si).Remaining
			if math.IsNaN(ri) || si.Received >= sj.Sent {
				continue
			}
			if gain := l.R * (sj.Received - si.Sent).Seconds(); rj > ri+gain+1 {
				f.add(sj, "x-ratelimit-remaining rose to %v from %v (request #%d, answered before this one was sent); refilling at %.4g/s adds at most %.1f in between",
					rj, ri, si.Index, l.R, gain)
				break
			}
		}
	}
}
