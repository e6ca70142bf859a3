package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/catalogue"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// The contract suite: for every operation of our description (spec.Operations), the
// checks its description implies, generated when the spec tree is built, so that an
// operation added to spec/myaccount.yaml gets them with no spec code to write. Each
// valid request comes from a base body of the catalogue filled in for the target
// (a pending enrollment, a connect_code), and each bad one differs from it in one
// thing (spec.DeriveBodies), so that thing is the only reason to refuse it. Cases
// are spread over users by what is left of their per-user rate-limit budget
// (userPool): against Auth0 one user makes 5 reads and 5 writes a minute.
//
// Each operation's specs are an Ordered container of their own (its control runs
// first), so that parallel workers share the operations out; the pool and the
// capability list are set up once per process, by the first container that runs.
var _ = framework.AreaOf("contract").Describe("Contract: every operation of the description", func() {
	k := &contract{accepted: map[string]string{}}

	setup := func(ctx SpecContext) {
		if k.types != nil {
			return
		}
		k.host = framework.RequireCustomDomain()
		if k.pool == nil {
			k.pool = newUserPool(k.host)
			framework.AfterRun(func(ctx context.Context) { k.pool.cleanup(ctx) })
		}
		// The capability list (GET /factors, or the target config's methods:): a type
		// it does not list is not checked (none, when there is neither).
		k.factors = framework.FactorsServed(ctx)
		types := map[string]bool{}
		if k.factors || framework.F.Target.Methods != nil {
			for _, x := range framework.EnabledTypes(ctx) {
				types[x] = true
			}
		}
		k.types = types
	}

	ops, err := spec.Operations()
	if err != nil {
		It("reads the operations of the description", func() { Fail(err.Error()) })
		return
	}
	for _, op := range ops {
		Describe(op.Name(), Ordered, ContinueOnFailure, func() {
			if op.Planned() {
				PIt("is planned (x-status: planned): the vendor announced it but does not serve it, so nothing is checked yet", framework.Req("MA-CON-001"))
				return
			}
			BeforeAll(setup)
			BeforeEach(func(ctx SpecContext) { framework.RequireServed(ctx, op) })
			It("answers a valid request as described", framework.Req("MA-CON-001", "MA-API-001"), func(ctx SpecContext) {
				k.control(ctx, op)
			})
			It("refuses a request without a token with 401", framework.Req("MA-AUTHZ-003", "MA-ERR-001"), func(ctx SpecContext) {
				u := k.pool.take(ctx, framework.Budget{}, nil)
				in := staticCall(op, "")
				in.NoAuth = true
				framework.ExpectNoFailures(framework.Refused(ctx, u.c, op.ID, in, op.Name()+" without Authorization", false, http.StatusUnauthorized))
			})
			It("refuses a token for another audience with 401", framework.Req("MA-AUTHZ-001", "MA-AUTHZ-008", "MA-ERR-001"), func(ctx SpecContext) {
				u := k.pool.take(ctx, framework.Budget{kindOf(op, nil): 1}, nil)
				t, err := framework.F.PasskeyLogin(ctx, k.host, u.Authn, u.Passkeys[0], "", append([]string{"openid"}, k.pool.scopes...)...)
				Expect(err).NotTo(HaveOccurred(), "a login without an audience (a token for /userinfo)")
				in := staticCall(op, "")
				in.Bearer = t.AccessToken
				framework.ExpectNoFailures(framework.Refused(ctx, u.c, op.ID, in, op.Name()+" with a token for another audience", false, http.StatusUnauthorized))
			})
			It("refuses a token with every scope but "+op.Scope()+" with 403, and changes nothing", framework.Req("MA-AUTHZ-002", "MA-ERR-001", "MA-ERR-010"), func(ctx SpecContext) {
				// A real method where the operation names one, so that a refusal that
				// came too late would show in the read-back.
				realID := op.Method != http.MethodGet && slices.ContainsFunc(op.PathParams, func(p spec.Param) bool { return p.Name == "authentication_method_id" }) &&
					!strings.HasSuffix(op.Path, "/verify")
				need := framework.Budget{kindOf(op, nil): 1}
				if realID {
					need = need.Add(spec.Read, 2)
				}
				u := k.pool.take(ctx, need, nil)
				in := staticCall(op, "")
				if realID {
					u.known(ctx, "methods")
					in = staticCall(op, u.methodID)
				}
				c := myaccount.New(framework.F.Client, k.host, u.without(ctx, k.pool, op.Scope()))
				failures := framework.Refused(ctx, c, op.ID, in, op.Name()+" without "+op.Scope(), false, http.StatusForbidden)
				if realID {
					failures = append(failures, u.unchanged(ctx, "methods", "a refused "+op.Name())...)
				}
				framework.ExpectNoFailures(failures)
			})
			if op.Body != nil {
				for _, g := range bodyChecks(op) {
					It(g.what, framework.Req(g.reqs...), func(ctx SpecContext) { k.badBodies(ctx, op, g) })
				}
				It("refuses a body of another media type, or none, with 415, and changes nothing", framework.Req("MA-ERR-009", "MA-ERR-001", "MA-ERR-010"), func(ctx SpecContext) {
					k.mediaTypes(ctx, op)
				})
			}
			if len(op.PathParams) > 0 {
				reqs := []string{"MA-CON-004", "MA-ERR-001"}
				if strings.HasPrefix(op.Path, "/authentication-methods/{authentication_method_id}") && !strings.HasSuffix(op.Path, "/verify") {
					reqs = []string{"MA-ERR-011", "MA-ERR-012", "MA-ERR-001"}
				}
				It("refuses an id the user does not have, and leaves another user's alone", framework.Req(reqs...), func(ctx SpecContext) {
					k.unknownIDs(ctx, op)
				})
			}
			// A SHOULD: the vendor does not document what an unknown parameter does.
			It("refuses an unknown query parameter with 400", framework.Req(spec.ReqQueryUnknown), func(ctx SpecContext) {
				k.unknownQuery(ctx, op)
			})
			if len(op.QueryParams) > 0 {
				It("refuses values its query parameters do not allow with 400", framework.Req(spec.ReqQueryValue, "MA-ERR-001"), func(ctx SpecContext) {
					k.badQueries(ctx, op)
				})
			}
		})
	}

	It("does not serve the API without its version in the path", framework.Req("MA-API-002"), func(ctx SpecContext) {
		setup(ctx)
		var reads []spec.Operation
		for _, op := range ops {
			if framework.Served(ctx, op) && op.Reads() {
				reads = append(reads, op)
			}
		}
		var failures []string
		for _, op := range reads {
			u := k.pool.take(ctx, framework.Budget{spec.Read: 1}, nil)
			in := staticCall(op, u.methodID)
			r, err := u.c.Request(op.ID, in)
			Expect(err).NotTo(HaveOccurred())
			r.URL = strings.Replace(r.URL, "/me/v1/", "/me/", 1)
			resp := framework.Deliver(framework.F.Client.Do(ctx, r))
			if resp.Status != http.StatusNotFound {
				failures = append(failures, fmt.Sprintf("GET %s answered %d, want 404: %.200s", r.URL, resp.Status, resp.Body))
			}
		}
		framework.ExpectNoFailures(failures)
	})
})

