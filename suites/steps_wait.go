package suites

// Waiting for something to expire.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// shortLived is F with clients.short_lived in the native client's place, so that the
// framework's passkey calls use it; it skips when the target config names none.
func shortLived() *harness.Framework {
	GinkgoHelper()
	if F.Target.Clients.ShortLived.ClientID == "" {
		Skip("the target config has no clients.short_lived (a client whose access tokens and passkey ceremonies live a few seconds), so nothing expires within the time this suite allows")
	}
	f, t := *F, *F.Target
	t.Clients.Native = t.Clients.ShortLived
	f.Target = &t
	return &f
}

// loginAs is login through f's native client.
func loginAs(ctx context.Context, f *harness.Framework, u *user, pk *authenticator.Passkey, host string, scopes ...string) harness.Tokens {
	GinkgoHelper()
	c := decodeCeremony(call(f.PasskeyChallenge(ctx, host)))
	assertion, err := u.Authn.Login(c.Options, F.Target.WebAuthn.Origin, pk)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
	resp := call(f.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, harness.MeAudience(host), scopes...))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, clients.short_lived)")
	var t harness.Tokens
	Expect(resp.JSON(&t)).To(Succeed())
	Expect(t.AccessToken).NotTo(BeEmpty(), "access_token")
	return t
}

// waitUntil sleeps until deadline, failing if the spec is interrupted first.
func waitUntil(ctx SpecContext, deadline time.Time, what string) {
	GinkgoHelper()
	select {
	case <-ctx.Done():
		Fail("interrupted while waiting for " + what)
	case <-time.After(time.Until(deadline)):
	}
}

// waitOutCeremony waits until the ceremony's timeout has passed, or skips when that
// is longer than the suite allows. The options' timeout is the only lifetime a client
// is told; a server keeps the auth_session about that long.
func waitOutCeremony(ctx SpecContext, options json.RawMessage) {
	GinkgoHelper()
	started := time.Now()
	var o struct {
		Timeout int `json:"timeout"`
	}
	_ = json.Unmarshal(options, &o)
	d := time.Duration(o.Timeout) * time.Millisecond
	if o.Timeout <= 0 || d+time.Second > maxExpiryWait {
		Skip(fmt.Sprintf("the options' timeout is %d ms; waiting an auth_session out takes longer than the %v this suite allows: give clients.short_lived a passkey ceremony lifetime of at most %v", o.Timeout, maxExpiryWait, maxLifetime))
	}
	waitUntil(ctx, started.Add(d+time.Second), "the auth_session to expire")
}

// Things that must expire (tokens, auth_sessions, codes) are issued when the suite
// starts and checked by specs that run last (SpecPriority(expiryPriority)), so the
// wait for them overlaps every other spec instead of idling. An expiry is registered
// when the spec tree is built (a package-level var) with the labels of the specs that
// check it; it is issued in BeforeSuite only when those specs are selected.

// expiryPriority schedules the specs that check an expiry after all others.
const expiryPriority = -10

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

// issueAtStart registers an expiry: issue runs in BeforeSuite when a spec labelled
// with any of labels is selected, and returns what it issued and how long that lives
// (as the target states it: expires_in, the options' timeout, login.code_lifetime).
func issueAtStart(name string, labels Labels, issue func(ctx context.Context) (any, time.Duration, error)) *expiry {
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

// await returns what e issued once it has expired (its lifetime plus a second for
// clocks that tick apart), skipping when that is further off than max_wait allows,
// and failing when it could not be issued.
func (e *expiry) await(ctx SpecContext) any {
	GinkgoHelper()
	switch {
	case e.issued.IsZero():
		Fail("suite bug: " + e.name + " was not issued at the start: label its spec with one of " + fmt.Sprint(e.labels))
	case e.err != nil:
		Fail(fmt.Sprintf("%s could not be issued at the start of the run: %v", e.name, e.err))
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
