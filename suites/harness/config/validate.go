package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// Validate checks the fields; each error names the field.
func (t *Target) Validate() error {
	v := &validation{}
	v.domains(t)
	v.clients(t)
	v.login(t)
	v.limits(t)
	v.dpop(t)
	v.services(t)
	v.cors(t)
	v.methods(t)
	return errors.Join(v.errs...)
}

// validation collects what is wrong with a target config, field by field.
type validation struct{ errs []error }

func (v *validation) bad(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("field %s: %s", field, fmt.Sprintf(format, args...)))
}

func (v *validation) host(field, h string, required bool) {
	if h == "" {
		if required {
			v.bad(field, "required (the tenant's host name, e.g. acme.us.auth0.com)")
		}
		return
	}
	if strings.Contains(h, "/") || strings.Contains(h, " ") {
		v.bad(field, "%q must be a host name with an optional port, without scheme or path", h)
		return
	}
	if _, err := url.Parse("https://" + h + "/"); err != nil {
		v.bad(field, "%q is not a valid host: %v", h, err)
	}
}

func (v *validation) redirect(field, u string) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" || p.Fragment != "" {
		v.bad(field, "%q must be an absolute URL without fragment, exactly as registered for the client", u)
	}
}

// domains: the tenant's domains, how to reach them and whom to trust.
func (v *validation) domains(t *Target) {
	v.host("domain", t.Domain, true)
	switch {
	case t.CustomDomains == nil:
		v.host("custom_domain", t.CustomDomain, false)
		if t.CustomDomain != "" && strings.EqualFold(t.CustomDomain, t.Domain) {
			v.bad("custom_domain", "must differ from domain")
		}
	case t.CustomDomain != "" && !t.primaryFromList:
		v.bad("custom_domains", "give custom_domain (one custom domain) or custom_domains (a list, the primary first), not both")
	case len(t.CustomDomains) == 0:
		v.bad("custom_domains", "empty: list the tenant's custom domains, or leave it out")
	}
	for i, d := range t.CustomDomains {
		field := fmt.Sprintf("custom_domains[%d]", i)
		v.host(field, d, true)
		if strings.EqualFold(d, t.Domain) {
			v.bad(field, "%q must differ from domain", d)
		}
		if slices.ContainsFunc(t.CustomDomains[:i], func(e string) bool { return strings.EqualFold(e, d) }) {
			v.bad(field, "%q is listed twice", d)
		}
	}
	for from, to := range t.Resolve {
		if _, _, err := net.SplitHostPort(from); err != nil {
			v.bad("resolve", "key %q must be host:port", from)
		}
		host, _, err := net.SplitHostPort(to)
		if err != nil || net.ParseIP(host) == nil {
			v.bad("resolve."+from, "value %q must be ip:port", to)
		}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			v.bad("ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			v.bad("ca_file", "%s holds no PEM certificate", t.CAFile)
		}
	}
	if t.WebAuthn.Origin != "" {
		u, err := url.Parse(t.WebAuthn.Origin)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "android" && u.Scheme != "ios") {
			v.bad("webauthn.origin", "%q must be an origin such as https://login.example.com", t.WebAuthn.Origin)
		}
	}
}

// clients: the native client, and the public and confidential login clients.
func (v *validation) clients(t *Target) {
	if t.Clients.Native.ClientID == "" {
		v.bad("clients.native.client_id", "required (a client with the Passkey grant enabled)")
	}
	if c := t.Clients.SPA; c != (OAuthClient{}) {
		if c.ClientID == "" {
			v.bad("clients.spa.client_id", "required when clients.spa is given")
		}
		if c.ClientSecret != "" {
			v.bad("clients.spa.client_secret", "must be empty: a single-page application is a public client (PKCE)")
		}
		v.callback("clients.spa.redirect_uri", c.RedirectURI)
	}
	if c := t.Clients.Web; c != (OAuthClient{}) {
		if c.ClientID == "" {
			v.bad("clients.web.client_id", "required when clients.web is given")
		}
		if c.ClientSecret == "" {
			v.bad("clients.web.client_secret", "required: a regular web application is a confidential client (use ${ENV_VAR})")
		}
		v.callback("clients.web.redirect_uri", c.RedirectURI)
	}
	if c := t.Clients.Native; c.RedirectURI != "" {
		v.redirect("clients.native.redirect_uri", c.RedirectURI)
	}
}

// callback checks a login client's required redirect_uri.
func (v *validation) callback(field, u string) {
	if u == "" {
		v.bad(field, "required (an Allowed Callback URL of the client)")
		return
	}
	v.redirect(field, u)
}