// contract is the state of the contract suite.
type contract struct {
	host    string
	pool    *userPool
	types   map[string]bool // the method types the target enables (framework.EnabledTypes)
	factors bool            // the target serves GET /factors
	// accepted holds, per operation and branch ("opID branch"), why its valid
	// request was not accepted ("" when it was), once its control spec ran.
	accepted map[string]string
}

func kindOf(op spec.Operation, q url.Values) spec.Kind { return spec.KindOf(op.Method, q) }

// usable says why base cannot be used against this target ("" when it can): its
// method type is not enabled, connected accounts are not configured, or its valid
// request was refused by the control spec.
func (k *contract) usable(op spec.Operation, base catalogue.Base) string {
	switch {
	case op.ID == myaccount.ListFactors && !k.factors:
		return "the target does not serve GET /factors (404; Early Access at Auth0)"
	case base.Type != "" && !k.types[base.Type]:
		return fmt.Sprintf("%s: %s does not list %s", branchName(base), framework.CapabilitySource(), base.Type)
	case strings.HasPrefix(op.Path, "/connected-accounts") && framework.F.Target.ConnectedAccounts.Connection == "":
		return "the target config names no connected_accounts connection (connected_accounts.connection and redirect_uri)"
	}
	if why, ok := k.accepted[op.ID+" "+base.Branch]; ok && why != "" {
		return fmt.Sprintf("%s: the valid request was not accepted (%s), so a refusal of a broken one proves nothing", branchName(base), why)
	}
	return ""
}

