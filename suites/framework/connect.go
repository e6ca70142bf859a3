package framework

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// The connected-accounts scopes.
var AccountScopes = []string{"create:me:connected_accounts", "read:me:connected_accounts", "delete:me:connected_accounts"}

// RequireConnectedAccounts skips without connected_accounts in the target config.
func RequireConnectedAccounts() config.ConnectedAccounts {
	GinkgoHelper()
	RequireCustomDomain()
	ca := F.Target.ConnectedAccounts
	if ca.Connection == "" || ca.RedirectURI == "" {
		Skip("the target config has no connected_accounts (connection and redirect_uri): the suite has no connection to link an account from")
	}
	return ca
}

// Connecting is a connection started and brought back to the redirect_uri.
type Connecting struct {
	AuthSession, Code, State, Verifier, RedirectURI string
}

// StartConnect posts connect for the configured connection with PKCE and checks the
// 201. 1 write.
func StartConnect(ctx context.Context, c *myaccount.Client) (Connecting, string) {
	GinkgoHelper()
	ca := RequireConnectedAccounts()
	verifier := login.NewVerifier()
	state := login.NewVerifier()[:16]
	resp := Call(c.Do(ctx, myaccount.Connect, myaccount.Call{Body: map[string]any{
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
	return Connecting{AuthSession: body.AuthSession, State: state, Verifier: verifier, RedirectURI: ca.RedirectURI}, u.String()
}

// maxConnectSteps bounds the redirects between connect_uri and the redirect_uri.
const maxConnectSteps = 10

// FollowConnect plays the user agent from connect_uri through the identity provider
// back to the redirect_uri, and returns the connect_code. Redirects are followed
// with the suite's client; a page on the way (a real provider's login) is handed
// to the configured login driver.
func FollowConnect(ctx context.Context, cn Connecting, start string) Connecting {
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
		resp := Deliver(F.Client.Do(ctx, r))
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
			d := LoginDriver(ctx, F.Target.Login.Driver)
			var lerr error
			final, lerr = d.Login(ctx, next, cn.RedirectURI, UserAs())
			var ue *harness.UnreachableError
			if errors.As(lerr, &ue) {
				Undecided(ue.Error())
			}
			Expect(lerr).NotTo(HaveOccurred(), "the %s driver could not get through the page at %s", d.Name(), F.Redactor.Text(next))
		default:
			Fail(F.Redactor.Text(u.Redacted()) + " answered " + http.StatusText(resp.Status) + " on the way from connect_uri to the redirect_uri: " + F.Redactor.Text(string(resp.Body)))
		}
	}
	Expect(final).NotTo(BeEmpty(), "the user agent did not reach the redirect_uri within %d steps", maxConnectSteps)
	q := CallbackParams(must(url.Parse(final)))
	Expect(q.Get("error")).To(BeEmpty(), "the connection ended with error=%s: %s", q.Get("error"), q.Get("error_description"))
	Expect(q.Get("connect_code")).NotTo(BeEmpty(), "the redirect_uri was reached without a connect_code")
	Expect(q.Get("state")).To(Equal(cn.State), "the redirect_uri was reached with another state than connect's")
	cn.Code = q.Get("connect_code")
	F.Redactor.Add(cn.Code, "CONNECT_CODE")
	return cn
}

// CallbackParams are the parameters the connection brought back to the
// redirect_uri: from the query, as the OpenAPI description and spa-js read them, or
// from the fragment, where the vendor's connected-accounts page puts connect_code.
func CallbackParams(u *url.URL) url.Values {
	q := u.Query()
	if q.Get("connect_code") != "" || q.Get("error") != "" || u.Fragment == "" {
		return q
	}
	f, err := url.ParseQuery(u.Fragment)
	if err != nil || (f.Get("connect_code") == "" && f.Get("error") == "") {
		return q
	}
	for k, v := range f {
		q[k] = v
	}
	return q
}

func must[T any](v T, err error) T {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
	return v
}

// Connect starts a connection and brings the user agent back with a code. 1 write.
func Connect(ctx context.Context, c *myaccount.Client) Connecting {
	GinkgoHelper()
	cn, start := StartConnect(ctx, c)
	return FollowConnect(ctx, cn, start)
}

// Complete posts complete with cn, changed by set (a nil value drops a member), and
// returns the answer as it is. 1 write.
func Complete(ctx context.Context, c *myaccount.Client, cn Connecting, set map[string]any) *harness.Response {
	GinkgoHelper()
	body := map[string]any{"auth_session": cn.AuthSession, "connect_code": cn.Code, "redirect_uri": cn.RedirectURI, "code_verifier": cn.Verifier}
	for k, v := range set {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return Deliver(c.Do(ctx, myaccount.Complete, myaccount.Call{Body: body}))
}

// ExpectCompleted expects complete's 201 with the linked account of the connection.
func ExpectCompleted(resp *harness.Response) string {
	GinkgoHelper()
	resp = Call(resp, nil)
	Expect(resp).To(HaveStatus(http.StatusCreated), "POST /connected-accounts/complete")
	acct := resp.Object()
	Expect(acct).To(HaveKeyWithValue("connection", F.Target.ConnectedAccounts.Connection), "the linked account's connection")
	id, _ := acct["id"].(string)
	Expect(id).To(HavePrefix("cac_"), "the linked account's id")
	return id
}
