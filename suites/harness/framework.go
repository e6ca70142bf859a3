package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
)

// Framework is what every spec shares: the target, the one client and its evidence.
type Framework struct {
	Target   *config.Target
	Client   *Client
	Recorder *evidence.Recorder
	Redactor *evidence.Redactor
	// ReportDir is where specs may write files for the report (pictures, data).
	ReportDir string
	// Users are the users the run signed up, and Leftovers what it created and could
	// not remove; the report lists both.
	Users     *Ledger
	Leftovers *Ledger
}

// Ledger is a list of lines several specs append to.
type Ledger struct {
	mu    sync.Mutex
	lines []string
}

// Add appends a line.
func (l *Ledger) Add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// Lines returns the lines so far.
func (l *Ledger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// Options changes how the framework records and validates.
type Options struct {
	// ExtraSpecs are further OpenAPI documents every response is validated against.
	ExtraSpecs []spec.ExtraDoc
	// ShowSecrets turns redaction off (--show-secrets).
	ShowSecrets bool
	// ReportDir is where specs may write files for the report.
	ReportDir string
}

// NewFramework builds the client and validator for a target.
func NewFramework(t *config.Target, opts Options) (*Framework, error) {
	v, err := spec.NewValidator(t.Domains(), opts.ExtraSpecs...)
	if err != nil {
		return nil, err
	}
	red := evidence.NewRedactor()
	red.Off = opts.ShowSecrets
	rec := &evidence.Recorder{}
	c, err := NewClient(t, v, red, rec)
	if err != nil {
		return nil, err
	}
	return &Framework{Target: t, Client: c, Recorder: rec, Redactor: red, ReportDir: opts.ReportDir, Users: &Ledger{}, Leftovers: &Ledger{}}, nil
}

// Tokens is a token endpoint response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
}

// WebAuthnGrant is the grant type of native passkey login and signup.
const WebAuthnGrant = "urn:okta:params:oauth:grant-type:webauthn"

// PasskeyRegister starts a native passkey signup for a new user.
func (f *Framework) PasskeyRegister(ctx context.Context, host, email string) (*Response, error) {
	body := map[string]any{
		"client_id":    f.Target.Clients.Native.ClientID,
		"realm":        f.Target.Connection,
		"user_profile": map[string]any{"email": email, "name": "Conformance Test User"},
	}
	if s := f.Target.Clients.Native.ClientSecret; s != "" {
		body["client_secret"] = s
	}
	return f.Client.Do(ctx, &Request{Method: http.MethodPost, URL: f.Target.BaseURL(host) + "/passkey/register", JSON: body})
}

// PasskeyChallenge starts a native passkey login.
func (f *Framework) PasskeyChallenge(ctx context.Context, host string) (*Response, error) {
	body := map[string]any{"client_id": f.Target.Clients.Native.ClientID, "realm": f.Target.Connection}
	if s := f.Target.Clients.Native.ClientSecret; s != "" {
		body["client_secret"] = s
	}
	return f.Client.Do(ctx, &Request{Method: http.MethodPost, URL: f.Target.BaseURL(host) + "/passkey/challenge", JSON: body})
}

// TokenByWebAuthn exchanges an auth_session and authenticator response for tokens.
// audience may be empty (no audience requested). The request carries a DPoP proof of
// the native client's key when the target requires DPoP of that client.
func (f *Framework) TokenByWebAuthn(ctx context.Context, host, authSession string, authnResponse []byte, audience string, scopes ...string) (*Response, error) {
	return f.TokenByWebAuthnProof(ctx, nil, host, authSession, authnResponse, audience, scopes...)
}

// TokenByWebAuthnProof is TokenByWebAuthn with a DPoP proof of key (RFC 9449 §5), so
// that the tokens are bound to it; a nil key is TokenByWebAuthn's default.
func (f *Framework) TokenByWebAuthnProof(ctx context.Context, key *dpop.Key, host, authSession string, authnResponse []byte, audience string, scopes ...string) (*Response, error) {
	r := f.WebAuthnTokenRequest(host, authSession, authnResponse, audience, scopes...)
	r.DPoP = key
	return f.Client.Do(ctx, r)
}

