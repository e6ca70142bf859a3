package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/authenticator"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// doctor checks that a tenant is set up the way the suite needs, before a hundred
// specs fail for one setting: discovery on each domain, a native passkey signup and
// login on the custom domain, a Universal Login per configured client, the tokens'
// audience and scopes, and the rate-limit plan against the x-ratelimit-* headers.
// Each check says ok, or what it saw and the tenant setting most likely behind it.
// `run` does the quick part (signup, login, one Universal Login) first.

// check is one of the doctor's findings.
type check struct {
	Name string
	// OK: the check passed; Skip (a reason) when it could not run.
	OK   bool
	Skip string
	// What was seen (a failure, or a note on success).
	Detail string
	// Setting is the tenant setting most likely to change; "" when the failure
	// matches none the doctor knows (a defect for the specs to judge).
	Setting string
}

func (c check) line() string {
	switch {
	case c.Skip != "":
		return fmt.Sprintf("skip  %s: %s", c.Name, c.Skip)
	case c.OK && c.Detail != "":
		return fmt.Sprintf("ok    %s: %s", c.Name, c.Detail)
	case c.OK:
		return "ok    " + c.Name
	}
	s := fmt.Sprintf("FAIL  %s: %s", c.Name, c.Detail)
	if c.Setting != "" {
		s += "\n      setting: " + c.Setting
	} else {
		s += "\n      (no tenant setting the doctor knows explains this)"
	}
	return s
}

// doctor runs the checks against one target.
type doctor struct {
	fw    *harness.Framework
	t     *config.Target
	quick bool // run's preflight: signup, login and one Universal Login
	out   []check
}

func (d *doctor) add(c check) { d.out = append(d.out, c) }

// neededScopes are the My Account scopes the suite asks for: read:me:factors only
// when GET /factors is the capability list (the config gives no methods:).
func neededScopes(t *config.Target) []string {
	s := slices.Clone(harness.MethodScopes)
	if t.Methods != nil {
		s = slices.DeleteFunc(s, func(x string) bool { return x == harness.ScopeReadFactors })
	}
	if t.ConnectedAccounts.Connection != "" {
		s = append(s, "create:me:connected_accounts", "read:me:connected_accounts", "delete:me:connected_accounts")
	}
	return s
}

// diagnose runs every check (quick: the preflight's) and returns them in order.
func diagnose(ctx context.Context, fw *harness.Framework, quick bool) []check {
	d := &doctor{fw: fw, t: fw.Target, quick: quick}
	t := d.t
	fw.Redactor.Add(t.User.Password, "PASSWORD")
	fw.Redactor.Add(t.Clients.Web.ClientSecret, "CLIENT_SECRET")
	if !quick {
		for _, host := range t.Domains() {
			d.discovery(ctx, host)
		}
	}
	var meResp *harness.Response
	if t.CustomDomain == "" {
		d.add(check{Name: "native passkey signup and login", Skip: "no custom_domain in the config: native passkeys work only on a custom domain"})
	} else if t.DPoPFor("native") == config.DPoPRequired {
		d.add(check{Name: "native passkey signup and login", Skip: "the native client must use DPoP, which the doctor does not send"})
	} else {
		meResp = d.passkeys(ctx)
	}
	d.universalLogins(ctx)
	if !quick {
		d.rateLimits(meResp)
		d.cors(ctx) // doctor_cors.go
	}
	return d.out
}

// oauthError is an Authentication API error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func oauthErrorOf(resp *harness.Response) oauthError {
	var e oauthError
	_ = json.Unmarshal(resp.Body, &e)
	return e
}

// answered describes a response for a finding.
func (d *doctor) answered(what string, resp *harness.Response) string {
	e := oauthErrorOf(resp)
	if e.Error != "" {
		return fmt.Sprintf("%s answered %d %s %q", what, resp.Status, e.Error, e.Description)
	}
	return fmt.Sprintf("%s answered %d: %.200s", what, resp.Status, d.fw.Redactor.Text(string(resp.Body)))
}