// login: the password user and the login driver.
func (v *validation) login(t *Target) {
	if (t.User.Username == "") != (t.User.Password == "") {
		if t.User.Username == "" {
			v.bad("user.username", "required when user.password is given")
		} else {
			v.bad("user.password", "required when user.username is given (use ${ENV_VAR})")
		}
	}
	switch t.Login.Driver {
	case DriverForm, DriverBrowser:
	case DriverCommand:
		if len(t.Login.Command) == 0 || t.Login.Command[0] == "" {
			v.bad("login.command", "required with login.driver command: the command line that prints the callback URL")
		}
	default:
		v.bad("login.driver", "%q is not a driver: use form, browser or command", t.Login.Driver)
	}
	if t.Login.CodeLifetime < 0 || time.Duration(t.Login.CodeLifetime) > maxCodeLifetime {
		v.bad("login.code_lifetime", "must be between 0 and %s", maxCodeLifetime)
	}
	if t.Login.Timeout < 0 {
		v.bad("login.timeout", "must be positive")
	}
}

// limits: timeouts, waits and the rate-limit model.
func (v *validation) limits(t *Target) {
	if t.Timeouts.Connect < 0 || t.Timeouts.Request < 0 {
		v.bad("timeouts", "must be positive")
	}
	if t.RateLimit.RequestsPerSecond < 0 || t.RateLimit.Burst < 0 {
		v.bad("rate_limit", "must be positive")
	} else if err := t.RateLimit.resolve(); err != nil {
		v.errs = append(v.errs, err)
	}
	switch t.RateLimit.ConnectedAccounts {
	case "", AccountsShared, AccountsSeparate:
	default:
		v.bad("rate_limit.connected_accounts", "%q: use shared or separate (or leave it out when the target does not say)", t.RateLimit.ConnectedAccounts)
	}
	if t.MaxWait < 0 {
		v.bad("max_wait", "must be positive")
	}
}

// dpop: the API's and each client's sender-constraining mode.
func (v *validation) dpop(t *Target) {
	mode := func(field, m string) {
		switch m {
		case "", DPoPOff, DPoPAllowed, DPoPRequired:
		default:
			v.bad(field, "%q is not a DPoP mode: use off, allowed or required", m)
		}
	}
	mode("dpop", t.DPoP)
	for name, c := range map[string]OAuthClient{"native": t.Clients.Native, "spa": t.Clients.SPA, "web": t.Clients.Web} {
		mode("clients."+name+".dpop", c.DPoP)
		if t.DPoP == DPoPRequired && c.DPoP != "" && c.DPoP != DPoPRequired {
			v.bad("clients."+name+".dpop", "%q under dpop: required: a token for the My Account API needs a proof whatever the client's setting (leave it out)", c.DPoP)
		}
	}
	mode("management.dpop", t.Management.DPoP)
	if t.DemandsNonces() && t.DPoP == DPoPOff {
		v.bad("dpop_nonce", "needs dpop allowed or required: a target without DPoP demands no DPoP nonces")
	}
	if n := t.DPoPNonce; n != nil {
		for _, k := range n.TokenEndpoint {
			if k != ClientPublic && k != ClientConfidential {
				v.bad("dpop_nonce.token_endpoint", "%q is not a kind of client: use public or confidential", k)
			}
		}
	}
	for _, a := range t.DPoPAlgs {
		if !dpopAlgNames[a] {
			v.bad("dpop_algs", "%q is not an asymmetric JWS algorithm (RFC 9449 §4.2): e.g. ES256, RS256, PS256, EdDSA", a)
		}
	}
}

// services: the Management API client, out-of-band proofs, connected accounts.
func (v *validation) services(t *Target) {
	if c := t.Management; c != (OAuthClient{}) && (c.ClientID == "" || c.ClientSecret == "") {
		v.bad("management", "needs client_id and client_secret (a Machine to Machine application authorized for the Management API with delete:users)")
	}
	if o := t.OutOfBand; o.URL != "" {
		if u, err := url.Parse(o.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.bad("out_of_band.url", "%q must be an https URL", o.URL)
		}
	}
	if o := t.OutOfBand; len(o.Command) > 0 && o.Command[0] == "" {
		v.bad("out_of_band.command", "the first element must be the program")
	}
	if c := t.ConnectedAccounts; c != (ConnectedAccounts{}) {
		if c.Connection == "" {
			v.bad("connected_accounts.connection", "required when connected_accounts is given")
		}
		if c.RedirectURI == "" {
			v.bad("connected_accounts.redirect_uri", "required (a callback URL allowed for the connected-accounts flow)")
		} else {
			v.redirect("connected_accounts.redirect_uri", c.RedirectURI)
		}
	}
}

// methods: the capability list, when the config gives it.
func (v *validation) methods(t *Target) {
	if t.Methods != nil && len(t.Methods) == 0 {
		v.bad("methods", "empty: list the method types the target enables (at least passkey), or leave it out to ask GET /factors")
	}
	known := spec.MethodTypes()
	for i, m := range t.Methods {
		if !slices.Contains(known, m) {
			v.bad("methods", "%q is not a method type of the description: use %s", m, strings.Join(known, ", "))
		}
		if slices.Contains(t.Methods[:i], m) {
			v.bad("methods", "%q is listed twice", m)
		}
	}
}
