package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// The specs' texts, which the oracle's Judge names its verdicts by.
const (
	itAtLimit            = "answers no 429 while requests stay at the tenant's limit"
	itOverloaded         = "refuses a burst well above the tenant's limit with 429, letting at most B + R·t through in the first t seconds"
	itManyUsers          = "counts the requests of many users against the one tenant bucket"
	itTenantKinds        = "serves the other kinds while the tenant's bucket of this kind is empty"
	itRetryAfterHonoured = "answers again after the wait retry-after asked for"
	itUserLimit          = "refuses one user beyond the user's bucket with 429 while the tenant has room"
	itOtherUser          = "serves another user while one user's bucket is empty"
	itUserKinds          = "serves a user's other kinds while the user's bucket of this kind is empty"
	itHeaders            = "sends x-ratelimit-limit, -remaining and -reset on every 2xx and 429"
	itRetryAfter         = "sends retry-after on every 429, the tenant's and a user's"
	itRemaining          = "states x-ratelimit-remaining 0 on a 429, falling as requests are served and rising no faster than the bucket refills"
	itFit                = "states an x-ratelimit-limit, -reset and retry-after that fit the bucket they describe"
	itDomains            = "counts requests on the canonical and the custom domain against the one tenant bucket"
	itEveryOperation     = "answers 429 with retry-after on every operation once the caller's bucket of its kind is empty"
)

// settle ends the spec as the oracle's verdict says: its notes go into the report,
// a failure fails it (with the exchanges of its evidence, which shot finds), an
// INCONCLUSIVE verdict makes it so, a skip skips it; a pass lets it go on.
func settle(v Verdict, shot func(ShotRef) *burst.Shot) {
	GinkgoHelper()
	for _, n := range v.Notes {
		AddReportEntry(verdict.Burst, n, ReportEntryVisibilityFailureOrVerbose)
	}
	switch v.Outcome {
	case Failed:
		for _, ref := range v.Evidence[:min(3, len(v.Evidence))] {
			if s := shot(ref); s != nil {
				burst.Record(framework.F.Client, s)
			}
		}
		Fail(v.Message)
	case Undecided:
		framework.Undecided(v.Message)
	case Skipped:
		Skip(v.Message)
	}
}

// sent is the run a spec judges: skipped (why) when the target has none to send.
func sent(r *run, why string) *Run {
	GinkgoHelper()
	if r == nil {
		Skip(why)
	}
	return r.rec()
}

var _ = framework.AreaOf("ratelimit").Describe("The My Account rate limit", Serial, Ordered, ContinueOnFailure, func() {
	// What the specs send, owned by this Describe: made afresh before its first spec.
	t := &traffic{}
	BeforeAll(func() {
		*t = *newTraffic()
		framework.RequireCustomDomain() // the users sign up with native passkeys, which live there
		// The ordinary specs before these may have left a tenant bucket part empty:
		// as full as the pacer reckons them.
		for _, k := range spec.Kinds {
			bk := bucketKind(limitModel().Tenant, k)
			if f := framework.F.Client.Pacer.TenantFullAt(k); f.After(t.full[bk]) {
				t.full[bk] = f
			}
		}
	})
	// Leave full tenant buckets to the specs that come after.
	AfterAll(func(ctx SpecContext) { t.waitRefill(ctx) })
	if recording() {
		// What was sent so far and how each spec ended, written after each spec.
		ReportAfterEach(func(r SpecReport) {
			t.observed = append(t.observed, observed(r))
			t.save()
		})
	}

	for _, k := range spec.Kinds {
		Context("on "+kindName(k), func() { kindSpecs(t, k) })
	}

	It(itDomains, framework.Req("MA-RL-008"), func(ctx SpecContext) {
		k, tb, n, why := splitKind(limitModel())
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
		r := t.domains(ctx, k, tb, n, canonical, sub)
		var over *Run
		if one := t.sent(overloadedKey(k)); one != nil {
			over = one.rec()
		}
		t.judge(judgeDomains(r.rec(), over))
	})
})