// Settings the checks name (Auth0 dashboard paths).
func settingPasskeyGrant(t *config.Target) string {
	return fmt.Sprintf("the native application (clients.native %s) lacks the Passkey grant: Applications > it > Advanced Settings > Grant Types > Passkey", t.Clients.Native.ClientID)
}

func settingClientGrant(client string) string {
	return fmt.Sprintf("the %s application has no client grant for the My Account API: APIs > My Account API > Application Access > authorize it for user access, with the scopes %s", client, strings.Join(harness.MethodScopes, ", "))
}

const settingMyAccountActive = "the My Account API is not active on this tenant: Applications > APIs > the My Account API banner > Activate"

const settingMFA = "a second factor is required at login: Security > Multi-factor Auth (tenant MFA, or an Action that demands MFA), or the My Account API's default policy \"Require 2FA\" (APIs > My Account API > Policies): turn them off for the test tenant, or give the suite's users no MFA requirement"

func settingWebOrigin(t *config.Target) string {
	return fmt.Sprintf("the native application's Allowed Web Origins lack %s (the WebAuthn origin, webauthn.origin): Applications > it > Settings > Allowed Web Origins", t.WebAuthn.Origin)
}

func settingPasskeysOff(t *config.Target) string {
	return fmt.Sprintf("passkeys are off on the connection: Authentication > Database > %s > Authentication Methods > Passkey (enable it, with signup allowed, and the connection for the native application)", t.Connection)
}

const settingPasskeyAPIs = "the native passkey APIs (/passkey/register, /passkey/challenge) are not enabled for this tenant (they answer 404): Authentication > Database > the connection > Authentication Methods > Passkey, and the tenant's native passkey feature (Early Access at Auth0: ask for it)"

func settingSignupVerification(t *config.Target) string {
	return fmt.Sprintf("native passkey signup is not offered on a connection that requires email or SMS verification: Authentication > Database > %s (turn off required verification at signup for the test tenant's connection)", t.Connection)
}

func settingAuthMethod(client, clientID string) string {
	return fmt.Sprintf("the %s application (%s) refused its client_secret in the request body: Applications > it > Credentials > Authentication Method must be Client Secret (Post); or the configured client_secret is wrong", client, clientID)
}

const settingBotDetection = "bot detection shows a CAPTCHA on the login page: Security > Attack Protection > Bot Detection (set it to Never for the test tenant, or allow the runner's IP address)"

func settingScopes(client string, missing []string) string {
	return fmt.Sprintf("the %s application's client grant for the My Account API lacks %s: APIs > My Account API > Application Access > it > Permissions (also check the user's permissions if RBAC is on)", client, strings.Join(missing, ", "))
}

// grantSetting is the setting behind a refusal at the token endpoint or
// /passkey/*, for client (config key) — "" when none fits.
func (d *doctor) grantSetting(client, clientID string, resp *harness.Response) string {
	e := oauthErrorOf(resp)
	desc := strings.ToLower(e.Description)
	switch {
	case e.Error == "mfa_required" || e.Error == "unmet_authentication_requirements":
		return settingMFA
	case resp.Status == http.StatusNotFound && strings.HasPrefix(resp.Exchange.URL, "https://"+d.t.CustomDomain+"/passkey/"):
		return settingPasskeyAPIs
	case e.Error == "unauthorized_client" && client == "native":
		return settingPasskeyGrant(d.t)
	case e.Error == "unauthorized_client":
		return fmt.Sprintf("the %s application may not use this grant: Applications > it > Advanced Settings > Grant Types > Authorization Code and Refresh Token", client)
	case strings.Contains(desc, "client-grant") || strings.Contains(desc, "not authorized to access"):
		return settingClientGrant(client)
	case strings.Contains(desc, "service not found"):
		return settingMyAccountActive
	case strings.Contains(desc, "passkey") && strings.Contains(desc, "not enabled"):
		return settingPasskeysOff(d.t)
	case e.Error == "invalid_request" && strings.Contains(desc, "origin"):
		return settingWebOrigin(d.t)
	case resp.Status == http.StatusUnauthorized && (e.Error == "invalid_client" || e.Error == "access_denied"):
		return settingAuthMethod(client, clientID)
	}
	return ""
}