func branchName(b catalogue.Base) string {
	if b.Branch == "" {
		return b.Op
	}
	return b.Op + " (" + b.Branch + ")"
}

// bases are the usable bases of op; it skips with the reasons when there is none,
// and notes in the report the branches it leaves out.
func (k *contract) bases(op spec.Operation) []catalogue.Base { return k.usableBases(op, true) }

// firstBase is the first usable base of op, for checks that need one valid body.
func (k *contract) firstBase(op spec.Operation) catalogue.Base { return k.usableBases(op, false)[0] }

func (k *contract) usableBases(op spec.Operation, note bool) []catalogue.Base {
	GinkgoHelper()
	var out []catalogue.Base
	var skipped []string
	for _, b := range catalogue.BasesOf(op.ID) {
		if why := k.usable(op, b); why != "" {
			skipped = append(skipped, why)
			continue
		}
		out = append(out, b)
	}
	if len(out) == 0 && len(skipped) > 0 {
		Skip(strings.Join(slices.Compact(skipped), "; "))
	}
	if note && len(skipped) > 0 {
		AddReportEntry("not checked", strings.Join(skipped, "\n"))
	}
	if len(out) == 0 {
		out = append(out, catalogue.Base{Op: op.ID})
	}
	return out
}

// success is the 2xx status op documents.
func success(op spec.Operation) int {
	for _, s := range op.Statuses {
		if s >= 200 && s < 300 {
			return s
		}
	}
	return http.StatusOK
}

// control sends a valid request of op (of each usable branch) and expects its
// documented success: what every other check of the operation builds on.
func (k *contract) control(ctx SpecContext, op spec.Operation) {
	if strings.HasPrefix(op.Path, "/connected-accounts") && op.Method != http.MethodGet && framework.F.Target.ConnectedAccounts.Connection == "" {
		Skip("the target config names no connected_accounts connection (connected_accounts.connection and redirect_uri)")
	}
	var failures []string
	for _, base := range k.bases(op) {
		prep := validCost(op, base)
		extra := 0 // requests after the valid one: the cleanup of what it creates
		switch op.ID {
		case myaccount.DeleteMethod:
			prep = framework.Budget{spec.Write: 2} // a passkey to delete
		case myaccount.DeleteConnectedAccount:
			prep = framework.Budget{spec.Write: 2} // an account to delete
		case myaccount.VerifyEnrollment, myaccount.Complete:
			extra = 1
		}
		avoid := fresh(base)
		if op.ID == myaccount.DeleteConnectedAccount {
			avoid = func(u *contractUser) bool { return u.linked } // it links an account first
		}
		u := k.pool.take(ctx, prep.Add(kindOf(op, nil), 1+extra), avoid)
		accountID := ""
		if op.ID == myaccount.DeleteConnectedAccount {
			accountID = k.linkAccount(ctx, u)
		}
		v := k.prepare(ctx, u, op, base, accountID)
		if op.ID == myaccount.DeleteMethod {
			v.call.Path["authentication_method_id"] = k.enrollPasskey(ctx, u)
		}
		resp := framework.Call(u.c.Do(ctx, op.ID, v.call))
		key := op.ID + " " + base.Branch
		if want := success(op); resp.Status != want {
			why := fmt.Sprintf("%s answered %d", op.Name(), resp.Status)
			k.accepted[key] = why
			failures = append(failures, fmt.Sprintf("%s: a valid request %v was answered %d, want %d: %.300s", branchName(base), v.body, resp.Status, want, resp.Body))
			continue
		}
		k.accepted[key] = ""
		if !op.Reads() {
			u.stale()
		}
		switch op.ID {
		case myaccount.VerifyEnrollment:
			u.enrolled[base.Type] = true
		case myaccount.Complete:
			u.linked = true
		case myaccount.DeleteConnectedAccount:
			u.linked = false
		}
	}
	framework.ExpectNoFailures(failures)
}

