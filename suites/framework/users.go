package framework

// Users the suite signs up with a passkey, and their logins.

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// User is someone the suite signed up, with the passkeys it holds. Specs that
// write get users of their own: against Auth0 one user may make 5 reads and 5 writes
// a minute (PROTOCOL §6), and passkey signups are cheap.
type User struct {
	Email    string
	Subject  string // the user id (the tokens' sub)
	Authn    *authenticator.Authenticator
	Passkeys []*authenticator.Passkey
	Signup   harness.Tokens
	retired  bool // changed for good (its signup passkey deleted): SpareUsers leaves it out
}

// Ceremony is a WebAuthn challenge issued by the target.
type Ceremony struct {
	AuthSession string          `json:"auth_session"`
	Options     json.RawMessage `json:"authn_params_public_key"`
}

func DecodeCeremony(resp *harness.Response) Ceremony {
	GinkgoHelper()
	var c Ceremony
	Expect(resp.JSON(&c)).To(Succeed())
	Expect(c.AuthSession).NotTo(BeEmpty(), "auth_session")
	Expect(c.Options).NotTo(BeEmpty(), "authn_params_public_key")
	return c
}

// SignUp creates a user with a passkey of the given algorithm through
// /passkey/register and the webauthn grant on the custom domain.
func SignUp(ctx context.Context, alg authenticator.Alg) *User {
	GinkgoHelper()
	u, _ := SignUpWith(ctx, alg, nil, append([]string{"openid", "offline_access"}, harness.MethodScopes...))
	return u
}

// SignUpWith is signUp with a DPoP proof of key at the token endpoint (nil: the
// client's default) and the given scopes; it also returns the token response.
func SignUpWith(ctx context.Context, alg authenticator.Alg, key *dpop.Key, scopes []string) (*User, *harness.Response) {
	GinkgoHelper()
	return signUpOn(ctx, RequireCustomDomain(), alg, key, scopes)
}

// SignUpOn signs a user up with an ES256 passkey on the custom domain host (one of
// several: the passkey is bound to that domain's RP ID).
func SignUpOn(ctx context.Context, host string) *User {
	GinkgoHelper()
	u, _ := signUpOn(ctx, host, authenticator.ES256, nil, append([]string{"openid", "offline_access"}, harness.MethodScopes...))
	return u
}

func signUpOn(ctx context.Context, host string, alg authenticator.Alg, key *dpop.Key, scopes []string) (*User, *harness.Response) {
	GinkgoHelper()
	u := &User{Email: harness.NewEmail(), Authn: authenticator.New()}
	resp := Call(F.PasskeyRegister(ctx, host, u.Email))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/register")
	c := DecodeCeremony(resp)
	att, pk, err := u.Authn.Register(c.Options, F.Target.OriginFor(host), alg)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the creation options")
	resp = Call(F.TokenByWebAuthnProof(ctx, key, host, c.AuthSession, att, config.MeAudience(host), scopes...))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, signup)")
	Expect(resp.JSON(&u.Signup)).To(Succeed())
	Expect(u.Signup.AccessToken).NotTo(BeEmpty(), "access_token")
	u.Passkeys = append(u.Passkeys, pk)
	u.Subject, _ = Claims(u.Signup.AccessToken)["sub"].(string)
	F.Users.Add(u.Subject + " " + u.Email)
	if key == nil {
		runUsersMu.Lock()
		everyUser = append(everyUser, u)
		runUsersMu.Unlock()
	}
	return u, resp
}

// NewUser signs a user up with an ES256 passkey.
func NewUser(ctx context.Context) *User {
	GinkgoHelper()
	return SignUp(ctx, authenticator.ES256)
}

// Session is u's login on host for the My Account API with scopes (every method
// scope when none are given), through the first passkey; it renews by logging in
// again, so it outlives short token lifetimes.
func (u *User) Session(ctx context.Context, host string, scopes ...string) *harness.Session {
	GinkgoHelper()
	if len(scopes) == 0 {
		scopes = harness.MethodScopes
	}
	pk := u.Passkeys[0]
	renew := func(ctx context.Context) (harness.Tokens, error) {
		return F.PasskeyLogin(ctx, host, u.Authn, pk, config.MeAudience(host), scopes...)
	}
	t, err := renew(ctx)
	Expect(err).NotTo(HaveOccurred(), "%s could not log in with the passkey", u.Email)
	return harness.NewSession(host, t, renew)
}

// Me is a My Account client for u on the custom domain; whatever it creates is
// deleted, newest first, by a DeferCleanup registered now, and what cannot be
// deleted is listed in the report.
func Me(ctx context.Context, u *User, scopes ...string) *myaccount.Client {
	GinkgoHelper()
	host := RequireCustomDomain()
	c := myaccount.New(F.Client, host, u.Session(ctx, host, scopes...))
	DeferCleanup(func(ctx SpecContext) {
		for _, err := range c.Cleanup(ctx) {
			F.Leftovers.Add(u.Email + ": " + err.Error())
		}
	})
	return c
}