func (d *doctor) discovery(ctx context.Context, host string) {
	name := "discovery on " + host
	resp, err := d.fw.Client.Do(ctx, &harness.Request{Method: http.MethodGet, URL: d.t.BaseURL(host) + "/.well-known/openid-configuration"})
	switch {
	case err != nil:
		d.add(check{Name: name, Detail: err.Error(), Setting: "the domain does not answer: check domain / custom_domain (and that the custom domain is verified and ready)"})
	case resp.Status != http.StatusOK:
		d.add(check{Name: name, Detail: d.answered("GET /.well-known/openid-configuration", resp)})
	default:
		var doc struct {
			Issuer string `json:"issuer"`
		}
		_ = json.Unmarshal(resp.Body, &doc)
		if want := "https://" + host + "/"; doc.Issuer != want {
			d.add(check{Name: name, Detail: fmt.Sprintf("issuer %q, want %q", doc.Issuer, want)})
			return
		}
		d.add(check{Name: name, OK: true})
	}
}

// passkeys signs a user up and logs it in on the custom domain; it returns a My
// Account response to the signup's token (for the rate-limit check), if any.
func (d *doctor) passkeys(ctx context.Context) *harness.Response {
	host := d.t.CustomDomain
	native := d.t.Clients.Native.ClientID
	name := "native passkey signup on " + host
	email := harness.NewEmail()
	resp, err := d.fw.PasskeyRegister(ctx, host, email)
	if err != nil {
		d.add(check{Name: name, Detail: err.Error()})
		return nil
	}
	if resp.Status != http.StatusOK {
		setting := d.grantSetting("native", native, resp)
		if desc := strings.ToLower(oauthErrorOf(resp).Description); setting == "" && strings.Contains(desc, "verif") {
			setting = settingSignupVerification(d.t)
		}
		d.add(check{Name: name, Detail: d.answered("POST /passkey/register", resp), Setting: setting})
		return nil
	}
	var c struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
	}
	if err := json.Unmarshal(resp.Body, &c); err != nil || c.AuthSession == "" {
		d.add(check{Name: name, Detail: d.answered("POST /passkey/register", resp)})
		return nil
	}
	authn := authenticator.New()
	att, pk, err := authn.Register(c.Options, d.t.WebAuthn.Origin, authenticator.ES256)
	if err != nil {
		d.add(check{Name: name, Detail: "the virtual authenticator could not answer the creation options: " + err.Error()})
		return nil
	}
	scopes := append([]string{"openid", "offline_access"}, neededScopes(d.t)...)
	resp, err = d.fw.TokenByWebAuthn(ctx, host, c.AuthSession, att, config.MeAudience(host), scopes...)
	if err != nil {
		d.add(check{Name: name, Detail: err.Error()})
		return nil
	}
	if resp.Status != http.StatusOK {
		d.add(check{Name: name, Detail: d.answered("the webauthn grant (signup)", resp), Setting: d.grantSetting("native", native, resp)})
		return nil
	}
	var tok harness.Tokens
	_ = json.Unmarshal(resp.Body, &tok)
	sub, _ := jwtClaims(tok.AccessToken)["sub"].(string)
	d.fw.Users.Add(sub + " " + email)
	d.add(check{Name: name, OK: true})
	d.tokenCheck("native", host, tok)

	var me *harness.Response
	if !d.quick {
		me, err = d.fw.Me(ctx, http.MethodGet, host, "/authentication-methods", tok.AccessToken, nil)
		switch {
		case err != nil:
			d.add(check{Name: "My Account API on " + host, Detail: err.Error()})
		case me.Status != http.StatusOK:
			d.add(check{Name: "My Account API on " + host, Detail: d.answered("GET /me/v1/authentication-methods with the signup's token", me)})
		default:
			d.add(check{Name: "My Account API on " + host, OK: true})
			d.capabilities(ctx, host, tok.AccessToken)
		}
	}

	d.passkeyLogin(ctx, host, authn, pk, scopes)
	return me
}