// fresh rejects the users that cannot take base: a method type other than passkey
// is enrolled at most once per user (one password, one recovery code), and an
// account linked at most once; a PATCH reuses the method enrolled for it.
func fresh(base catalogue.Base) func(*contractUser) bool {
	return func(u *contractUser) bool {
		if base.Op == myaccount.UpdateMethod {
			return u.enrolled[base.Type] && u.named[base.Type] == ""
		}
		return (base.Type != "" && base.Type != "passkey" && u.enrolled[base.Type]) || (base.Connect && u.linked)
	}
}

// enrollPasskey enrolls a second passkey for u (two writes) and returns its id.
func (k *contract) enrollPasskey(ctx SpecContext, u *contractUser) string {
	GinkgoHelper()
	v := k.prepare(ctx, u, spec.MustOperation(myaccount.VerifyEnrollment), catalogue.BasesOf(myaccount.VerifyEnrollment)[0], "")
	resp := framework.Call(u.c.Do(ctx, myaccount.VerifyEnrollment, v.call))
	Expect(resp).To(framework.HaveStatus(http.StatusCreated), "enrolling a passkey to delete")
	id, _ := resp.Object()["id"].(string)
	Expect(id).NotTo(BeEmpty(), "the enrolled passkey's id")
	u.stale()
	return id
}

// linkAccount links an account for u (two writes) and returns its id.
func (k *contract) linkAccount(ctx SpecContext, u *contractUser) string {
	GinkgoHelper()
	op := spec.MustOperation(myaccount.Complete)
	v := k.prepare(ctx, u, op, catalogue.BasesOf(myaccount.Complete)[0], "")
	resp := framework.Call(u.c.Do(ctx, myaccount.Complete, v.call))
	Expect(resp).To(framework.HaveStatus(http.StatusCreated), "linking an account")
	id, _ := resp.Object()["id"].(string)
	Expect(id).NotTo(BeEmpty(), "the linked account's id")
	u.stale()
	u.linked = true
	return id
}

// bodyCheck is one spec of bad bodies: the requirement its cases check.
type bodyCheck struct {
	what    string
	reqs    []string
	req     string // the derived cases' requirement
	generic bool   // GenericBodies instead of DeriveBodies
}

// bodyChecks are the bad-body specs of op: one per requirement its schema yields
// cases for (found from the catalogue's bases with their samples), and the generic
// ones. A SHOULD requirement is cited alone, so that its failure only warns.
func bodyChecks(op spec.Operation) []bodyCheck {
	found := map[string]bool{}
	for _, b := range catalogue.BasesOf(op.ID) {
		for _, c := range spec.DeriveBodies(op.BodyBranches()[b.Branch], catalogue.Fill(b.Body, catalogue.Samples)) {
			found[c.Req] = true
		}
	}
	var out []bodyCheck
	for _, c := range []bodyCheck{
		{what: "refuses a body without a required member with 400, and changes nothing", req: spec.ReqMissingMember},
		{what: "refuses a body with a member its schema does not allow with 400, and changes nothing", req: spec.ReqUnknownMember},
		{what: "refuses a body member of the wrong JSON type with 400, and changes nothing", req: spec.ReqWrongType},
		{what: "refuses a body member outside its enum, pattern, length or bounds with 400, and changes nothing", req: spec.ReqOutOfBounds},
		{what: "refuses a body that is not a JSON object with 400, and changes nothing", req: spec.ReqNotAnObject, generic: true},
		{what: "refuses a body that is not UTF-8 with 400, and changes nothing", req: spec.ReqNotUTF8, generic: true},
		{what: "refuses a body of 1 MiB with 413 or 400", req: spec.ReqOversize, generic: true},
	} {
		if !c.generic && !found[c.req] {
			continue
		}
		c.reqs = []string{c.req, "MA-ERR-001", "MA-ERR-010"}
		if r, ok := spec.RequirementByID(c.req); ok && r.Level != "MUST" {
			c.reqs = c.reqs[:1]
		}
		out = append(out, c)
	}
	return out
}

// badCase is one bad request of a body check.
type badCase struct {
	name  string
	body  []byte
	ctype string // "" = application/json; "-" = none
	want  []int
	big   bool
}