// PasskeyLogin runs /passkey/challenge and the webauthn grant with one passkey and
// returns the token response as is.
func PasskeyLogin(ctx context.Context, u *User, pk *authenticator.Passkey, host, audience string, scopes ...string) *harness.Response {
	GinkgoHelper()
	resp := Call(F.PasskeyChallenge(ctx, host))
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /passkey/challenge")
	c := DecodeCeremony(resp)
	assertion, err := u.Authn.Login(c.Options, F.Target.OriginFor(host), pk)
	Expect(err).NotTo(HaveOccurred(), "the virtual authenticator could not answer the request options")
	return Call(F.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, audience, scopes...))
}

// SignIn logs in with a passkey and expects tokens for the My Account API of host.
func SignIn(ctx context.Context, u *User, pk *authenticator.Passkey, host string, scopes ...string) harness.Tokens {
	GinkgoHelper()
	if len(scopes) == 0 {
		scopes = harness.MethodScopes
	}
	resp := PasskeyLogin(ctx, u, pk, host, config.MeAudience(host), scopes...)
	Expect(resp).To(HaveStatus(http.StatusOK), "POST /oauth/token (webauthn grant, login)")
	return TokensOf(resp)
}

// The run's users: a spec that needs a user with room in its buckets, not a new
// one, borrows one (BorrowUser) from this process's pool, which lends a user again
// once its buckets have refilled (and signs one up only when that would take
// longer than a signup): a run signs up a few users and uses each fully. A
// borrowed user is the borrower's alone until the node that borrowed it is over;
// what the spec created through Me is removed first (DeferCleanup runs newest
// first), so the next borrower gets the user as it was lent. Specs whose point is
// a new user (a signup), or that leave a user changed for good (its signup passkey
// deleted), call NewUser.
var (
	runUsersMu sync.Mutex
	runUsers   *Pool[*User]
	lent       = map[*User]bool{}
	everyUser  []*User // signed up in this process without a DPoP key
)

// Retire marks u as changed for good (its signup passkey deleted, say): no spec
// gets it from SpareUsers.
func (u *User) Retire() {
	runUsersMu.Lock()
	u.retired = true
	runUsersMu.Unlock()
}

// ClaimSpareUsers takes, for the rest of the run, this process's users that no spec
// holds and whose signup passkey still logs them in: what is left in their buckets
// serves the rate-limit bursts, which go round the pacer (so no later borrower
// must get them) and would otherwise sign users up.
func ClaimSpareUsers() []*User {
	runUsersMu.Lock()
	defer runUsersMu.Unlock()
	var out []*User
	for _, u := range everyUser {
		if !lent[u] && !u.retired && len(u.Passkeys) > 0 {
			lent[u] = true // for good: no DeferCleanup gives it back
			out = append(out, u)
		}
	}
	return out
}

// BorrowUser lends one of the run's users with need left in its buckets.
func BorrowUser(ctx context.Context, need Budget) *User {
	GinkgoHelper()
	runUsersMu.Lock()
	if runUsers == nil {
		runUsers = NewPool(func(ctx context.Context) (*User, Budget) { return NewUser(ctx), Budget{} })
	}
	pool := runUsers
	runUsersMu.Unlock()
	// Lent only with room by the pool's reckoning and by the pacer's count, which
	// sees what earlier borrowers really sent.
	u := pool.Take(ctx, need, func(u *User) bool { return isLent(u) || !F.Client.Pacer.UserHas(u.Subject, need) })
	runUsersMu.Lock()
	lent[u] = true
	runUsersMu.Unlock()
	DeferCleanup(func() {
		runUsersMu.Lock()
		delete(lent, u)
		runUsersMu.Unlock()
	})
	return u
}

// BorrowRested lends one of the run's users whose every bucket is full (by what
// its specs asked and by what the pacer counted), as a new user's are, or nil when
// none is: for the rate-limit bursts, which need users of untouched buckets and
// would otherwise sign them up. The signup token of a user lent so is long gone.
func BorrowRested(ctx context.Context) *User {
	GinkgoHelper()
	runUsersMu.Lock()
	pool := runUsers
	runUsersMu.Unlock()
	if pool == nil {
		return nil
	}
	u, ok := pool.TryTake(WholeUser(), func(u *User) bool { return isLent(u) || !F.Client.Pacer.UserFull(u.Subject) })
	if !ok {
		return nil
	}
	Claim(u)
	return u
}

// Claim takes u for the rest of the run: no spec borrows it and ClaimSpareUsers
// leaves it out (its buckets are spent where the pacer does not see it: a burst).
func Claim(u *User) {
	runUsersMu.Lock()
	lent[u] = true
	runUsersMu.Unlock()
}

func isLent(u *User) bool {
	runUsersMu.Lock()
	defer runUsersMu.Unlock()
	return lent[u]
}
