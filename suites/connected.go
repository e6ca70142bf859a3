package suites

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// Connected accounts end to end: connect (201, connect_uri, auth_session, ticket) →
// the user agent goes through the upstream identity provider → complete with the
// connect_code (201) → listed → DELETE (204) → gone; and the refusals of complete.
// Every container uses users of its own within 5 reads and 5 writes.

// The connected-accounts scopes.
var accountScopes = []string{"create:me:connected_accounts", "read:me:connected_accounts", "delete:me:connected_accounts"}

// requireConnectedAccounts skips without connected_accounts in the target config.
func requireConnectedAccounts() harness.ConnectedAccounts {
	GinkgoHelper()
	requireCustomDomain()
	ca := F.Target.ConnectedAccounts
	if ca.Connection == "" || ca.RedirectURI == "" {
		Skip("the target config has no connected_accounts (connection and redirect_uri): the suite has no connection to link an account from")
	}
	return ca
}

// connecting is a connection started and brought back to the redirect_uri.
type connecting struct {
	AuthSession, Code, State, Verifier, RedirectURI string
}

// startConnect posts connect for the configured connection with PKCE and checks the
// 201. 1 write.
func startConnect(ctx context.Context, c *myaccount.Client) (connecting, string) {
	GinkgoHelper()
	ca := requireConnectedAccounts()
	verifier := login.NewVerifier()
	state := login.NewVerifier()[:16]
	resp := call(c.Do(ctx, myaccount.Connect, myaccount.Call{Body: map[string]any{
		"connection": ca.Connection, "redirect_uri": ca.RedirectURI, "state": state,
		"code_challenge": login.PKCEChallenge(verifier), "code_challenge_method": "S256",
	}}))
	Expect(resp).To(HaveStatus(http.StatusCreated), "POST /connected-accounts/connect")
	var body struct {
		ConnectURI    string `json:"connect_uri"`
		AuthSession   string `json:"auth_session"`
		ConnectParams struct {
			Ticket string `json:"ticket"`
		} `json:"connect_params"`
		ExpiresIn *int `json:"expires_in"`
	}
	Expect(resp.JSON(&body)).To(Succeed())
	Expect(body.AuthSession).NotTo(BeEmpty(), "auth_session")
	Expect(body.ConnectParams.Ticket).NotTo(BeEmpty(), "connect_params.ticket")
	Expect(body.ExpiresIn).NotTo(BeNil(), "expires_in")
	Expect(*body.ExpiresIn).To(BeNumerically(">", 0), "expires_in")
	u, err := url.Parse(body.ConnectURI)
	Expect(err).NotTo(HaveOccurred(), "connect_uri %q is not a URL", body.ConnectURI)
	Expect(u.Scheme).To(Equal("https"), "connect_uri %s", body.ConnectURI)
	Expect(strings.EqualFold(u.Host, c.Host)).To(BeTrue(), "connect_uri %s must be on the domain called, %s", body.ConnectURI, c.Host)
	q := u.Query()
	q.Set("ticket", body.ConnectParams.Ticket)
	u.RawQuery = q.Encode()
	return connecting{AuthSession: body.AuthSession, State: state, Verifier: verifier, RedirectURI: ca.RedirectURI}, u.String()
}

// maxConnectSteps bounds the redirects between connect_uri and the redirect_uri.
const maxConnectSteps = 10

