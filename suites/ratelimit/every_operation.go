package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// Every operation documents 429 (the description's TooManyRequests response): once a
// caller's bucket of a kind is empty, every operation of that kind is refused with
// 429 and retry-after, not only the one that emptied it. Each operation is sent as a
// request the target would otherwise serve (a real id, a pending enrollment with its
// proof, a connect_code), so only the limit can refuse it. The user's bucket is
// emptied by a burst of cheap requests of the kind, and the probes follow at once,
// well within the second a user's bucket takes to get a token back (12 s at 5/min).
// Only fresh users' buckets are emptied: the tenant's room for the bursts is taken
// from the pacer first (sendPaced), so the spec runs among the others, not alone.
var _ = framework.AreaOf("ratelimit").Describe("The My Account rate limit on every operation", func() {
	var o *operations // what the spec sent, for the record
	if recording() {
		ReportAfterEach(func(r SpecReport) {
			if o != nil {
				o.save(observed(r))
			}
		})
	}
	It(itEveryOperation, framework.Req("MA-RL-014"), func(ctx SpecContext) {
		l := limitModel()
		if l.User.Unlimited() {
			Skip(planName(l) + " has no per-user limit: emptying the tenant's bucket for one probe per operation would need the tenant to itself (the tenant-level specs above draw 429s on their bursts)")
		}
		methodsUser := framework.NewUser(ctx)
		framework.Claim(methodsUser) // its buckets are drained round the pacer
		mc := framework.Me(ctx, methodsUser)
		probes := methodProbes(ctx, mc, methodsUser)
		clients := []*myaccount.Client{mc}
		// The vendor's rate-limit pages name only the authentication methods: the
		// connected-accounts operations are held to a limit only when the target
		// states how it counts them (rate_limit.connected_accounts). Either way the
		// accounts' own user's buckets are emptied by connected-accounts requests.
		ca := framework.F.Target.ConnectedAccounts
		switch {
		case ca.Connection == "":
		case !framework.F.Target.RateLimit.AccountsLimited():
			AddReportEntry("not asserted", "the connected-accounts operations: the target config does not state how they are limited (rate_limit.connected_accounts: shared or separate), and the vendor's rate-limit pages do not name them")
		default:
			accountsUser := framework.NewUser(ctx)
			framework.Claim(accountsUser) // its buckets are drained round the pacer
			ac := framework.Me(ctx, accountsUser, framework.AccountScopes...)
			clients = append(clients, ac)
			probes = append(probes, accountProbes(ctx, ac, ca.Connection, ca.RedirectURI)...)
		}
		order, byBucket := drainedBuckets(l, probes)
		o = &operations{l: l, mc: mc, sent: map[string]*burst.Result{}}
		for _, key := range order {
			o.drainAndProbe(ctx, key, byBucket[key])
		}
		// Both users' buckets are empty: deleting what they created one request at a
		// time would wait out the refill (12 s a write). With a Management API client
		// the users are deleted at the end of the run with everything they have.
		if framework.F.Target.Management.ClientID != "" {
			for _, c := range clients {
				c.ForgetAll()
			}
		}
		settle(judgeOperations(o.drains), o.shot)
	})
})

// probe is what an operation is probed with, by the client it goes through.
type probe struct {
	c  *myaccount.Client
	op string
	in myaccount.Call
}

// methodProbes are the authentication-method operations, each with a request the
// target would serve: a real id, a pending enrollment and its proof.
func methodProbes(ctx context.Context, mc *myaccount.Client, u *framework.User) []probe {
	GinkgoHelper()
	ids := framework.MethodsOf(ctx, mc, "") // 1 read
	Expect(ids).NotTo(BeEmpty(), "a new user lists no authentication method")
	d := framework.DriverFor(ctx, "passkey")
	second := framework.VerifyMethod(ctx, mc, d, u, framework.StartMethod(ctx, mc, d, u)) // 2 writes
	pending := framework.StartMethod(ctx, mc, d, u)                                       // 1 write
	proof, err := d.Proof(ctx, framework.AsEnrolling(u), pending)
	Expect(err).NotTo(HaveOccurred())
	verifyURL, err := mc.VerifyURL(pending.Location)
	Expect(err).NotTo(HaveOccurred())
	method := func(id string) map[string]string { return map[string]string{"authentication_method_id": id} }
	probes := []probe{
		{mc, myaccount.ListMethods, myaccount.Call{}},
		{mc, myaccount.ListMethods, myaccount.Call{Query: url.Values{"type": {"passkey"}}}},
		{mc, myaccount.GetMethod, myaccount.Call{Path: method(ids[0])}},
		{mc, myaccount.StartEnrollment, myaccount.Call{Body: d.StartBody(framework.AsEnrolling(u))}},
		{mc, myaccount.UpdateMethod, myaccount.Call{Path: method(ids[0]), Body: map[string]any{"name": "rate-limited"}}},
		{mc, myaccount.DeleteMethod, myaccount.Call{Path: method(second.ID)}},
		{mc, myaccount.VerifyEnrollment, myaccount.Call{URL: verifyURL, Body: proof.Body}},
	}
	if framework.FactorsServed(ctx) {
		probes = append(probes, probe{mc, myaccount.ListFactors, myaccount.Call{}})
	}
	return probes
}

