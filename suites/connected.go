package suites

import (
	"context"
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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
	resp := Call(c.Do(ctx, myaccount.ListConnectedAccounts, myaccount.Call{Query: query}))
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /connected-accounts/accounts?%s", query.Encode())
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
	resp := Call(c.Do(ctx, myaccount.ListConnections, myaccount.Call{Query: query}))
	Expect(resp).To(HaveStatus(http.StatusOK), "GET /connected-accounts/connections?%s", query.Encode())
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
var _ = Describe("Connected accounts", Label("connected"), Ordered, func() {
	var (
		c    *myaccount.Client
		cn   Connecting
		link string
		id   string
	)

	BeforeAll(func(ctx SpecContext) {
		RequireConnectedAccounts()
		c = Me(ctx, NewUser(ctx), AccountScopes...)
	})

	It("starts a connection: 201 with a connect_uri on the domain called, an auth_session and a ticket", Req("MA-CA-001"), func(ctx SpecContext) {
		cn, link = StartConnect(ctx, c)
	})

	It("brings the user agent back from the identity provider to the redirect_uri with a connect_code and the state", Req("MA-CA-002"), func(ctx SpecContext) {
		Expect(link).NotTo(BeEmpty(), "the connection did not start")
		cn = FollowConnect(ctx, cn, link)
	})

	It("completes the connection: 201 with the linked account", Req("MA-CA-003"), func(ctx SpecContext) {
		Expect(cn.Code).NotTo(BeEmpty(), "no connect_code")
		id = ExpectCompleted(Complete(ctx, c, cn, nil))
	})

	It("lists the linked account, and ?connection= lists only the accounts of the connection named", Req("MA-CA-004"), func(ctx SpecContext) {
		conn := F.Target.ConnectedAccounts.Connection
		Expect(accountsOf(ctx, c, nil)).To(ContainElement(id), "GET /connected-accounts/accounts")
		Expect(accountsOf(ctx, c, url.Values{"connection": {conn}})).To(ContainElement(id), "?connection=%s", conn)
		Expect(accountsOf(ctx, c, url.Values{"connection": {"conformance-no-such-connection"}})).NotTo(ContainElement(id),
			"?connection= naming another connection lists the account")
	})

	It("lists the connection among the connections, a page of take at a time", Req("MA-CA-005", "MA-CA-006"), func(ctx SpecContext) {
		all, _ := connectionsPage(ctx, c, nil)
		Expect(all).To(ContainElement(F.Target.ConnectedAccounts.Connection), "GET /connected-accounts/connections")
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

	It("refuses to complete a connection the user already has an account of (409)", Req("MA-CA-013"), func(ctx SpecContext) {
		again := Connect(ctx, c)
		resp := Complete(ctx, c, again, nil)
		ExpectNoFailures(RefusalProblems("a second account of the same connection", resp, http.StatusConflict))
	})

	It("deletes the linked account: 204, and it is no longer listed", Req("MA-CA-007"), func(ctx SpecContext) {
		resp := Call(c.Do(ctx, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": id}}))
		Expect(resp).To(HaveStatus(http.StatusNoContent), "DELETE /connected-accounts/accounts/{id}")
		Expect(accountsOf(ctx, c, nil)).NotTo(ContainElement(id), "a deleted account is listed")
	})
})

// What complete refuses. Each refusal changes one thing of a completion that,
// unchanged, succeeds (the last specs). The owner: 5 writes (connect, redirect_uri,
// code_verifier, complete, DELETE); the other user: 5 writes (connect, the owner's
// session, the owner's code, complete, DELETE).
var _ = Describe("Connected accounts: refused completions", Label("connected"), Ordered, func() {
	var (
		owner, other *myaccount.Client
		mine, theirs Connecting
	)

	BeforeAll(func(ctx SpecContext) {
		RequireConnectedAccounts()
		owner, other = Me(ctx, NewUser(ctx), AccountScopes...), Me(ctx, NewUser(ctx), AccountScopes...)
		mine, theirs = Connect(ctx, owner), Connect(ctx, other)
	})

	It("refuses a connection's auth_session completed by another user", Req("MA-CA-008"), func(ctx SpecContext) {
		ExpectNoFailures(RefusalProblems("another user's auth_session and connect_code", Complete(ctx, other, mine, nil), http.StatusBadRequest))
	})

	It("refuses a connect_code of another connection attempt", Req("MA-CA-010"), func(ctx SpecContext) {
		ExpectNoFailures(RefusalProblems("another attempt's connect_code", Complete(ctx, other, theirs, map[string]any{"connect_code": mine.Code}), http.StatusBadRequest))
	})

	It("refuses a redirect_uri other than the connect request's", Req("MA-CA-011"), func(ctx SpecContext) {
		ExpectNoFailures(RefusalProblems("another redirect_uri", Complete(ctx, owner, mine, map[string]any{"redirect_uri": mine.RedirectURI + "/other"}), http.StatusBadRequest))
	})

	It("refuses a code_verifier that does not match the code_challenge", Req("MA-CA-012"), func(ctx SpecContext) {
		ExpectNoFailures(RefusalProblems("a wrong code_verifier", Complete(ctx, owner, mine, map[string]any{"code_verifier": login.NewVerifier()}), http.StatusBadRequest))
	})

	It("completes both connections when nothing is changed (the control)", Req("MA-CA-008", "MA-CA-010", "MA-CA-011", "MA-CA-012"), func(ctx SpecContext) {
		ExpectCompleted(Complete(ctx, owner, mine, nil))
		ExpectCompleted(Complete(ctx, other, theirs, nil))
	})
})

// A connect_code is used once: replayed after its account was deleted (so no
// conflict can answer instead), it is refused. 4 writes, 1 read.
var _ = Describe("Connected accounts: a replayed connect_code", Label("connected"), func() {
	It("refuses a connect_code that already completed a connection", Req("MA-CA-009"), func(ctx SpecContext) {
		RequireConnectedAccounts()
		c := Me(ctx, NewUser(ctx), AccountScopes...)
		cn := Connect(ctx, c)
		id := ExpectCompleted(Complete(ctx, c, cn, nil))
		Expect(Call(c.Do(ctx, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": id}}))).To(HaveStatus(http.StatusNoContent))
		ExpectNoFailures(RefusalProblems("a connect_code used a second time", Complete(ctx, c, cn, nil), http.StatusBadRequest))
		Expect(accountsOf(ctx, c, nil)).To(BeEmpty(), "the replayed code linked an account")
	})
})