// settingFactors: GET /factors is Early Access at Auth0.
const settingFactors = "GET /me/v1/factors (Early Access at Auth0) is not served on this tenant: list the method types the tenant enables in the target config's methods: (e.g. methods: [passkey, totp]), or have the feature enabled"

// capabilities says where the method specs take the enabled method types from: the
// config's methods:, or GET /factors; a tenant that serves no GET /factors needs
// the former.
func (d *doctor) capabilities(ctx context.Context, host, token string) {
	const name = "the method types the suite tests"
	resp, err := d.fw.Me(ctx, http.MethodGet, host, "/factors", token, nil)
	configured := d.t.Methods != nil
	switch {
	case err != nil:
		d.add(check{Name: name, Detail: err.Error()})
	case resp.Status == http.StatusNotFound && configured:
		d.add(check{Name: name, OK: true, Detail: fmt.Sprintf("from the config's methods: %v (GET /factors answered 404: not served)", d.t.Methods)})
	case resp.Status == http.StatusNotFound:
		d.add(check{Name: name, Detail: "GET /me/v1/factors answered 404 and the config gives no methods:", Setting: settingFactors})
	case configured:
		d.add(check{Name: name, OK: true, Detail: fmt.Sprintf("from the config's methods: %v (GET /factors answered %d; the config's list wins)", d.t.Methods, resp.Status)})
	case resp.Status == http.StatusForbidden:
		d.add(check{Name: name, Detail: d.answered("GET /me/v1/factors", resp),
			Setting: settingScopes("native", []string{harness.ScopeReadFactors}) + "; or list the method types in the config's methods:"})
	case resp.Status != http.StatusOK:
		d.add(check{Name: name, Detail: d.answered("GET /me/v1/factors", resp)})
	default:
		var f struct {
			Factors []struct {
				Type string `json:"type"`
			} `json:"factors"`
		}
		_ = json.Unmarshal(resp.Body, &f)
		var types []string
		for _, x := range f.Factors {
			types = append(types, x.Type)
		}
		d.add(check{Name: name, OK: true, Detail: fmt.Sprintf("from GET /factors: %v", types)})
	}
}

