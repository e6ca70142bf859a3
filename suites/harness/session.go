package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
)

// Session is a user's login on one domain: the tokens a login gave and how to get
// new ones when they run out. A target sets token lifetimes per API (the My Account
// API's may be short), so specs never hold an access token across time themselves:
// requests carry the Session, and the client asks it for a token just before
// sending, after any wait for the limits. A session whose tokens are DPoP-bound
// presents them with the DPoP scheme and a fresh proof of its key per request.
type Session struct {
	// Host is the domain the tokens were issued on (and are for).
	Host string
	// Subject is the user (the access token's sub): whose per-user bucket the
	// session's requests draw on.
	Subject string

	mu      sync.Mutex
	tokens  Tokens
	expires time.Time
	renew   func(context.Context) (Tokens, error)
	key     *dpop.Key
}

// Renewal margin: a token with less than this left is renewed before use, so that
// it does not expire between the client's check and the target's.
const renewMargin = 3 * time.Second

// ErrCannotRenew is returned when a session's token ran out and it has no way to
// get another.
var ErrCannotRenew = errors.New("the session's access token expired and the session cannot renew it")

// NewSession starts a session with the tokens of a login. renew gets fresh tokens
// (a refresh, or a new login of the same user); nil when the session cannot.
func NewSession(host string, t Tokens, renew func(context.Context) (Tokens, error)) *Session {
	s := &Session{Host: host, Subject: pace.UserKey(t.AccessToken), renew: renew}
	s.set(t)
	return s
}

func (s *Session) set(t Tokens) {
	s.tokens = t
	s.expires = time.Time{}
	if t.ExpiresIn > 0 {
		s.expires = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
}

// Bind says the session's tokens are bound to k (its renewals must bind the new ones
// to k too): requests present them with a proof of k. It returns s.
func (s *Session) Bind(k *dpop.Key) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = k
	return s
}

// Key is the key the session is bound to (nil when Bind was not called: the client
// then knows the key of a bound token it obtained itself).
func (s *Session) Key() *dpop.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// Tokens are the session's current tokens, as the last login or renewal gave them.
func (s *Session) Tokens() Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// Scheme is how the token is presented: "Bearer", or "DPoP" for a bound token.
func (s *Session) Scheme() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.EqualFold(s.tokens.TokenType, "DPoP") {
		return "DPoP"
	}
	return "Bearer"
}

// Token is an access token with time left, renewed first when it is about to run out.
func (s *Session) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expires.IsZero() || time.Until(s.expires) > renewMargin {
		return s.tokens.AccessToken, nil
	}
	if s.renew == nil {
		return "", fmt.Errorf("%w (it lived %ds)", ErrCannotRenew, s.tokens.ExpiresIn)
	}
	t, err := s.renew(ctx)
	if err != nil {
		return "", fmt.Errorf("renewing the session's access token: %w", err)
	}
	if sub := pace.UserKey(t.AccessToken); sub != s.Subject {
		return "", fmt.Errorf("renewing the session's access token gave a token of %s, not of %s", sub, s.Subject)
	}
	s.set(t)
	return s.tokens.AccessToken, nil
}
