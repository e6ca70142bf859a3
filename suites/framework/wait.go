package framework

// Waiting for something to expire.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/claims"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// waitUntil sleeps until deadline, failing if the spec is interrupted first.
func waitUntil(ctx SpecContext, deadline time.Time, what string) {
	GinkgoHelper()
	select {
	case <-ctx.Done():
		Fail("interrupted while waiting for " + what)
	case <-time.After(time.Until(deadline)):
	}
}

// Things that must expire (tokens, auth_sessions, codes) are issued when the suite
// starts and checked by specs that run last (SpecPriority(expiryPriority)), so the
// wait for them overlaps every other spec instead of idling. An expiry is registered
// when the spec tree is built (a package-level var) with the labels of the specs that
// check it; it is issued in BeforeSuite only when those specs are selected.

// ExpiryPriority schedules the specs that check an expiry after all others.
const ExpiryPriority = -10

// LoginPromptPriority schedules the containers whose logins post to the login page
// after the first logins of the run (another domain's, a new user's password) after
// the others and before the expiry checks. The page's posts are limited per IP
// (PROTOCOL §6: burst 10, 5 a minute): the first logins spend the burst, and a post
// that waits for its token holds its worker idle, which at the start of the run
// costs the whole run that wait.
const LoginPromptPriority = -5

// SlowStartPriority schedules the container with the slowest start (the login
// browser) before all others, so that a parallel run does not end waiting on it.
// Only one container has it: with two, both workers of a two-process run start in a
// browser while the tenant's write bucket, which sets the floor, idles.
const SlowStartPriority = 10

// expiry is something issued at the start of the run that a spec checks once it has
// run out.
type expiry struct {
	name   string
	labels Labels
	issue  func(ctx context.Context) (value any, lifetime time.Duration, err error)

	issued   time.Time
	value    any
	lifetime time.Duration
	err      error
}

var expiries []*expiry

// IssueAtStart registers an expiry: issue runs in BeforeSuite when the spec labelled
// with labels (all of its labels, its containers' included) is selected, and returns
// what it issued and how long that lives (as the target states it: expires_in, the
// options' timeout, login.code_lifetime). issue must not fail the BeforeSuite: it
// returns an error, which the spec reports (see signUpQuietly below).
func IssueAtStart(name string, labels Labels, issue func(ctx context.Context) (any, time.Duration, error)) *expiry {
	e := &expiry{name: name, labels: labels, issue: issue}
	expiries = append(expiries, e)
	return e
}

var _ = BeforeSuite(func(ctx SpecContext) {
	if F == nil {
		return
	}
	for _, e := range expiries {
		if !selected(e.labels) {
			continue
		}
		e.value, e.lifetime, e.err = e.issue(ctx)
		// Issued by now: counting from before issue ran (a login can take seconds)
		// would call it expired before it is.
		e.issued = time.Now()
	}
})

// selected says whether the label filter selects a spec with labels (all of them,
// as a spec carries them, or any one).
func selected(labels Labels) bool {
	if labels.MatchesLabelFilter(GinkgoLabelFilter()) {
		return true
	}
	for _, l := range labels {
		if Label(l).MatchesLabelFilter(GinkgoLabelFilter()) {
			return true
		}
	}
	return false
}

// Await returns what e issued once it has expired (its lifetime plus a second for
// clocks that tick apart), skipping when that is further off than max_wait allows,
// and failing when it could not be issued.
func (e *expiry) Await(ctx SpecContext) any {
	GinkgoHelper()
	switch {
	case e.issued.IsZero():
		Fail("suite bug: " + e.name + " was not issued at the start: label its spec with one of " + fmt.Sprint(e.labels))
	case e.err != nil:
		Fail(F.Redactor.Text(fmt.Sprintf("%s could not be issued at the start of the run: %v", e.name, e.err)))
	case e.lifetime <= 0:
		Skip(fmt.Sprintf("the target does not state how long %s lives, so the suite cannot tell when it has expired", e.name))
	}
	deadline := e.issued.Add(e.lifetime + time.Second)
	if left := time.Until(deadline); left > time.Duration(F.Target.MaxWait) {
		Skip(fmt.Sprintf("%s lives %s; waiting for it to expire would take %s more, longer than max_wait (%s) allows: raise max_wait in the target config to check it",
			e.name, e.lifetime, left.Round(time.Second), time.Duration(F.Target.MaxWait)))
	}
	waitUntil(ctx, deadline, e.name+" to expire")
	return e.value
}

// Issuing outside a spec: the steps of the other files fail the spec they run in,
// and in BeforeSuite that would fail the whole run, so what issueAtStart issues is
// made with these, which answer errors instead.

// SignUpQuietly signs a user up with an ES256 passkey on the custom domain and
// returns them with a My Account client acting as them (its session renews with the
// passkey); the caller deletes what the client creates.
func SignUpQuietly(ctx context.Context) (*User, *myaccount.Client, error) {
	host := F.Target.CustomDomain
	if host == "" {
		return nil, nil, errors.New("the target config has no custom_domain")
	}
	u := &User{Email: harness.NewEmail(), Authn: authenticator.New()}
	resp, err := F.PasskeyRegister(ctx, host, u.Email)
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, nil, fmt.Errorf("POST /passkey/register answered %d: %.300s", resp.Status, resp.Body)
	}
	var c Ceremony
	if err := resp.JSON(&c); err != nil {
		return nil, nil, err
	}
	att, pk, err := u.Authn.Register(c.Options, F.Target.WebAuthn.Origin, authenticator.ES256)
	if err != nil {
		return nil, nil, err
	}
	resp, err = F.TokenByWebAuthn(ctx, host, c.AuthSession, att, config.MeAudience(host), append([]string{"openid"}, harness.MethodScopes...)...)
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, nil, fmt.Errorf("POST /oauth/token (webauthn grant, signup) answered %d: %.300s", resp.Status, resp.Body)
	}
	if err := resp.JSON(&u.Signup); err != nil {
		return nil, nil, err
	}
	u.Passkeys = append(u.Passkeys, pk)
	u.Subject = claims.Subject(u.Signup.AccessToken)
	F.Users.Add(u.Subject + " " + u.Email)
	renew := func(ctx context.Context) (harness.Tokens, error) {
		return F.PasskeyLogin(ctx, host, u.Authn, pk, config.MeAudience(host), harness.MethodScopes...)
	}
	t, err := renew(ctx)
	if err != nil {
		return nil, nil, err
	}
	return u, myaccount.New(F.Client, host, harness.NewSession(host, t, renew)), nil
}