// passkeyLogin logs the signed-up user in with its passkey.
func (d *doctor) passkeyLogin(ctx context.Context, host string, authn *authenticator.Authenticator, pk *authenticator.Passkey, scopes []string) {
	name := "native passkey login on " + host
	native := d.t.Clients.Native.ClientID
	resp, err := d.fw.PasskeyChallenge(ctx, host)
	if err != nil {
		d.add(check{Name: name, Detail: err.Error()})
		return
	}
	var c struct {
		AuthSession string          `json:"auth_session"`
		Options     json.RawMessage `json:"authn_params_public_key"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &c) != nil || c.AuthSession == "" {
		d.add(check{Name: name, Detail: d.answered("POST /passkey/challenge", resp), Setting: d.grantSetting("native", native, resp)})
		return
	}
	assertion, err := authn.Login(c.Options, d.t.WebAuthn.Origin, pk)
	if err != nil {
		d.add(check{Name: name, Detail: "the virtual authenticator could not answer the request options: " + err.Error()})
		return
	}
	resp, err = d.fw.TokenByWebAuthn(ctx, host, c.AuthSession, assertion, config.MeAudience(host), scopes...)
	switch {
	case err != nil:
		d.add(check{Name: name, Detail: err.Error()})
	case resp.Status != http.StatusOK:
		d.add(check{Name: name, Detail: d.answered("the webauthn grant (login)", resp), Setting: d.grantSetting("native", native, resp)})
	default:
		d.add(check{Name: name, OK: true})
	}
}

// tokenCheck checks a token is for host's My Account API with every scope the suite
// needs.
func (d *doctor) tokenCheck(client, host string, tok harness.Tokens) {
	name := fmt.Sprintf("the %s client's My Account token", client)
	claims := jwtClaims(tok.AccessToken)
	var auds []string
	switch a := claims["aud"].(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	if want := config.MeAudience(host); !slices.Contains(auds, want) {
		d.add(check{Name: name, Detail: fmt.Sprintf("aud %v lacks %s", auds, want), Setting: settingMyAccountActive})
		return
	}
	granted := strings.Fields(tok.Scope)
	if s, ok := claims["scope"].(string); ok && tok.Scope == "" {
		granted = strings.Fields(s)
	}
	var missing []string
	for _, s := range neededScopes(d.t) {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		d.add(check{Name: name, Detail: fmt.Sprintf("granted %q, lacking %s", strings.Join(granted, " "), strings.Join(missing, ", ")), Setting: settingScopes(client, missing)})
		return
	}
	d.add(check{Name: name, OK: true, Detail: "audience " + config.MeAudience(host) + ", every My Account scope the suite needs"})
}

// universalLogins logs the password user in through the configured driver, once per
// configured client (the preflight: the first only).
func (d *doctor) universalLogins(ctx context.Context) {
	t := d.t
	clients := t.LoginClients()
	switch {
	case len(clients) == 0:
		d.add(check{Name: "Universal Login", Skip: "no clients.spa or clients.web in the config"})
		return
	case t.User.Username == "":
		d.add(check{Name: "Universal Login", Skip: "no user (username and password) in the config"})
		return
	}
	if d.quick {
		clients = clients[:1]
	}
	drv, err := login.New(ctx, d.fw)
	if err != nil {
		c := check{Name: "Universal Login through the " + t.Login.Driver + " driver", Detail: err.Error()}
		if errors.Is(err, login.ErrNoChromium) {
			c.Detail, c.Skip = "", err.Error()+": the browser specs skip too"
		}
		d.add(c)
		return
	}
	defer drv.Close()
	host := t.Domain
	if t.CustomDomain != "" {
		host = t.CustomDomain
	}
	for _, c := range clients {
		d.universalLogin(ctx, drv, host, c)
	}
}

func (d *doctor) universalLogin(ctx context.Context, drv login.Driver, host string, c config.NamedClient) {
	name := fmt.Sprintf("Universal Login (%s) on %s", c.Name, host)
	if d.t.DPoPFor(c.Name) == config.DPoPRequired {
		d.add(check{Name: name, Skip: "the client must use DPoP, which the doctor does not send"})
		return
	}
	a := login.NewRequest(host, c, append([]string{"openid", "offline_access"}, neededScopes(d.t)...)...)
	if !c.Public {
		a.Verifier = ""
	}
	var trace login.Trace
	u, err := drv.Login(login.WithTrace(ctx, &trace), a.URL(), c.RedirectURI, login.As{Username: d.t.User.Username, Password: d.t.User.Password})
	if err != nil {
		d.add(check{Name: name, Detail: d.fw.Redactor.Text(err.Error()), Setting: loginSetting(d.t, err)})
		return
	}
	cb, err := login.ParseCallback(u)
	switch {
	case err != nil:
		d.add(check{Name: name, Detail: err.Error()})
		return
	case cb.Error != "":
		resp := &harness.Response{Status: http.StatusForbidden, Body: mustJSON(oauthError{Error: cb.Error, Description: cb.ErrorDesc})}
		d.add(check{Name: name, Detail: fmt.Sprintf("the login came back with error=%s: %s", cb.Error, cb.ErrorDesc), Setting: d.grantSetting(c.Name, c.ClientID, resp)})
		return
	}
	d.fw.Redactor.Add(cb.Code, "CODE")
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {c.ClientID}, "code": {cb.Code}, "redirect_uri": {c.RedirectURI}}
	if a.Verifier != "" {
		form.Set("code_verifier", a.Verifier)
	}
	if c.ClientSecret != "" {
		form.Set("client_secret", c.ClientSecret)
	}
	resp, err := d.fw.Client.Do(ctx, &harness.Request{Method: http.MethodPost, URL: d.t.BaseURL(host) + "/oauth/token", Form: form})
	if err != nil {
		d.add(check{Name: name, Detail: err.Error()})
		return
	}
	if resp.Status != http.StatusOK {
		d.add(check{Name: name, Detail: d.answered("redeeming the code", resp), Setting: d.grantSetting(c.Name, c.ClientID, resp)})
		return
	}
	var notes []string
	for _, p := range trace.Prompts() {
		switch p {
		case login.PromptPasskeyEnrollment:
			notes = append(notes, "declined the passkey enrollment offer (progressive enrollment is on)")
		case login.PromptConsent:
			notes = append(notes, "accepted the consent page (the API does not skip consent for this application)")
		}
	}
	if len(notes) > 0 && d.t.Login.Driver == config.DriverCommand {
		notes = append(notes, "your login command must get through these pages too")
	}
	d.add(check{Name: name, OK: true, Detail: strings.Join(slices.Compact(notes), "; ")})
	var tok harness.Tokens
	_ = json.Unmarshal(resp.Body, &tok)
	d.tokenCheck(c.Name, host, tok)
}

// loginSetting maps a login that stopped at a page to the setting behind the page.
func loginSetting(t *config.Target, err error) string {
	var pe *login.PageError
	if !errors.As(err, &pe) {
		return ""
	}
	path := strings.ToLower(pe.Path())
	switch {
	case pe.Kind == login.PageCaptcha:
		return settingBotDetection
	case strings.Contains(path, "/u/mfa"):
		return settingMFA
	case pe.Kind == login.PageRefused && strings.Contains(strings.ToLower(pe.Says), "password"):
		return fmt.Sprintf("the password user was refused: check user.username and user.password (a user of the %s connection, enabled for the application)", t.Connection)
	case pe.Kind == login.PageUnknown:
		return "the login shows a page the drivers do not know (an Action's form, a custom prompt, MFA enrollment, a custom login page): turn it off for the test tenant, or use login.driver: command"
	}
	return ""
}

// rateLimits compares the x-ratelimit-limit of a My Account answer with the plan
// the config states: the header describes the tenant's or the user's bucket of the
// request's kind, whichever decided.
func (d *doctor) rateLimits(resp *harness.Response) {
	name := "rate limits"
	l := d.t.RateLimit.Limits()
	if resp == nil || resp.Status != http.StatusOK {
		d.add(check{Name: name, Skip: "no My Account answer to read x-ratelimit-* from"})
		return
	}
	raw := resp.Header.Get("X-RateLimit-Limit")
	got, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		d.add(check{Name: name, Detail: fmt.Sprintf("a 200 of the My Account API carries x-ratelimit-limit %q, not a number (the API documents it on every 2xx)", raw)})
		return
	}
	var figures []int
	for _, b := range []spec.Bucket{l.Tenant.Bucket(spec.Read), l.User.Bucket(spec.Read)} {
		if !b.Unlimited() {
			figures = append(figures, b.Burst)
		}
	}
	plan := fmt.Sprintf("rate_limit (%s) allows reads in buckets of %v", l, figures)
	switch {
	case slices.Contains(figures, got):
		d.add(check{Name: name, OK: true, Detail: fmt.Sprintf("x-ratelimit-limit %d on a read fits rate_limit (%s)", got, l)})
	case len(figures) == 0 || got > slices.Max(figures):
		d.add(check{Name: name, Detail: fmt.Sprintf("x-ratelimit-limit %d on a read is larger than %s", got, plan),
			Setting: "your plan may be higher than the config says: set rate_limit.plan (enterprise, essentials, professional, free, private-cloud-…), or its figures with rate_limit.tenant / rate_limit.user"})
	case got < slices.Min(figures):
		d.add(check{Name: name, Detail: fmt.Sprintf("x-ratelimit-limit %d on a read is smaller than %s", got, plan),
			Setting: "your plan may be lower than the config says: set rate_limit.plan, or the tenant's figures with rate_limit.tenant / rate_limit.user; otherwise ordinary specs draw 429s"})
	default:
		d.add(check{Name: name, Detail: fmt.Sprintf("x-ratelimit-limit %d on a read is none of %s", got, plan),
			Setting: "the tenant's limits differ from the plan: state them with rate_limit.tenant / rate_limit.user"})
	}
}

// jwtClaims reads a JWT's claims without verifying it (the target verifies).
func jwtClaims(jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return map[string]any{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return map[string]any{}
	}
	return c
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own types
	}
	return b
}

// printChecks prints the checks and says whether all are ok (skips count as ok).
func printChecks(w io.Writer, checks []check) bool {
	ok := true
	for _, c := range checks {
		fmt.Fprintln(w, c.line())
		ok = ok && (c.OK || c.Skip != "")
	}
	return ok
}

// cmdDoctor checks a tenant's set-up: exit 0 when every check is ok, 1 otherwise.
func cmdDoctor(args []string) (int, error) {
	fs := flag.NewFlagSet("myaccount-conformance doctor", flag.ContinueOnError)
	config := fs.String("config", "", "target config (YAML); without it the embedded reference tenant is started on loopback")
	var ref reference
	ref.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	if fs.NArg() > 0 {
		return exitUsage, usagef("doctor: unexpected argument %q", fs.Arg(0))
	}
	if *config != "" && ref.set() {
		return exitUsage, usagef("doctor: --fault, --misconfig, --plan, --refusals, --prompts and --dpop apply to the embedded reference tenant, not to --config")
	}
	cfg := *config
	if cfg == "" {
		dir, err := os.MkdirTemp("", "myaccount-doctor-")
		if err != nil {
			return exitUsage, err
		}
		defer os.RemoveAll(dir)
		t, path, err := startReference(dir, "127.0.0.1:0", ref)
		if err != nil {
			return exitUsage, err
		}
		defer t.Close()
		cfg = path
	}
	target, err := loadTarget(cfg)
	if err != nil {
		return exitUsage, err
	}
	fw, err := harness.NewFramework(target, harness.Options{})
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fmt.Printf("myaccount-conformance doctor: %s\n", target.Name)
	checks := diagnose(ctx, fw, false)
	ok := printChecks(os.Stdout, checks)
	cleanupUsers(ctx, fw, os.Stdout)
	if !ok {
		fmt.Println("some checks failed: change the settings named above, then run doctor again")
		return exitFailures, nil
	}
	fmt.Println("every check ok")
	return exitConformant, nil
}

// cleanupUsers deletes the users the doctor signed up, when the config has a
// Management API client, and says what became of them.
func cleanupUsers(ctx context.Context, fw *harness.Framework, w io.Writer) {
	var ids, emails []string
	for _, line := range fw.Users.Lines() {
		id, email, _ := strings.Cut(line, " ")
		ids, emails = append(ids, id), append(emails, email)
	}
	if len(ids) == 0 {
		return
	}
	if fw.Target.Management.ClientID == "" {
		fmt.Fprintf(w, "note  signed up %s (not deleted: no management client in the config)\n", strings.Join(emails, ", "))
		return
	}
	if errs := fw.DeleteUsers(ctx, ids); len(errs) > 0 {
		fmt.Fprintf(w, "note  could not delete %s: %v\n", strings.Join(emails, ", "), errors.Join(errs...))
	}
}

// preflight is run's quick doctor: when a check fails for a setting it knows, the
// run stops INCONCLUSIVE naming it instead of failing every spec that depends on
// it; a failure it cannot explain is left to the specs.
func preflight(ctx context.Context, fw *harness.Framework, w io.Writer) (stop bool) {
	checks := diagnose(ctx, fw, true)
	var settings, unexplained []check
	for _, c := range checks {
		switch {
		case c.OK || c.Skip != "":
		case c.Setting != "":
			settings = append(settings, c)
		default:
			unexplained = append(unexplained, c)
		}
	}
	for _, c := range unexplained {
		fmt.Fprintf(w, "preflight: %s: %s (the specs will judge this)\n", c.Name, c.Detail)
	}
	if len(settings) == 0 {
		return false
	}
	fmt.Fprintln(w, "INCONCLUSIVE: the tenant is not set up as the suite needs (preflight; 'myaccount-conformance doctor' checks more, --no-preflight skips this):")
	for _, c := range settings {
		fmt.Fprintln(w, c.line())
	}
	return true
}
