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