// accountProbes are the connected-account operations: a linked account, and a
// connect attempt to complete.
func accountProbes(ctx context.Context, ac *myaccount.Client, connection, redirectURI string) []probe {
	GinkgoHelper()
	linked := framework.ExpectCompleted(framework.Complete(ctx, ac, framework.Connect(ctx, ac), nil)) // 2 writes
	next := framework.Connect(ctx, ac)                                                                // 1 write
	return []probe{
		{ac, myaccount.ListConnectedAccounts, myaccount.Call{}},
		{ac, myaccount.ListConnectedAccounts, myaccount.Call{Query: url.Values{"connection": {connection}}}},
		{ac, myaccount.ListConnections, myaccount.Call{}},
		{ac, myaccount.Connect, myaccount.Call{Body: map[string]any{"connection": connection, "redirect_uri": redirectURI}}},
		{ac, myaccount.Complete, myaccount.Call{Body: map[string]any{"auth_session": next.AuthSession, "connect_code": next.Code,
			"redirect_uri": next.RedirectURI, "code_verifier": next.Verifier}}},
		{ac, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": linked}}},
	}
}

// drained is a bucket to empty: a client's (its user's) bucket of a kind.
type drained struct {
	c *myaccount.Client
	k spec.Kind
}

// drainedBuckets groups the probes' requests by the bucket they draw on, in the
// order the buckets first appear.
func drainedBuckets(l spec.Limits, probes []probe) ([]drained, map[drained][]*harness.Request) {
	GinkgoHelper()
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
	return order, byBucket
}

// cheapRequest is a request of key's kind its user's token may make (its scopes),
// that changes nothing that lasts: a refusal for scope might come before the limit
// counts.
func cheapRequest(key drained, mc *myaccount.Client) *harness.Request {
	GinkgoHelper()
	ca := framework.F.Target.ConnectedAccounts
	cheap, err := key.c.Request(myaccount.ListMethods, myaccount.Call{})
	switch {
	case key.c != mc && key.k == spec.Write:
		cheap, err = key.c.Request(myaccount.Connect, myaccount.Call{Body: map[string]any{"connection": ca.Connection, "redirect_uri": ca.RedirectURI}})
	case key.c != mc && key.k == spec.FilteredRead:
		cheap, err = key.c.Request(myaccount.ListConnectedAccounts, myaccount.Call{Query: url.Values{"connection": {ca.Connection}}})
	case key.c != mc:
		cheap, err = key.c.Request(myaccount.ListConnectedAccounts, myaccount.Call{})
	case key.k == spec.Write:
		cheap, err = key.c.Request(myaccount.StartEnrollment, myaccount.Call{Body: map[string]any{"type": "passkey"}})
	case key.k == spec.FilteredRead:
		cheap, err = key.c.Request(myaccount.ListMethods, myaccount.Call{Query: url.Values{"type": {"passkey"}}})
	}
	Expect(err).NotTo(HaveOccurred())
	return cheap
}

// operations is what the every-operation spec sent: the buckets it emptied and
// the probes that followed.
type operations struct {
	l      spec.Limits
	mc     *myaccount.Client // the methods' client (the other is the accounts')
	drains []Drain
	sent   map[string]*burst.Result // the probes, by drain key (drainRef)
}

// shot is the sent probe a finding names, for its exchange in the report.
func (o *operations) shot(ref ShotRef) *burst.Shot {
	if res := o.sent[ref.Run]; res != nil && ref.Index < len(res.Shots) {
		return &res.Shots[ref.Index]
	}
	return nil
}

// drainAndProbe empties key's bucket — its burst and one more, sent at once (a
// request the target refuses with 429 shows it is empty), which the oracle must
// find refused — then sends the probes of its operations, recording them all.
func (o *operations) drainAndProbe(ctx context.Context, key drained, reqs []*harness.Request) {
	GinkgoHelper()
	b := o.l.User.Bucket(key.k)
	cheap := cheapRequest(key, o.mc)
	empty := sendPaced(ctx, burst.Spec{Name: "empty the bucket", Rate: 50, Count: b.Burst + 1, Request: func(int) *harness.Request { return cheap }})
	o.drains = append(o.drains, Drain{Kind: key.k, Bucket: b, Sent: len(empty.Shots), Span: empty.Span(), Refused: countStatus(empty, http.StatusTooManyRequests)})
	d := &o.drains[len(o.drains)-1]
	settle(orPassed("MA-RL-014", judgeEmptied(*d)), o.shot)
	res := sendPaced(ctx, burst.Spec{Name: "a probe per operation", Rate: 50, Count: len(reqs), Request: func(i int) *harness.Request { return reqs[i] }})
	// The bursts went round the pacer: the cleanup after this spec waits for
	// the refill instead of drawing a 429.
	framework.F.Client.Pacer.Drained(key.c.Session.Subject, key.k)
	o.sent[drainRef(len(o.drains)-1, 0).Run] = res
	for i := range res.Shots {
		d.Probes = append(d.Probes, probeOf(&res.Shots[i], key.k))
	}
}

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

// save writes the every-operation spec's drains, and how it ended, where RecordEnv
// asks, if it does.
func (o *operations) save(how Observed) {
	path := recordTo("operations.json.gz")
	if path == "" || len(o.drains) == 0 {
		return
	}
	if err := WriteHistory(path, &History{Limits: o.l, Drains: o.drains, Observed: []Observed{how}}); err != nil {
		fmt.Fprintf(GinkgoWriter, "recording the every-operation probes: %v\n", err)
	}
}