// followConnect plays the user agent from connect_uri through the identity provider
// back to the redirect_uri, and returns the connect_code. Redirects are followed
// with the suite's client; a page on the way (a real provider's login) is handed
// to the configured login driver.
func followConnect(ctx context.Context, cn connecting, start string) connecting {
	GinkgoHelper()
	jar := map[string]string{}
	next := start
	final := ""
	for step := 0; final == "" && step < maxConnectSteps; step++ {
		u, err := url.Parse(next)
		Expect(err).NotTo(HaveOccurred(), "%q is not a URL", next)
		r := &harness.Request{Method: http.MethodGet, URL: next, Deliberate: true, Header: http.Header{"Accept": {"text/html,application/json"}}}
		if c := jar[u.Host]; c != "" {
			r.Header.Set("Cookie", c)
		}
		resp := deliver(F.Client.Do(ctx, r))
		for _, ck := range (&http.Response{Header: resp.Header}).Cookies() {
			jar[u.Host] = strings.TrimPrefix(jar[u.Host]+"; "+ck.Name+"="+ck.Value, "; ")
		}
		switch {
		case resp.Status >= 300 && resp.Status < 400:
			loc, err := u.Parse(resp.Location())
			Expect(err).NotTo(HaveOccurred(), "%s answered %d with Location %q", u.Redacted(), resp.Status, resp.Location())
			if login.IsRedirectTo(loc.String(), cn.RedirectURI) {
				final = loc.String()
			}
			next = loc.String()
		case resp.Status == http.StatusOK && strings.Contains(resp.Header.Get("Content-Type"), "html"):
			// A login page of the identity provider: the configured driver signs in.
			d := loginDriver(ctx, F.Target.Login.Driver)
			var lerr error
			final, lerr = d.Login(ctx, next, cn.RedirectURI, userAs())
			var ue *harness.UnreachableError
			if errors.As(lerr, &ue) {
				undecided(ue.Error())
			}
			Expect(lerr).NotTo(HaveOccurred(), "the %s driver could not get through the page at %s", d.Name(), F.Redactor.Text(next))
		default:
			Fail(F.Redactor.Text(u.Redacted()) + " answered " + http.StatusText(resp.Status) + " on the way from connect_uri to the redirect_uri: " + F.Redactor.Text(string(resp.Body)))
		}
	}
	Expect(final).NotTo(BeEmpty(), "the user agent did not reach the redirect_uri within %d steps", maxConnectSteps)
	q := must(url.Parse(final)).Query()
	Expect(q.Get("error")).To(BeEmpty(), "the connection ended with error=%s: %s", q.Get("error"), q.Get("error_description"))
	Expect(q.Get("connect_code")).NotTo(BeEmpty(), "the redirect_uri was reached without a connect_code")
	Expect(q.Get("state")).To(Equal(cn.State), "the redirect_uri was reached with another state than connect's")
	cn.Code = q.Get("connect_code")
	F.Redactor.Add(cn.Code, "CONNECT_CODE")
	return cn
}

func must[T any](v T, err error) T {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
	return v
}

// connect starts a connection and brings the user agent back with a code. 1 write.
func connect(ctx context.Context, c *myaccount.Client) connecting {
	GinkgoHelper()
	cn, start := startConnect(ctx, c)
	return followConnect(ctx, cn, start)
}

