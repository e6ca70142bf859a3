package harness

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func jwtFor(sub, n string) string {
	return "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"`+sub+`","n":"`+n+`"}`)) + ".sig"
}

func TestSessionRenewsTokensThatRunOut(t *testing.T) {
	ctx := context.Background()
	renewals := 0
	s := NewSession("h", Tokens{AccessToken: jwtFor("auth0|a", "0"), ExpiresIn: 1}, func(context.Context) (Tokens, error) {
		renewals++
		return Tokens{AccessToken: jwtFor("auth0|a", "1"), ExpiresIn: 3600}, nil
	})
	if s.Subject != "auth0|a" {
		t.Errorf("subject %q", s.Subject)
	}
	// One second left is less than the renewal margin: the session renews first.
	tok, err := s.Token(ctx)
	if err != nil || tok != jwtFor("auth0|a", "1") || renewals != 1 {
		t.Fatalf("token %q, %v after %d renewals", tok, err, renewals)
	}
	if tok, _ := s.Token(ctx); tok != jwtFor("auth0|a", "1") || renewals != 1 {
		t.Errorf("a fresh token was renewed again")
	}

	other := NewSession("h", Tokens{AccessToken: jwtFor("auth0|a", "0"), ExpiresIn: 1}, func(context.Context) (Tokens, error) {
		return Tokens{AccessToken: jwtFor("auth0|b", "1"), ExpiresIn: 60}, nil
	})
	if _, err := other.Token(ctx); err == nil || !strings.Contains(err.Error(), "auth0|b") {
		t.Errorf("a renewal for another user went unnoticed: %v", err)
	}
	stuck := NewSession("h", Tokens{AccessToken: "x", ExpiresIn: 1, TokenType: "DPoP"}, nil)
	if _, err := stuck.Token(ctx); !errors.Is(err, ErrCannotRenew) {
		t.Errorf("no renewal: %v", err)
	}
	if stuck.Scheme() != "DPoP" || s.Scheme() != "Bearer" {
		t.Errorf("schemes %s %s", stuck.Scheme(), s.Scheme())
	}
}
