package config

import (
	"cmp"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Target is what the suite runs against: one tenant reachable under its canonical
// domain and, optionally, one or several custom domains. It is read from a YAML file (see
// fixtures/targets/) or built by the runner for the embedded reference tenant.
type Target struct {
	// Name labels the target in reports.
	Name string `json:"name,omitempty"`
	// Domain is the canonical tenant domain, e.g. "acme.us.auth0.com" (host[:port]).
	Domain string `json:"domain"`
	// CustomDomain is the tenant's custom domain, e.g. "login.acme.com". Native
	// passkey login only works there; specs that need it skip without it.
	// With custom_domains it is the first of them (SetDefaults), the "primary":
	// what needs one custom domain uses it.
	CustomDomain string `json:"custom_domain,omitempty"`
	// CustomDomains lists several custom domains, the primary first: Auth0 allows
	// several on a tenant, each its own WebAuthn RP ID. custom_domain is its
	// one-item form; a config gives one or the other.
	CustomDomains []string `json:"custom_domains,omitempty"`
	// Resolve maps "host:port" to "ip:port", like curl --resolve.
	Resolve map[string]string `json:"resolve,omitempty"`
	// CAFile is a PEM file of extra CAs to trust besides the system pool.
	CAFile string `json:"ca_file,omitempty"`
	// Connection is the database connection (realm) users sign up in.
	Connection string `json:"connection,omitempty"`
	// Clients are the applications the suite logs in with.
	Clients Clients `json:"clients"`
	// User is an existing user who logs in with a password through the login page.
	User User `json:"user,omitempty"`
	// Login says how the suite gets through the login page (Universal Login).
	Login Login `json:"login,omitempty"`
	// WebAuthn settings; the defaults fit a web origin on the custom domain.
	WebAuthn WebAuthn `json:"webauthn,omitempty"`
	// Timeouts bound every request.
	Timeouts Timeouts `json:"timeouts,omitempty"`
	// RateLimit is the target's rate-limit model (a documented plan, with
	// overrides); the suite paces its own traffic below it so that ordinary specs
	// never trip it, and the rate-limit specs hold the target to it.
	RateLimit RateLimit `json:"rate_limit,omitempty"`
	// MaxWait bounds how long the run waits for something to expire (a token, an
	// auth_session, a code); a check that would wait longer skips, saying so.
	MaxWait Duration `json:"max_wait,omitempty"`
	// OutOfBand is where the email, phone and push-notification drivers get the
	// proofs that reach the user out of band.
	OutOfBand OutOfBand `json:"out_of_band,omitempty"`
	// Management is an optional Management API client (client credentials with
	// delete:users): with it, the users a run signs up are deleted afterwards.
	Management OAuthClient `json:"management,omitempty"`
	// DPoP is whether the target binds tokens to keys (RFC 9449): off (the default:
	// the DPoP specs skip), allowed (a token request with a proof gets a bound token,
	// one without a bearer token) or required (the My Account API takes only bound
	// tokens; every request of the run then presents DPoP). Clients may differ
	// (clients.<name>.dpop).
	DPoP string `json:"dpop,omitempty"`
	// DPoPNonce says where the target requires server nonces in DPoP proofs (see
	// DPoPNonce; true: everywhere); the nonce specs run where it is stated. The
	// client answers a demand for a nonce either way.
	DPoPNonce *DPoPNonce `json:"dpop_nonce,omitempty"`
	// DPoPAlgs narrows the proof algorithms the suite tests to these (of those
	// discovery's dpop_signing_alg_values_supported lists); ES256 is always tested.
	DPoPAlgs []string `json:"dpop_algs,omitempty"`
	// Methods are the authentication-method types the target enables ("passkey",
	// "totp", … as GET /factors names them). GET /factors, the API's own capability
	// list, is Early Access at Auth0 and a tenant may not serve it: given, this list
	// is what the method specs take as enabled (GET /factors is not asked for it);
	// left out, GET /factors is, and a target that answers it 404 needs this list.
	Methods []string `json:"methods,omitempty"`
	// UseExcludeCredentials says the target honours use_exclude_credentials: true in
	// a passkey enrollment request: the creation options then name the user's
	// passkeys in excludeCredentials (checked only when stated).
	UseExcludeCredentials bool `json:"use_exclude_credentials,omitempty"`
	// ConnectedAccounts configures the connected-accounts flow.
	ConnectedAccounts ConnectedAccounts `json:"connected_accounts,omitempty"`
	// CORS is the origin of a browser application allowed to call the My Account
	// API (cors.go); the cors specs skip without it.
	CORS CORS `json:"cors,omitempty"`
	// Implementation describes what is being tested, for reports.
	Implementation Implementation `json:"implementation,omitempty"`

	// primaryFromList: SetDefaults took CustomDomain from CustomDomains (so that
	// Validate tells a config that gave both from one that gave the list).
	primaryFromList bool
}

// Clients holds the applications used by the flows.
type Clients struct {
	// Native is a confidential client with the passkey (webauthn) grant enabled,
	// used for embedded login with native passkeys.
	Native OAuthClient `json:"native"`
	// SPA is a public client (single-page application) for the authorization code
	// flow with PKCE: client_id and redirect_uri, no secret.
	SPA OAuthClient `json:"spa,omitempty"`
	// Web is a confidential client (regular web application) for the authorization
	// code flow with client_secret: client_id, client_secret and redirect_uri.
	Web OAuthClient `json:"web,omitempty"`
}

// OAuthClient is one application registered in the tenant.
type OAuthClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// RedirectURI is a callback URL registered for the client, exactly as registered.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// DPoP overrides the target's dpop setting for this client.
	DPoP string `json:"dpop,omitempty"`
}