// WebAuthnTokenRequest is the webauthn grant's token request, for callers that set
// more of it (a DPoP proof's options).
func (f *Framework) WebAuthnTokenRequest(host, authSession string, authnResponse []byte, audience string, scopes ...string) *Request {
	body := map[string]any{
		"grant_type":     WebAuthnGrant,
		"client_id":      f.Target.Clients.Native.ClientID,
		"realm":          f.Target.Connection,
		"auth_session":   authSession,
		"authn_response": json.RawMessage(authnResponse),
	}
	if s := f.Target.Clients.Native.ClientSecret; s != "" {
		body["client_secret"] = s
	}
	if audience != "" {
		body["audience"] = audience
	}
	if len(scopes) > 0 {
		body["scope"] = strings.Join(scopes, " ")
	}
	return &Request{Method: http.MethodPost, URL: f.Target.BaseURL(host) + "/oauth/token", JSON: body}
}

// PasskeyLogin logs a user in with a passkey (/passkey/challenge, the
// authenticator's assertion, the webauthn grant) and returns the tokens; every
// failure is an error, so a Session can renew with it.
func (f *Framework) PasskeyLogin(ctx context.Context, host string, a *authenticator.Authenticator, pk *authenticator.Passkey, audience string, scopes ...string) (Tokens, error) {
	return f.PasskeyLoginProof(ctx, nil, host, a, pk, audience, scopes...)
}

// PasskeyLoginProof is PasskeyLogin with a DPoP proof of key at the token endpoint
// (nil: PasskeyLogin's default).
func (f *Framework) PasskeyLoginProof(ctx context.Context, key *dpop.Key, host string, a *authenticator.Authenticator, pk *authenticator.Passkey, audience string, scopes ...string) (Tokens, error) {
	resp, err := f.PasskeyChallenge(ctx, host)
	if err != nil {
		return Tokens{}, err
	}
	if resp.Status != http.StatusOK {
		return Tokens{}, fmt.Errorf("POST /passkey/challenge answered %d: %.300s", resp.Status, resp.Body)
	}
	var c struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
	}
	if err := resp.JSON(&c); err != nil {
		return Tokens{}, err
	}
	assertion, err := a.Login(c.Options, f.Target.OriginFor(host), pk)
	if err != nil {
		return Tokens{}, fmt.Errorf("the virtual authenticator could not answer the request options: %w", err)
	}
	resp, err = f.TokenByWebAuthnProof(ctx, key, host, c.AuthSession, assertion, audience, scopes...)
	if err != nil {
		return Tokens{}, err
	}
	var t Tokens
	if resp.Status != http.StatusOK {
		return Tokens{}, fmt.Errorf("POST /oauth/token (webauthn grant) answered %d: %.300s", resp.Status, resp.Body)
	}
	if err := resp.JSON(&t); err != nil {
		return Tokens{}, err
	}
	return t, nil
}

// Me sends a My Account API request: path is relative to /me/v1. A token the client
// obtained DPoP-bound goes with the DPoP scheme and a proof.
func (f *Framework) Me(ctx context.Context, method, host, path, token string, body any) (*Response, error) {
	r := &Request{Method: method, URL: config.MeURL(host, path), Bearer: token}
	if body != nil {
		r.JSON = body
	}
	return f.Client.Do(ctx, r)
}

// NewEmail returns a unique address for a user the suite signs up. example.com never
// receives mail.
func NewEmail() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "conformance+" + hex.EncodeToString(b) + "@example.com"
}

// All My Account scopes the suite asks for.
var (
	ScopeCreateMethods = "create:me:authentication_methods"
	ScopeReadMethods   = "read:me:authentication_methods"
	ScopeUpdateMethods = "update:me:authentication_methods"
	ScopeDeleteMethods = "delete:me:authentication_methods"
	ScopeReadFactors   = "read:me:factors"
	MethodScopes       = []string{ScopeCreateMethods, ScopeReadMethods, ScopeUpdateMethods, ScopeDeleteMethods, ScopeReadFactors}
)
