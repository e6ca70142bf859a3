package harness_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/myaccount"
)

// dpopReference starts a reference tenant with DPoP options and a framework for it
// whose target config says mode (and dpop_nonce when the tenant demands nonces).
func dpopReference(t *testing.T, opts reftenant.Options, mode string) (*reftenant.Tenant, *harness.Framework) {
	t.Helper()
	opts.RateLimit, opts.Burst = 1000, 1000
	tn, err := reftenant.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tn.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, tn.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := tn.Clients()
	yaml := fmt.Sprintf("domain: %s\ncustom_domain: %s\nca_file: %s\nresolve: {%q: %q, %q: %q}\n"+
		"clients:\n  native: {client_id: %s, client_secret: %s}\n  spa: {client_id: %s, redirect_uri: '%s'}\n"+
		"dpop: %s\ndpop_nonce: %v\nrate_limit: {plan: early-access, requests_per_second: 1000, burst: 1000}\n",
		tn.Domain(), tn.CustomDomain(), ca, tn.Domain()+":443", tn.Addr(), tn.CustomDomain()+":443", tn.Addr(),
		cs[0].ID, cs[0].Secret, cs[1].ID, cs[1].RedirectURIs[0], mode, opts.DPoPNonce)
	tg, err := config.ParseTarget([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	f, err := harness.NewFramework(tg, harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tn, f
}

// signup signs a user up with a passkey on the custom domain, with a proof of key
// (nil: the client's default), and returns the token response.
func signup(t *testing.T, f *harness.Framework, key *dpop.Key) *harness.Response {
	t.Helper()
	ctx, host := context.Background(), f.Target.CustomDomain
	resp, err := f.PasskeyRegister(ctx, host, harness.NewEmail())
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("/passkey/register: %v %v", err, resp)
	}
	var c struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
	}
	if err := resp.JSON(&c); err != nil {
		t.Fatal(err)
	}
	att, _, err := authenticator.New().Register(c.Options, f.Target.WebAuthn.Origin, authenticator.ES256)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = f.TokenByWebAuthnProof(ctx, key, host, c.AuthSession, att, config.MeAudience(host),
		"openid", "offline_access", harness.ScopeReadFactors, harness.ScopeReadMethods)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func tokensOf(t *testing.T, resp *harness.Response) harness.Tokens {
	t.Helper()
	var tk harness.Tokens
	if resp.Status != http.StatusOK || resp.JSON(&tk) != nil {
		t.Fatalf("token response %d %s", resp.Status, resp.Body)
	}
	return tk
}

// challengeError is the error of the response's DPoP challenge ("" without one).
func challengeError(r *harness.Response) string {
	c, ok := dpop.Find(r.Header, "DPoP")
	if !ok {
		return "(no DPoP challenge)"
	}
	return c.Params["error"]
}

func TestDPoPClientBindsProvesAndRetriesNonces(t *testing.T) {
	t.Parallel()
	_, f := dpopReference(t, reftenant.Options{DPoPNonce: true}, config.DPoPAllowed)
	ctx, host := context.Background(), f.Target.CustomDomain
	key := dpop.MustKey(dpop.ES256)

	// The token endpoint demands a nonce: the client retries once with it.
	f.Recorder.Reset()
	tk := tokensOf(t, signup(t, f, key))
	ex := f.Recorder.Exchanges()
	if n := len(ex); n < 2 || ex[n-2].Status != http.StatusBadRequest || ex[n-1].Status != http.StatusOK {
		t.Fatalf("no nonce retry: %d exchanges", n)
	}
	if ex[n(ex)-2].DPoP.Claims["nonce"] != nil || ex[n(ex)-1].DPoP.Claims["nonce"] == nil {
		t.Errorf("the retry does not carry the nonce:\n%s\n%s", ex[n(ex)-2].DPoP, ex[n(ex)-1].DPoP)
	}
	if tk.TokenType != "DPoP" || f.Client.BoundKey(tk.AccessToken) != key || f.Client.BoundKey(tk.RefreshToken) != key {
		t.Fatalf("token_type %s; the client did not note the binding", tk.TokenType)
	}

	// A bound token goes with the DPoP scheme and a proof (the API's nonce retried too).
	resp, err := f.Me(ctx, http.MethodGet, host, "/factors", tk.AccessToken, nil)
	if err != nil || resp.Status != http.StatusOK || resp.ProofKey != key {
		t.Fatalf("GET /factors with the bound token: %v %d %s", err, resp.Status, resp.Body)
	}
	// So does a session bound to the key.
	s := harness.NewSession(host, tk, nil).Bind(key)
	if resp, err := myaccount.New(f.Client, host, s).Factors(ctx); err != nil || resp.Status != http.StatusOK {
		t.Fatalf("session: %v %v", err, resp)
	}

	me := config.MeURL(host, "/factors")
	other := dpop.MustKey(dpop.RS256)
	for _, c := range []struct {
		name string
		r    *harness.Request
		want string
	}{
		{"as Bearer", &harness.Request{Bearer: tk.AccessToken, Scheme: "Bearer"}, "invalid_token"},
		{"without a proof", &harness.Request{Bearer: tk.AccessToken, NoProof: true}, "invalid_dpop_proof"},
		{"another key's proof", &harness.Request{Bearer: tk.AccessToken, DPoP: other}, "invalid_token"},
		{"replayed", &harness.Request{Bearer: tk.AccessToken, RawProof: resp.Proof}, "invalid_dpop_proof"},
		{"a wrong ath", &harness.Request{Session: s, Proof: []dpop.Option{dpop.WithClaim("ath", dpop.ATH("x"))}}, "invalid_dpop_proof"},
		{"no nonce", &harness.Request{Session: s, Proof: []dpop.Option{dpop.WithoutNonce()}}, "use_dpop_nonce"},
	} {
		c.r.Method, c.r.URL = http.MethodGet, me
		f.Recorder.Reset()
		resp, err := f.Client.Do(ctx, c.r)
		if err != nil || resp.Status != http.StatusUnauthorized || challengeError(resp) != c.want {
			t.Errorf("%s: %v %v %q, want 401 %s", c.name, err, resp.Status, resp.Header.Get("WWW-Authenticate"), c.want)
		}
		if n := len(f.Recorder.Exchanges()); n != 1 {
			t.Errorf("%s: %d exchanges: a refusal other than a nonce demand was retried", c.name, n)
		}
		auth := f.Recorder.Exchanges()[0].ReqHeader.Get("Authorization")
		if wantScheme := map[bool]string{true: "Bearer ", false: "DPoP "}[c.r.Scheme == "Bearer"]; !strings.HasPrefix(auth, wantScheme) {
			t.Errorf("%s: Authorization %q", c.name, auth)
		}
	}
}

func n(ex []evidence.Exchange) int { return len(ex) }

func TestDPoPEvidenceShowsTheProofNeverAKey(t *testing.T) {
	t.Parallel()
	_, f := dpopReference(t, reftenant.Options{}, config.DPoPAllowed)
	key := dpop.MustKey(dpop.ES256)
	f.Recorder.Reset()
	tk := tokensOf(t, signup(t, f, key))
	resp, err := f.Client.Do(context.Background(), &harness.Request{Method: http.MethodGet, URL: config.MeURL(f.Target.CustomDomain, "/factors"),
		Bearer: tk.AccessToken, Proof: []dpop.Option{dpop.PrivateJWK()}})
	if err != nil || resp.Status != http.StatusUnauthorized {
		t.Fatalf("a proof with a private key: %v %v", err, resp)
	}
	ex := f.Recorder.Exchanges()
	last := ex[len(ex)-1]
	text := evidence.FormatExchange(last)
	curl := evidence.CurlLine(last, nil, "")
	for _, want := range []string{`"typ":"dpop+jwt"`, `"htm":"GET"`, `"ath":"` + dpop.ATH(tk.AccessToken) + `"`, dpop.PrivateRemoved, "Dpop: $DPOP_PROOF", "single-use"} {
		if !strings.Contains(text, want) {
			t.Errorf("the exchange lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, resp.Proof) || strings.Contains(curl, resp.Proof) {
		t.Errorf("the proof itself (holding a private key) is shown:\n%s\n%s", text, curl)
	}
	for _, want := range []string{`-H "Dpop: $DPOP_PROOF"`, "single-use", "GET " + config.MeURL(f.Target.CustomDomain, "/factors"), "ath of $ACCESS_TOKEN"} {
		if !strings.Contains(curl, want) {
			t.Errorf("the curl line lacks %s: %s", want, curl)
		}
	}
	// Every exchange with a proof shows it decoded; none holds the token.
	for _, e := range ex {
		if (e.ReqHeader.Get("Dpop") != "") != (e.DPoP != nil) {
			t.Errorf("%s %s: proof %q decoded %v", e.Method, e.URL, e.ReqHeader.Get("Dpop"), e.DPoP)
		}
		if strings.Contains(evidence.FormatExchange(e), tk.AccessToken) {
			t.Errorf("the access token is in the evidence of %s", e.URL)
		}
	}
}

func TestDPoPRequiredTargetGetsBoundTokensByDefault(t *testing.T) {
	t.Parallel()
	_, f := dpopReference(t, reftenant.Options{DPoP: reftenant.DPoPRequired}, config.DPoPRequired)
	ctx, host := context.Background(), f.Target.CustomDomain
	tk := tokensOf(t, signup(t, f, nil))
	native := f.Client.ClientKey(f.Target.Clients.Native.ClientID)
	if tk.TokenType != "DPoP" || f.Client.BoundKey(tk.AccessToken) != native {
		t.Fatalf("token_type %s: no proof of the native client's key by default", tk.TokenType)
	}
	if resp, err := f.Me(ctx, http.MethodGet, host, "/authentication-methods", tk.AccessToken, nil); err != nil || resp.Status != http.StatusOK {
		t.Fatalf("GET /authentication-methods: %v %v", err, resp)
	}
	// A refresh proves the refresh token's key without being told.
	resp, err := f.Client.Do(ctx, &harness.Request{Method: http.MethodPost, URL: f.Target.BaseURL(host) + "/oauth/token", Form: url.Values{
		"grant_type": {"refresh_token"}, "client_id": {f.Target.Clients.Native.ClientID},
		"client_secret": {f.Target.Clients.Native.ClientSecret}, "refresh_token": {tk.RefreshToken}}})
	if err != nil || resp.ProofKey != native {
		t.Fatalf("refresh: %v, proof key %v", err, resp.ProofKey)
	}
	if r := tokensOf(t, resp); r.TokenType != "DPoP" {
		t.Errorf("refreshed token_type %s", r.TokenType)
	}
	// The allowed default stays Bearer for a client not required to use DPoP.
	_, g := dpopReference(t, reftenant.Options{}, config.DPoPAllowed)
	if tk := tokensOf(t, signup(t, g, nil)); tk.TokenType != "Bearer" {
		t.Errorf("allowed: token_type %s without a key", tk.TokenType)
	}
}