// complete posts complete with cn, changed by set (a nil value drops a member), and
// returns the answer as it is. 1 write.
func complete(ctx context.Context, c *myaccount.Client, cn connecting, set map[string]any) *harness.Response {
	GinkgoHelper()
	body := map[string]any{"auth_session": cn.AuthSession, "connect_code": cn.Code, "redirect_uri": cn.RedirectURI, "code_verifier": cn.Verifier}
	for k, v := range set {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return deliver(c.Do(ctx, myaccount.Complete, myaccount.Call{Body: body}))
}

// expectCompleted expects complete's 201 with the linked account of the connection.
func expectCompleted(resp *harness.Response) string {
	GinkgoHelper()
	resp = call(resp, nil)
	Expect(resp).To(HaveStatus(http.StatusCreated), "POST /connected-accounts/complete")
	acct := resp.Object()
	Expect(acct).To(HaveKeyWithValue("connection", F.Target.ConnectedAccounts.Connection), "the linked account's connection")
	id, _ := acct["id"].(string)
	Expect(id).To(HavePrefix("cac_"), "the linked account's id")
	return id
}

// accountsOf lists the ids of the user's linked accounts (query: filters and paging). 1 read.
func accountsOf(ctx context.Context, c *myaccount.Client, query url.Values) []string {
	GinkgoHelper()
	resp := call(c.Do(ctx, myaccount.ListConnectedAccounts, myaccount.Call{Query: query}))
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
	resp := call(c.Do(ctx, myaccount.ListConnections, myaccount.Call{Query: query}))
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
		cn   connecting
		link string
		id   string
	)

	BeforeAll(func(ctx SpecContext) {
		requireConnectedAccounts()
		c = me(ctx, newUser(ctx), accountScopes...)
	})

	It("starts a connection: 201 with a connect_uri on the domain called, an auth_session and a ticket", Req("MA-CA-001"), func(ctx SpecContext) {
		cn, link = startConnect(ctx, c)
	})

	It("brings the user agent back from the identity provider to the redirect_uri with a connect_code and the state", Req("MA-CA-002"), func(ctx SpecContext) {
		Expect(link).NotTo(BeEmpty(), "the connection did not start")
		cn = followConnect(ctx, cn, link)
	})

	It("completes the connection: 201 with the linked account", Req("MA-CA-003"), func(ctx SpecContext) {
		Expect(cn.Code).NotTo(BeEmpty(), "no connect_code")
		id = expectCompleted(complete(ctx, c, cn, nil))
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
		again := connect(ctx, c)
		resp := complete(ctx, c, again, nil)
		expectNoFailures(refusalProblems("a second account of the same connection", resp, http.StatusConflict))
	})

	It("deletes the linked account: 204, and it is no longer listed", Req("MA-CA-007"), func(ctx SpecContext) {
		resp := call(c.Do(ctx, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": id}}))
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
		mine, theirs connecting
	)

	BeforeAll(func(ctx SpecContext) {
		requireConnectedAccounts()
		owner, other = me(ctx, newUser(ctx), accountScopes...), me(ctx, newUser(ctx), accountScopes...)
		mine, theirs = connect(ctx, owner), connect(ctx, other)
	})

	It("refuses a connection's auth_session completed by another user", Req("MA-CA-008"), func(ctx SpecContext) {
		expectNoFailures(refusalProblems("another user's auth_session and connect_code", complete(ctx, other, mine, nil), http.StatusBadRequest))
	})

	It("refuses a connect_code of another connection attempt", Req("MA-CA-010"), func(ctx SpecContext) {
		expectNoFailures(refusalProblems("another attempt's connect_code", complete(ctx, other, theirs, map[string]any{"connect_code": mine.Code}), http.StatusBadRequest))
	})

	It("refuses a redirect_uri other than the connect request's", Req("MA-CA-011"), func(ctx SpecContext) {
		expectNoFailures(refusalProblems("another redirect_uri", complete(ctx, owner, mine, map[string]any{"redirect_uri": mine.RedirectURI + "/other"}), http.StatusBadRequest))
	})

	It("refuses a code_verifier that does not match the code_challenge", Req("MA-CA-012"), func(ctx SpecContext) {
		expectNoFailures(refusalProblems("a wrong code_verifier", complete(ctx, owner, mine, map[string]any{"code_verifier": login.NewVerifier()}), http.StatusBadRequest))
	})

	It("completes both connections when nothing is changed (the control)", Req("MA-CA-008", "MA-CA-010", "MA-CA-011", "MA-CA-012"), func(ctx SpecContext) {
		expectCompleted(complete(ctx, owner, mine, nil))
		expectCompleted(complete(ctx, other, theirs, nil))
	})
})

// A connect_code is used once: replayed after its account was deleted (so no
// conflict can answer instead), it is refused. 4 writes, 1 read.
var _ = Describe("Connected accounts: a replayed connect_code", Label("connected"), func() {
	It("refuses a connect_code that already completed a connection", Req("MA-CA-009"), func(ctx SpecContext) {
		requireConnectedAccounts()
		c := me(ctx, newUser(ctx), accountScopes...)
		cn := connect(ctx, c)
		id := expectCompleted(complete(ctx, c, cn, nil))
		Expect(call(c.Do(ctx, myaccount.DeleteConnectedAccount, myaccount.Call{Path: map[string]string{"id": id}}))).To(HaveStatus(http.StatusNoContent))
		expectNoFailures(refusalProblems("a connect_code used a second time", complete(ctx, c, cn, nil), http.StatusBadRequest))
		Expect(accountsOf(ctx, c, nil)).To(BeEmpty(), "the replayed code linked an account")
	})
})