// badBodies runs the cases of one body check over every usable branch, each group
// of cases on a user that has the budget for it, and reads back that nothing
// changed.
func (k *contract) badBodies(ctx SpecContext, op spec.Operation, g bodyCheck) {
	var bases []catalogue.Base
	if g.generic {
		bases = []catalogue.Base{k.firstBase(op)} // a body that is not an object does not depend on the branch
	} else {
		bases = k.bases(op)
	}
	var failures []string
	for _, base := range bases {
		schema := op.BodyBranches()[base.Branch]
		derive := func(body map[string]any) []badCase {
			var cs []badCase
			var bodies []spec.BadBody
			if g.generic {
				bodies = spec.GenericBodies(schema, body)
			} else {
				bodies = spec.DeriveBodies(schema, body)
			}
			for _, b := range bodies {
				if b.Req != g.req {
					continue
				}
				c := badCase{name: b.Name, body: b.Body, want: []int{http.StatusBadRequest}}
				if b.Req == spec.ReqOversize {
					// 413 is what HTTP says (RFC 9110 §15.5.14); the API documents 400.
					c.want, c.big = []int{http.StatusRequestEntityTooLarge, http.StatusBadRequest}, true
				}
				cs = append(cs, c)
			}
			return cs
		}
		failures = append(failures, k.runCases(ctx, op, base, derive)...)
	}
	framework.ExpectNoFailures(failures)
}