// kindSpecs are the specs of kind k's buckets, in a Context of their own.
func kindSpecs(t *traffic, k spec.Kind) {
	It(itAtLimit, framework.Req("MA-RL-001"), func(ctx SpecContext) {
		t.judge(judgeAtLimit(limitModel(), sent(t.atLimit(ctx, k))))
	})

	It(itOverloaded, framework.Req("MA-RL-002"), func(ctx SpecContext) {
		t.judge(judgeOverloaded(sent(t.overloaded(ctx, k))))
	})

	if k == spec.Read {
		It(itManyUsers, framework.Req("MA-RL-007"), func(ctx SpecContext) {
			t.judge(judgeManyUsers(sent(t.overloaded(ctx, k))))
		})
	}

	It(itTenantKinds, framework.Req("MA-RL-013"), func(ctx SpecContext) {
		if v := sharedTenant(limitModel()); v != nil {
			t.judge(*v)
		}
		t.judge(judgeTenantKinds(limitModel(), sent(t.overloaded(ctx, k))))
	})

	It(itRetryAfterHonoured, framework.Req("MA-RL-006"), func(ctx SpecContext) {
		r, why := t.overloaded(ctx, k)
		v, wait := judgeRetryWait(sent(r, why))
		t.judge(v)
		t.recover(ctx, r, wait, func(i int, a Answer) {
			if v := judgeRecovered(k, i, wait, a); v != nil {
				t.judge(*v)
			}
		})
	})

	It(itUserLimit, framework.Req("MA-RL-011"), func(ctx SpecContext) {
		t.judge(judgeUserLimit(limitModel(), sent(t.userRun(ctx, k))))
	})

	It(itOtherUser, framework.Req("MA-RL-012"), func(ctx SpecContext) {
		t.judge(judgeOtherUser(sent(t.userRun(ctx, k))))
	})

	It(itUserKinds, framework.Req("MA-RL-013"), func(ctx SpecContext) {
		t.judge(judgeUserKinds(limitModel(), sent(t.userRun(ctx, k))))
	})

	It(itHeaders, framework.Req("MA-RL-003"), func(ctx SpecContext) {
		runs, whys := t.runsOf(ctx, k, "MA-RL-003")
		t.judge(judgeHeadersPresent(k, runs, whys))
	})

	It(itRetryAfter, framework.Req("MA-RL-004"), func(ctx SpecContext) {
		runs, whys := t.runsOf(ctx, k, "MA-RL-004")
		t.judge(judgeRetryAfter(k, runs, whys))
	})

	It(itRemaining, framework.Req("MA-RL-009"), func(ctx SpecContext) {
		runs, whys := t.runsOf(ctx, k, "MA-RL-009")
		t.judge(judgeRemaining(limitModel(), k, runs, whys))
	})

	It(itFit, framework.Req("MA-RL-010"), func(ctx SpecContext) {
		runs, whys := t.runsOf(ctx, k, "MA-RL-010")
		t.judge(judgeFit(limitModel(), k, runs, whys))
	})
}

// judge settles a verdict on the bursts t sent.
func (t *traffic) judge(v Verdict) {
	GinkgoHelper()
	settle(v, t.shot)
}

// observed is how the spec of report r ended.
func observed(r SpecReport) Observed {
	o := Observed{Spec: r.LeafNodeText, Message: r.Failure.Message}
	if h := r.ContainerHierarchyTexts; len(h) > 1 {
		o.Context = h[len(h)-1]
	}
	switch {
	case r.State == types.SpecStatePassed:
		o.Outcome = Passed
	case r.State == types.SpecStateSkipped:
		o.Outcome = Skipped
	case strings.HasPrefix(r.Failure.Message, verdict.InconclusivePrefix):
		o.Outcome, o.Message = Undecided, strings.TrimPrefix(r.Failure.Message, verdict.InconclusivePrefix)
	default:
		o.Outcome = Failed
	}
	return o
}

// runsOf are the bursts that show kind k's buckets: at the tenant's limit, above
// it, and one user's, each judged answered as it comes (for req); with why each
// one that cannot be made is missing. None at all skips.
func (t *traffic) runsOf(ctx context.Context, k spec.Kind, req string) ([]*Run, []string) {
	GinkgoHelper()
	var runs []*Run
	var whys []string
	for _, get := range []func(context.Context, spec.Kind) (*run, string){t.atLimit, t.overloaded, t.userRun} {
		if r, why := get(ctx, k); r != nil {
			rec := r.rec()
			if v := checkAnswers(req, rec); v != nil {
				t.judge(*v)
			}
			runs = append(runs, rec)
		} else {
			whys = append(whys, why)
		}
	}
	if len(runs) == 0 {
		Skip("no burst of " + kindName(k) + " can be sent: " + strings.Join(whys, "; "))
	}
	return runs, whys
}