// DPoP modes.
const (
	DPoPOff      = "off"
	DPoPAllowed  = "allowed"
	DPoPRequired = "required"
)

// OutOfBand says how the suite reads codes sent by email or SMS and approves push
// enrollments. URL speaks the reference tenant's hook protocol (GET {url}/outbox?to=…,
// POST {url}/push/enroll); Command is run instead when given.
type OutOfBand struct {
	URL string `json:"url,omitempty"`
	// Command is an argv; {action} (code | push-approve), {channel} (email | sms |
	// voice), {address} and {barcode_uri} are replaced. For code it prints the code.
	Command []string `json:"command,omitempty"`
}

// ConnectedAccounts names the connection the suite links an account from and the
// redirect_uri registered for it.
type ConnectedAccounts struct {
	Connection  string `json:"connection,omitempty"`
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// User is a user of the tenant with a password (username and password of the
// database connection).
type User struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// Login drivers: how the suite gets through the login page.
const (
	DriverForm    = "form"    // plain HTTP: fills and posts the page's HTML forms
	DriverBrowser = "browser" // headless Chromium through the DevTools protocol
	DriverCommand = "command" // a user-given command prints the callback URL
)

// Login configures Universal Login.
type Login struct {
	// Driver is form (default), browser or command.
	Driver string `json:"driver,omitempty"`
	// CodeLifetime is how long the tenant's authorization codes live, if known. The
	// expired-code spec waits that long (plus a second) and skips without it.
	CodeLifetime Duration `json:"code_lifetime,omitempty"`
	// Timeout bounds one login, default 30s.
	Timeout Duration `json:"timeout,omitempty"`
	// Browser configures the browser driver; with it the browser specs run even
	// when another driver is the default.
	Browser *Browser `json:"browser,omitempty"`
	// Command is the command line of the command driver. {authorize_url} and
	// {redirect_uri} in it are replaced; the environment carries
	// MYACCOUNT_AUTHORIZE_URL, MYACCOUNT_REDIRECT_URI, MYACCOUNT_USERNAME and
	// MYACCOUNT_PASSWORD. It must print the URL the login ended on (the
	// redirect_uri with code and state) on a line of its own.
	Command []string `json:"command,omitempty"`
}

// Browser configures headless Chromium and the selectors of the login page, which
// is identifier first by default: username, submit, then password, submit.
type Browser struct {
	// Chromium is the browser binary, default /usr/lib/chromium/chromium (Debian).
	Chromium string `json:"chromium,omitempty"`
	// CSS selectors of the login page.
	UsernameSelector string `json:"username_selector,omitempty"`
	PasswordSelector string `json:"password_selector,omitempty"`
	SubmitSelector   string `json:"submit_selector,omitempty"`
	PasskeySelector  string `json:"passkey_selector,omitempty"`
	// Passkeys says the login page offers "sign in with a passkey" on the custom
	// domain; the browser passkey spec runs only then.
	Passkeys bool `json:"passkeys,omitempty"`
}

// WebAuthn says how the virtual authenticator presents itself.
type WebAuthn struct {
	// Origin of the client data, default "https://{custom_domain}".
	Origin string `json:"origin,omitempty"`
}

// Timeouts bound network work; durations are Go durations ("10s").
type Timeouts struct {
	Connect Duration `json:"connect,omitempty"`
	Request Duration `json:"request,omitempty"`
}

// Implementation metadata, copied into reports as given.
type Implementation struct {
	Organization string `json:"organization,omitempty"`
	Project      string `json:"project,omitempty"`
	URL          string `json:"url,omitempty"`
	Version      string `json:"version,omitempty"`
	Contact      string `json:"contact,omitempty"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"10s\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// Defaults for fields left empty.
const (
	DefaultConnection     = "Username-Password-Authentication"
	DefaultConnectTimeout = 5 * time.Second
	DefaultRequestTimeout = 15 * time.Second
	// DefaultMaxWait bounds waiting for an expiry: a minute and a half covers a
	// token lifetime set to a minute and Auth0's authorization codes.
	DefaultMaxWait      = 90 * time.Second
	DefaultLoginTimeout = 30 * time.Second
	DefaultChromium     = "/usr/lib/chromium/chromium"
	// Selectors of the vendor's identifier-first login page (and of the reference tenant's).
	DefaultUsernameSelector = "#username"
	DefaultPasswordSelector = "#password"
	DefaultSubmitSelector   = `button[type=submit][name=action][value=default]`
	DefaultPasskeySelector  = "#passkey"
	// maxCodeLifetime bounds the expired-code spec's wait (RFC 6749 §4.1.2 recommends
	// at most 10 minutes; Auth0's codes live about 60 s).
	maxCodeLifetime = 10 * time.Minute
)

// LoadTarget reads, expands and checks a target config file. Every error names the
// file and the field.
func LoadTarget(path string) (*Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	t, err := ParseTarget(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return t, nil
}

var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)
var typeField = regexp.MustCompile(`Go struct field [A-Za-z]+\.([A-Za-z0-9_.]+) of type (\S+)`)

// ParseTarget parses YAML, expands ${ENV_VAR} references, fills defaults and validates.
func ParseTarget(data []byte) (*Target, error) {
	var t Target
	if err := yaml.UnmarshalStrict(data, &t); err != nil {
		msg := err.Error()
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("unknown field %q (see fixtures/targets/example-tenant.yaml for the fields)", m[1])
		}
		if m := typeField.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("field %s: wrong type, want %s", m[1], m[2])
		}
		return nil, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(msg, "error converting YAML to JSON: "))
	}
	if err := expandEnv(reflect.ValueOf(&t).Elem(), ""); err != nil {
		return nil, err
	}
	t.SetDefaults()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} in every string field, naming the field when VAR is unset.
func expandEnv(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
			if err := expandEnv(v.Field(i), join(path, name)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			s := v.MapIndex(k)
			if s.Kind() != reflect.String {
				continue
			}
			out, err := expandString(s.String(), join(path, k.String()))
			if err != nil {
				return err
			}
			v.SetMapIndex(k, reflect.ValueOf(out))
		}
	case reflect.String:
		out, err := expandString(v.String(), path)
		if err != nil {
			return err
		}
		v.SetString(out)
	}
	return nil
}

func expandString(s, path string) (string, error) {
	var missing string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		val, ok := os.LookupEnv(name)
		if !ok && missing == "" {
			missing = name
		}
		return val
	})
	if missing != "" {
		return "", fmt.Errorf("field %s: environment variable %s is not set", path, missing)
	}
	return out, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// SetDefaults fills the fields left empty with their defaults (ParseTarget does).
func (t *Target) SetDefaults() {
	if t.Connection == "" {
		t.Connection = DefaultConnection
	}
	if t.Timeouts.Connect == 0 {
		t.Timeouts.Connect = Duration(DefaultConnectTimeout)
	}
	if t.Timeouts.Request == 0 {
		t.Timeouts.Request = Duration(DefaultRequestTimeout)
	}
	_ = t.RateLimit.resolve() // Validate reports what does not resolve
	if t.MaxWait == 0 {
		t.MaxWait = Duration(DefaultMaxWait)
	}
	if t.DPoP == "" {
		t.DPoP = DPoPOff
	}
	if t.CustomDomain == "" && len(t.CustomDomains) > 0 {
		t.CustomDomain, t.primaryFromList = t.CustomDomains[0], true
	}
	if t.WebAuthn.Origin == "" && t.CustomDomain != "" {
		t.WebAuthn.Origin = "https://" + t.CustomDomain
	}
	if t.Name == "" {
		t.Name = t.Domain
	}
	if t.Login.Driver == "" {
		t.Login.Driver = DriverForm
	}
	if t.Login.Timeout == 0 {
		t.Login.Timeout = Duration(DefaultLoginTimeout)
	}
	if b := t.Login.Browser; b != nil || t.Login.Driver == DriverBrowser {
		if b == nil {
			b = &Browser{}
			t.Login.Browser = b
		}
		b.Chromium = cmp.Or(b.Chromium, DefaultChromium)
		b.UsernameSelector = cmp.Or(b.UsernameSelector, DefaultUsernameSelector)
		b.PasswordSelector = cmp.Or(b.PasswordSelector, DefaultPasswordSelector)
		b.SubmitSelector = cmp.Or(b.SubmitSelector, DefaultSubmitSelector)
		b.PasskeySelector = cmp.Or(b.PasskeySelector, DefaultPasskeySelector)
	}
}

// DPoPFor is the DPoP mode of a configured client ("native", "spa", "web"): its
// own, or the target's.
func (t *Target) DPoPFor(client string) string {
	var c OAuthClient
	switch client {
	case "native":
		c = t.Clients.Native
	case "spa":
		c = t.Clients.SPA
	case "web":
		c = t.Clients.Web
	}
	return cmp.Or(c.DPoP, t.DPoP)
}

// DPoPForClientID is the DPoP mode of the configured client with that client_id. The
// management client's is only its own (the Management API is another API than My
// Account, whose setting the target's dpop is); an unknown client's is "".
func (t *Target) DPoPForClientID(id string) string {
	if id == "" {
		return ""
	}
	for name, c := range map[string]OAuthClient{"native": t.Clients.Native, "spa": t.Clients.SPA, "web": t.Clients.Web} {
		if c.ClientID == id {
			return t.DPoPFor(name)
		}
	}
	if t.Management.ClientID == id {
		return t.Management.DPoP
	}
	return ""
}

// Domains lists the target's hosts: the canonical domain, then every custom domain
// (the primary first).
func (t *Target) Domains() []string {
	return append([]string{t.Domain}, t.CustomDomainList()...)
}

// CustomDomainList lists the custom domains, the primary first: custom_domains, or
// custom_domain as its one item; none without either.
func (t *Target) CustomDomainList() []string {
	if len(t.CustomDomains) > 0 {
		return append([]string(nil), t.CustomDomains...)
	}
	if t.CustomDomain != "" {
		return []string{t.CustomDomain}
	}
	return nil
}

// IsCustomDomain says whether host is one of the custom domains.
func (t *Target) IsCustomDomain(host string) bool {
	return slices.ContainsFunc(t.CustomDomainList(), func(d string) bool { return strings.EqualFold(d, host) })
}

// OriginFor is the WebAuthn origin of a ceremony on host: https://{host} on a custom
// domain other than the primary (each custom domain is its own relying party), the
// configured webauthn.origin everywhere else.
func (t *Target) OriginFor(host string) string {
	if t.IsCustomDomain(host) && !strings.EqualFold(host, t.CustomDomain) {
		return "https://" + host
	}
	return t.WebAuthn.Origin
}

// BaseURL is https://{host}.
func (t *Target) BaseURL(host string) string { return "https://" + host }

// MeAudience is the My Account API audience for a host: https://{host}/me/.
func MeAudience(host string) string { return "https://" + host + "/me/" }

// MeURL is https://{host}/me/v1 followed by path.
func MeURL(host, path string) string { return "https://" + host + "/me/v1" + path }

// RPHost is the host passkeys are bound to: the origin's host.
func (t *Target) RPHost() string {
	u, err := url.Parse(t.WebAuthn.Origin)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// LoginClients are the clients configured for the authorization code flow, public
// (spa) first.
func (t *Target) LoginClients() []NamedClient {
	var out []NamedClient
	if t.Clients.SPA.ClientID != "" {
		out = append(out, NamedClient{Name: "spa", Public: true, OAuthClient: t.Clients.SPA})
	}
	if t.Clients.Web.ClientID != "" {
		out = append(out, NamedClient{Name: "web", OAuthClient: t.Clients.Web})
	}
	return out
}

// NamedClient is a configured client with its config key.
type NamedClient struct {
	Name   string // "spa" or "web", as in the config
	Public bool   // no secret: PKCE
	OAuthClient
}
