package connected

import (
	"context"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// Connected accounts end to end: connect (201, connect_uri, auth_session, ticket) →
// the user agent goes through the upstream identity provider → complete with the
// connect_code (201) → listed → DELETE (204) → gone; and the refusals of complete.
// Every container uses users of its own within 5 reads and 5 writes.

// accountsOf lists the ids of the user's linked accounts (query: filters and paging). 1 read.
func accountsOf(ctx context.Context, c *myaccount.Client, query url.Values) []string {
	GinkgoHelper()
	resp := framework.Call(c.Do(ctx, myaccount.ListConnectedAccounts, myaccount.Call{Query: query}))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /connected-accounts/accounts?%s", query.Encode())
	var body struct {
		Accounts []struct {
			ID string `json:"id"`
		} `json:"accounts"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	var ids []string
	for _, a := range body.Accounts {
		ids = append(ids, a.ID)
	}
	return ids
}

// connectionsPage is one page of GET /connected-accounts/connections. 1 read.
func connectionsPage(ctx context.Context, c *myaccount.Client, query url.Values) ([]string, string) {
	GinkgoHelper()
	resp := framework.Call(c.Do(ctx, myaccount.ListConnections, myaccount.Call{Query: query}))
	Expect(resp).To(framework.HaveStatus(http.StatusOK), "GET /connected-accounts/connections?%s", query.Encode())
	var body struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
		Next string `json:"next"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	var names []string
	for _, cn := range body.Connections {
		names = append(names, cn.Name)
	}
	return names, body.Next
}

// The lifecycle. One user: 5 writes (connect, complete, connect, complete refused,
// DELETE), 5 reads and 2 filtered reads.
var _ = framework.AreaOf("connected").Describe("Connected accounts", Ordered, func() {
	var (
		c    *myaccount.Client
		cn   framework.Connecting
		link string
		id   string
	)

	BeforeAll(func(ctx SpecContext) {
		framework.RequireConnectedAccounts()
		c = framework.Me(ctx, framework.BorrowUser(ctx, framework.Budget{spec.Read: 5, spec.Write: 5, spec.FilteredRead: 2}), framework.AccountScopes...)
	})

	It("starts a connection: 201 with a connect_uri on the domain called, an auth_session and a ticket", framework.Req("MA-CA-001"), func(ctx SpecContext) {
		cn, link = framework.StartConnect(ctx, c)
	})

	It("brings the user agent back from the identity provider to the redirect_uri with a connect_code and the state", framework.Req("MA-CA-002"), func(ctx SpecContext) {
		Expect(link).NotTo(BeEmpty(), "the connection did not start")
		cn = framework.FollowConnect(ctx, cn, link)
	})

	It("completes the connection: 201 with the linked account", framework.Req("MA-CA-003"), func(ctx SpecContext) {
		Expect(cn.Code).NotTo(BeEmpty(), "no connect_code")
		id = framework.ExpectCompleted(framework.Complete(ctx, c, cn, nil))
	})

	It("lists the linked account, and ?connection= lists only the accounts of the connection named", framework.Req("MA-CA-004"), func(ctx SpecContext) {
		conn := framework.F.Target.ConnectedAccounts.Connection
		Expect(accountsOf(ctx, c, nil)).To(ContainElement(id), "GET /connected-accounts/accounts")
		Expect(accountsOf(ctx, c, url.Values{"connection": {conn}})).To(ContainElement(id), "?connection=%s", conn)
		Expect(accountsOf(ctx, c, url.Values{"connection": {"conformance-no-such-connection"}})).NotTo(ContainElement(id),
			"?connection= naming another connection lists the account")
	})

	It("lists the connection among the connections, a page of take at a time", framework.Req("MA-CA-005", "MA-CA-006"), func(ctx SpecContext) {
		all, _ := connectionsPage(ctx, c, nil)
		Expect(all).To(ContainElement(framework.F.Target.ConnectedAccounts.Connection), "GET /connected-accounts/connections")
		first, next := connectionsPage(ctx, c, url.Values{"take": {"1"}})
		Expect(len(first)).To(BeNumerically("<=", 1), "?take=1 answered %d connections", len(first))
		if len(all) > 1 {
			Expect(next).NotTo(BeEmpty(), "a page of 1 of %d connections has no next cursor", len(all))
		}
		if next != "" {
			second, _ := connectionsPage(ctx, c, url.Values{"take": {"1"}, "from": {next}})
			Expect(second).To(HaveLen(1), "the page after the first")
			Expect(second).NotTo(ContainElements(first), "the next page repeats the first")
		}
	})

	It("refuses to complete a connection the user already has an account of (409)", framework.Req("MA-CA-013"), func(ctx SpecContext) {
		again := framework.Connect(ctx, c)
		resp := framework.Complete(ctx, c, again, nil)
		framework.ExpectNoFailures(framework.RefusalProblems("a second account of the same connection", resp, http.StatusConflict))
	})

	It("deletes the linked account: 204, and it is no longer listed", framework.Req("MA-CA-007"), func(ctx SpecContext) {
		resp := framework.Call(c.Do(ctx, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": id}}))
		Expect(resp).To(framework.HaveStatus(http.StatusNoContent), "DELETE /connected-accounts/accounts/{id}")
		Expect(accountsOf(ctx, c, nil)).NotTo(ContainElement(id), "a deleted account is listed")
	})
})

// What complete refuses. Each refusal changes one thing of a completion that,
// unchanged, succeeds (the last specs). The owner: 5 writes (connect, redirect_uri,
// code_verifier, complete, DELETE); the other user: 5 writes (connect, the owner's
// session, the owner's code, complete, DELETE).
var _ = framework.AreaOf("connected").Describe("Connected accounts: refused completions", Ordered, func() {
	var (
		owner, other *myaccount.Client
		mine, theirs framework.Connecting
	)

	BeforeAll(func(ctx SpecContext) {
		framework.RequireConnectedAccounts()
		owner, other = framework.Me(ctx, framework.BorrowUser(ctx, framework.Budget{spec.Write: 5, spec.Read: 1}), framework.AccountScopes...), framework.Me(ctx, framework.BorrowUser(ctx, framework.Budget{spec.Write: 5, spec.Read: 1}), framework.AccountScopes...)
		mine, theirs = framework.Connect(ctx, owner), framework.Connect(ctx, other)
	})

	It("refuses a connection's auth_session completed by another user", framework.Req("MA-CA-008"), func(ctx SpecContext) {
		framework.ExpectNoFailures(framework.RefusalProblems("another user's auth_session and connect_code", framework.Complete(ctx, other, mine, nil), http.StatusBadRequest))
	})

	It("refuses a connect_code of another connection attempt", framework.Req("MA-CA-010"), func(ctx SpecContext) {
		framework.ExpectNoFailures(framework.RefusalProblems("another attempt's connect_code", framework.Complete(ctx, other, theirs, map[string]any{"connect_code": mine.Code}), http.StatusBadRequest))
	})

	It("refuses a redirect_uri other than the connect request's", framework.Req("MA-CA-011"), func(ctx SpecContext) {
		framework.ExpectNoFailures(framework.RefusalProblems("another redirect_uri", framework.Complete(ctx, owner, mine, map[string]any{"redirect_uri": mine.RedirectURI + "/other"}), http.StatusBadRequest))
	})

	It("refuses a code_verifier that does not match the code_challenge", framework.Req("MA-CA-012"), func(ctx SpecContext) {
		framework.ExpectNoFailures(framework.RefusalProblems("a wrong code_verifier", framework.Complete(ctx, owner, mine, map[string]any{"code_verifier": login.NewVerifier()}), http.StatusBadRequest))
	})

	It("completes both connections when nothing is changed (the control)", framework.Req("MA-CA-008", "MA-CA-010", "MA-CA-011", "MA-CA-012"), func(ctx SpecContext) {
		framework.ExpectCompleted(framework.Complete(ctx, owner, mine, nil))
		framework.ExpectCompleted(framework.Complete(ctx, other, theirs, nil))
	})
})

// A connect_code is used once: replayed after its account was deleted (so no
// conflict can answer instead), it is refused. 4 writes, 1 read.
var _ = framework.AreaOf("connected").Describe("Connected accounts: a replayed connect_code", func() {
	It("refuses a connect_code that already completed a connection", framework.Req("MA-CA-009"), func(ctx SpecContext) {
		framework.RequireConnectedAccounts()
		c := framework.Me(ctx, framework.BorrowUser(ctx, framework.Budget{spec.Write: 4, spec.Read: 1}), framework.AccountScopes...)
		cn := framework.Connect(ctx, c)
		id := framework.ExpectCompleted(framework.Complete(ctx, c, cn, nil))
		Expect(framework.Call(c.Do(ctx, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": id}}))).To(framework.HaveStatus(http.StatusNoContent))
		framework.ExpectNoFailures(framework.RefusalProblems("a connect_code used a second time", framework.Complete(ctx, c, cn, nil), http.StatusBadRequest))
		Expect(accountsOf(ctx, c, nil)).To(BeEmpty(), "the replayed code linked an account")
	})
})