// mediaTypes sends the valid body of op with another Content-Type, and none.
func (k *contract) mediaTypes(ctx SpecContext, op spec.Operation) {
	base := k.firstBase(op)
	derive := func(body map[string]any) []badCase {
		raw := mustJSON(body)
		form := url.Values{}
		for name, v := range body {
			form.Set(name, fmt.Sprint(v))
		}
		return []badCase{
			{name: "Content-Type text/plain", body: raw, ctype: "text/plain", want: []int{http.StatusUnsupportedMediaType}},
			{name: "no Content-Type", body: raw, ctype: "-", want: []int{http.StatusUnsupportedMediaType}},
			{name: "Content-Type application/x-www-form-urlencoded", body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded", want: []int{http.StatusUnsupportedMediaType}},
		}
	}
	framework.ExpectNoFailures(k.runCases(ctx, op, base, derive))
}

// runCases prepares a valid request of op from base for a user, derives the cases
// from its body and sends them, as many to a user as its budget allows, then reads
// back that nothing changed.
func (k *contract) runCases(ctx SpecContext, op spec.Operation, base catalogue.Base, derive func(map[string]any) []badCase) []string {
	GinkgoHelper()
	// The number of cases does not depend on the values filled in: count them on
	// the samples.
	total := len(derive(catalogue.Fill(base.Body, catalogue.Samples)))
	state := stateOf(op)
	prep := validCost(op, base)
	per := capacity(kindOf(op, nil), prep[spec.Write])
	var failures []string
	for done := 0; done < total; done += per {
		n := min(per, total-done)
		need := prep.Add(kindOf(op, nil), n)
		if state != "" {
			need = need.Add(spec.Read, 2)
		}
		u := k.pool.take(ctx, need, fresh(base))
		// Read after prepare, which may enroll the method a PATCH changes.
		v := k.prepare(ctx, u, op, base, dummyAccountID)
		u.known(ctx, state)
		cases := derive(v.body)
		if len(cases) != total {
			Fail(fmt.Sprintf("suite bug: %d cases derived from the samples, %d from the real body", total, len(cases)))
		}
		for _, c := range cases[done : done+n] {
			in := v.call
			in.Body, in.Raw, in.ContentType = nil, c.body, "application/json"
			switch c.ctype {
			case "-":
				in.ContentType = ""
			case "":
			default:
				in.ContentType = c.ctype
			}
			failures = append(failures, framework.Refused(ctx, u.c, op.ID, in, branchName(base)+": "+c.name, c.big, c.want...)...)
		}
		failures = append(failures, u.unchanged(ctx, state, "refused "+op.Name()+" requests")...)
	}
	return failures
}

func mustJSON(v any) []byte {
	GinkgoHelper()
	raw, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return raw
}

// unknownIDs names ids the user does not have: one that belongs to no one and, for
// authentication methods, another user's; the other user's method stays as it was.
func (k *contract) unknownIDs(ctx SpecContext, op spec.Operation) {
	want := []int{http.StatusNotFound}
	if !op.Documents(http.StatusNotFound) || op.Method != http.MethodGet {
		// The vendor documents no 404 for these; 404 is what a correct target answers
		// (our description documents it), and a documented 400 is tolerated.
		want = []int{http.StatusNotFound, http.StatusBadRequest}
	}
	var failures []string
	switch {
	case strings.HasSuffix(op.Path, "/verify"):
		// A valid verify body, sent to an enrollment that does not exist.
		base := k.firstBase(op)
		u := k.pool.take(ctx, framework.Budget{spec.Write: 2, spec.Read: 2}, fresh(base))
		u.known(ctx, "methods")
		v := k.prepare(ctx, u, op, base, "")
		in := v.call
		in.URL = ""
		in.Path = map[string]string{"authentication_method_id": dummyMethodID}
		failures = append(failures, framework.Refused(ctx, u.c, op.ID, in, op.Name()+" with an enrollment id that does not exist", false, want...)...)
		failures = append(failures, u.unchanged(ctx, "methods", "a verify of an unknown enrollment")...)
	case op.ID == myaccount.DeleteConnectedAccount:
		u := k.pool.take(ctx, framework.Budget{spec.Write: 1}, nil)
		in := staticCall(op, "")
		failures = append(failures, framework.Refused(ctx, u.c, op.ID, in, op.Name()+" with an account id that does not exist", false, want...)...)
	default:
		me := k.pool.take(ctx, framework.Budget{kindOf(op, nil): 2}, nil)
		other := k.pool.take(ctx, framework.Budget{spec.Read: 2}, func(u *contractUser) bool { return u == me })
		other.known(ctx, "methods")
		for _, c := range []struct{ whose, id string }{{"an id that belongs to no one", dummyMethodID}, {"another user's id", other.methodID}} {
			failures = append(failures, framework.Refused(ctx, me.c, op.ID, staticCall(op, c.id), op.Name()+" with "+c.whose, false, want...)...)
		}
		failures = append(failures, other.unchanged(ctx, "methods", op.Name()+" of its method by another user")...)
	}
	framework.ExpectNoFailures(failures)
}

// unknownQuery sends a valid request of op with a query parameter it does not
// document.
func (k *contract) unknownQuery(ctx SpecContext, op spec.Operation) {
	base := k.firstBase(op)
	q := url.Values{spec.UnknownQueryName: {"1"}}
	prep := validCost(op, base)
	if op.ID == myaccount.DeleteConnectedAccount {
		if framework.F.Target.ConnectedAccounts.Connection == "" {
			Skip("the target config names no connected_accounts connection: no account to name")
		}
		prep = framework.Budget{spec.Write: 3} // an account to name, and its cleanup
	}
	avoid := fresh(base)
	if op.ID == myaccount.DeleteConnectedAccount {
		avoid = func(u *contractUser) bool { return u.linked }
	}
	u := k.pool.take(ctx, prep.Add(kindOf(op, q), 1), avoid)
	accountID := ""
	if op.ID == myaccount.DeleteConnectedAccount {
		accountID = k.linkAccount(ctx, u)
	}
	v := k.prepare(ctx, u, op, base, accountID)
	in := v.call
	in.Query = q
	failures := framework.Refused(ctx, u.c, op.ID, in, op.Name()+"?"+q.Encode(), false, http.StatusBadRequest)
	if len(failures) > 0 {
		u.stale() // an accepted request may have changed something
	}
	framework.ExpectNoFailures(failures)
}

// badQueries sends op with each value its documented query parameters forbid.
func (k *contract) badQueries(ctx SpecContext, op spec.Operation) {
	var cases []spec.BadQuery
	for _, q := range spec.DeriveQueries(op) {
		if q.Req == spec.ReqQueryValue {
			cases = append(cases, q)
		}
	}
	var failures []string
	for len(cases) > 0 {
		need := framework.Budget{}
		n := 0
		for _, q := range cases {
			kk := kindOf(op, q.Query)
			if need[kk]+1 > capacity(kk, 0) {
				break
			}
			need[kk]++
			n++
		}
		n = max(n, 1)
		u := k.pool.take(ctx, need, nil)
		for _, q := range cases[:n] {
			in := staticCall(op, u.methodID)
			in.Query = q.Query
			failures = append(failures, framework.Refused(ctx, u.c, op.ID, in, op.Name()+" with "+q.Name, false, http.StatusBadRequest)...)
		}
		cases = cases[n:]
	}
	framework.ExpectNoFailures(failures)
}
