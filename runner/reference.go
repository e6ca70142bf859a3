package runner

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// reference is how the embedded reference tenant is set up: its faults (defects the
// suite must detect), its misconfigurations (tenant settings doctor must name), and
// the realistic choices a real tenant makes (its plan's limits, how its token
// endpoint refuses, the login pages it shows, DPoP). run, serve, replay and selftest
// share these flags, and the certification records them so replay starts the same.
// Its fields are the certification's record (report.ReferenceTenant): a new setting
// is a field there, a flag in register, and a line in args, set and options.
type reference struct {
	report.ReferenceTenant
}

// Defaults of the embedded reference tenant.
const (
	// Lifetimes short enough that the expiry specs check them within a run: the
	// My Account API's access tokens (sessions renew them) and WebAuthn ceremonies
	// (the options' timeout states it). Authorization codes live reftenant's 3 s.
	// 45 s: a token the login user obtains may wait for that user's per-user budget
	// (12 s a read, shared by the workers) before it is used.
	referenceTokenTTL   = 45 * time.Second
	referenceSessionTTL = 10 * time.Second

	// The documented default for a target that does not say (PROTOCOL §6): tenant
	// and per-user buckets, so every spec meets the limits a real tenant has.
	referencePlan     = spec.PlanEnterprise
	referenceRefusals = reftenant.RefusalAuth0
	referenceDPoP     = reftenant.DPoPAllowed
	referencePrompts  = true

	// maxCustomDomains bounds --custom-domains: login, login2, … login{n}.conformance.test.
	maxCustomDomains = 4
)

// waiveFlag is --waive: the groups of limits the embedded reference tenant does
// not enforce (none by default, as a real tenant enforces every one; `make run`,
// `make test` and the self test pass all). Repeatable; "all" waives every group and
// "none" nothing.
type waiveFlag struct{ list *[]string }

func (f *waiveFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f *waiveFlag) Set(v string) error {
	add := []string{v}
	switch {
	case v == "none":
		return nil
	case v == "all":
		add = reftenant.Waivers()
	case !slices.Contains(reftenant.Waivers(), v):
		return fmt.Errorf("unknown limit %q: use one of %s, all or none", v, strings.Join(reftenant.Waivers(), ", "))
	}
	for _, w := range add {
		if !slices.Contains(*f.list, w) {
			*f.list = append(*f.list, w)
		}
	}
	return nil
}

// register adds the reference tenant's flags to fs.
func (r *reference) register(fs *flag.FlagSet) {
	fs.Var((*multiFlag)(&r.Faults), "fault", "start the embedded reference tenant with this named fault (repeatable; see 'serve --help')")
	fs.Var((*multiFlag)(&r.Misconfig), "misconfig", "start the embedded reference tenant with this tenant setting wrong (repeatable; see 'serve --help')")
	fs.StringVar(&r.Plan, "plan", referencePlan, "the rate-limit plan the embedded reference tenant enforces: "+strings.Join(spec.LimitPlans(), ", "))
	fs.StringVar(&r.Refusals, "refusals", referenceRefusals, "how the embedded reference tenant's token endpoint refuses: auth0 (403 invalid_grant, 401 access_denied) or rfc6749 (400, 401 invalid_client)")
	fs.BoolVar(&r.Prompts, "prompts", referencePrompts, "the embedded reference tenant shows the passkey enrollment offer and the consent page at login, as an Auth0 tenant with passkeys does (--prompts=false: straight to the application)")
	fs.StringVar(&r.DPoP, "dpop", referenceDPoP, "DPoP at the embedded reference tenant: allowed, required or off")
	fs.Func("methods", "the method types the embedded reference tenant enables, comma-separated (default: all of "+strings.Join(reftenant.MethodTypes(), ", ")+")", func(v string) error {
		r.Methods = strings.Split(v, ",")
		return nil
	})
	fs.BoolVar(&r.NoConnectedAccounts, "no-connected-accounts", false, "the embedded reference tenant offers no connection for connected accounts")
	fs.BoolVar(&r.DPoPNonce, "dpop-nonce", false, "the embedded reference tenant demands server nonces in DPoP proofs (use_dpop_nonce)")
	fs.DurationVar(&r.TokenTTL, "token-ttl", referenceTokenTTL, "the lifetime of the embedded reference tenant's access tokens for the My Account API (the expired-token spec waits it out)")
	behaviourFlags(fs, &r.Behaviour)
	fs.IntVar(&r.CustomDomains, "custom-domains", 1, fmt.Sprintf("how many custom domains the embedded reference tenant serves (1 to %d): %s, then login2…, each its own WebAuthn RP ID, issuer and login pages; the target config lists them under custom_domains", maxCustomDomains, reftenant.DefaultCustomDomain))
	fs.DurationVar(&r.SessionTTL, "session-ttl", referenceSessionTTL, "the lifetime of the embedded reference tenant's WebAuthn ceremonies (auth_session; the expired-ceremony specs wait it out)")
	fs.Func("sso", "the embedded reference tenant keeps an SSO session per domain after a Universal Login, as Auth0 does (default true; --sso=false: every /authorize shows the login prompts)", func(v string) error {
		on, err := strconv.ParseBool(v)
		r.NoSSO = !on
		return err
	})
	fs.DurationVar(&r.Latency, "latency", 0, "delay every answer of the embedded reference tenant by this much, as a distant tenant would (e.g. 300ms)")
	fs.Var(&waiveFlag{list: &r.Waive}, "waive", "a group of limits the embedded reference tenant does not enforce, as an IP allow list would lift it: "+
		strings.Join(reftenant.Waivers(), ", ")+" (repeatable; all: every group; none, the default: enforce every limit, as a real tenant does)")
}

// sameWaivers says whether two waiver lists name the same groups.
func sameWaivers(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// record is what the certification keeps of the tenant t started as r says.
func (r reference) record(t *reftenant.Tenant) *report.ReferenceTenant {
	rt := r.ReferenceTenant
	rt.Faults = append([]string{}, t.Faults()...)
	rt.Misconfig = t.Misconfigs()
	rt.Waive = append([]string{}, t.Waived()...)
	if rt.CustomDomains <= 1 {
		rt.CustomDomains = 0 // one, as certifications from before it was recorded
	}
	return &rt
}

// fromRecord is the reference a certification recorded.
func fromRecord(rt *report.ReferenceTenant) reference {
	r := reference{*rt}
	// Certifications from before these were recorded started the defaults of then.
	r.Plan = cmp.Or(r.Plan, spec.PlanEarlyAccess)
	r.Refusals = cmp.Or(r.Refusals, reftenant.RefusalRFC6749)
	r.DPoP = cmp.Or(r.DPoP, reftenant.DPoPAllowed)
	r.TokenTTL = cmp.Or(r.TokenTTL, referenceTokenTTL)
	r.SessionTTL = cmp.Or(r.SessionTTL, referenceSessionTTL)
	if r.Waive == nil {
		r.Waive = reftenant.Waivers() // it enforced none of these limits then
	}
	r.CustomDomains = max(r.CustomDomains, 1)
	return r
}

// args are the run flags that start this reference tenant.
func (r reference) args() []string {
	var out []string
	for _, f := range r.Faults {
		out = append(out, "--fault", f)
	}
	for _, m := range r.Misconfig {
		out = append(out, "--misconfig", m)
	}
	out = append(out, "--plan", r.Plan, "--refusals", r.Refusals, "--dpop", r.DPoP)
	out = append(out, fmt.Sprintf("--prompts=%t", r.Prompts))
	if len(r.Methods) > 0 {
		out = append(out, "--methods", strings.Join(r.Methods, ","))
	}
	if r.NoConnectedAccounts {
		out = append(out, "--no-connected-accounts")
	}
	if r.DPoPNonce {
		out = append(out, "--dpop-nonce")
	}
	if r.NoSSO {
		out = append(out, "--sso=false")
	}
	if r.Latency != 0 {
		out = append(out, "--latency", r.Latency.String())
	}
	if r.TokenTTL != referenceTokenTTL {
		out = append(out, "--token-ttl", r.TokenTTL.String())
	}
	if r.SessionTTL != referenceSessionTTL {
		out = append(out, "--session-ttl", r.SessionTTL.String())
	}
	for _, w := range r.Waive {
		out = append(out, "--waive", w)
	}
	if r.CustomDomains > 1 {
		out = append(out, "--custom-domains", fmt.Sprint(r.CustomDomains))
	}
	return append(out, behaviourArgs(r.Behaviour)...)
}

// set says whether any flag asks for a reference tenant other than the default.
func (r reference) set() bool {
	return len(r.Faults) > 0 || len(r.Misconfig) > 0 || r.Plan != referencePlan || r.Refusals != referenceRefusals || r.Prompts != referencePrompts ||
		r.DPoP != referenceDPoP || len(r.Methods) > 0 || r.NoConnectedAccounts || r.DPoPNonce || r.NoSSO || r.Latency != 0 || r.TokenTTL != referenceTokenTTL || r.SessionTTL != referenceSessionTTL ||
		r.CustomDomains > 1 || behaviourSet(r.Behaviour) || len(r.Waive) > 0
}

// options are the reftenant options for r, listening on addr.
func (r reference) options(addr string) (reftenant.Options, error) {
	o := reftenant.Options{Addr: addr, Faults: r.Faults, Misconfig: r.Misconfig, RefusalStyle: r.Refusals, DPoP: r.DPoP,
		PasskeyEnrollmentPrompt: r.Prompts, ConsentPrompt: r.Prompts, DPoPNonce: r.DPoPNonce, MethodTypes: r.Methods, ConnectedAccounts: !r.NoConnectedAccounts,
		MyAccountTokenTTL: cmp.Or(r.TokenTTL, referenceTokenTTL), SessionTTL: cmp.Or(r.SessionTTL, referenceSessionTTL),
		Behaviour: behaviourOptions(r.Behaviour), Waive: r.Waive, NoSSO: r.NoSSO, Latency: r.Latency}
	if o.MyAccountTokenTTL < 0 || o.SessionTTL < 0 {
		return o, usagef("--token-ttl and --session-ttl must be positive")
	}
	if o.Latency < 0 {
		return o, usagef("--latency must not be negative")
	}
	if len(o.MethodTypes) == 0 {
		o.MethodTypes = reftenant.MethodTypes()
	}
	// Zero is one, as in a record (and a reference built in code without the flag).
	if r.CustomDomains < 0 || r.CustomDomains > maxCustomDomains {
		return o, usagef("--custom-domains must be between 1 and %d", maxCustomDomains)
	}
	for i := 2; i <= r.CustomDomains; i++ {
		o.MoreCustomDomains = append(o.MoreCustomDomains, moreCustomDomain(i))
	}
	if r.Plan != "" {
		l, err := spec.LimitPlan(r.Plan)
		if err != nil {
			return o, usagef("--plan: %v", err)
		}
		o.Limits = &l
	}
	return o, nil
}

// moreCustomDomain is the reference's i-th custom domain (i ≥ 2): login{i}.conformance.test.
func moreCustomDomain(i int) string {
	first, parent, _ := strings.Cut(reftenant.DefaultCustomDomain, ".")
	return fmt.Sprintf("%s%d.%s", first, i, parent)
}

// startReference starts the embedded reference tenant as r says and writes its CA
// and a target config into dir. The config is the one `run --config` reads, so what
// runs against the embedded tenant is exactly what a user gets.
func startReference(dir, addr string, r reference) (*reftenant.Tenant, string, error) {
	opts, err := r.options(addr)
	if err != nil {
		return nil, "", err
	}
	t, err := reftenant.Start(opts)
	if err != nil {
		return nil, "", usagef("reference tenant: %v", err)
	}
	cfg, err := writeReferenceConfig(t, dir)
	if err != nil {
		t.Close()
		return nil, "", err
	}
	return t, cfg, nil
}

// writeReferenceConfig writes reference-tenant-ca.pem and reference-tenant.yaml into dir.
func writeReferenceConfig(t *reftenant.Tenant, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	caFile, err := filepath.Abs(filepath.Join(dir, "reference-tenant-ca.pem"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(caFile, t.CAPEM(), 0o644); err != nil {
		return "", err
	}
	clients := t.Clients()
	// clients[3] is the tenant's short-lived client, for its own tests.
	native, spa, web, mgmt := clients[0], clients[1], clients[2], clients[4]
	username, password := t.PasswordUser()
	target := config.Target{
		Name:       "reference tenant",
		Domain:     t.Domain(),
		Resolve:    map[string]string{t.Domain() + ":443": t.Addr()},
		CAFile:     caFile,
		Connection: t.Connection(),
		Clients: config.Clients{
			Native: config.OAuthClient{ClientID: native.ID, ClientSecret: native.Secret},
			SPA:    config.OAuthClient{ClientID: spa.ID, RedirectURI: spa.RedirectURIs[0]},
			Web:    config.OAuthClient{ClientID: web.ID, ClientSecret: web.Secret, RedirectURI: web.RedirectURIs[0]},
		},
		// The users a run signs up are deleted at its end, as on a real tenant.
		Management: config.OAuthClient{ClientID: mgmt.ID, ClientSecret: mgmt.Secret},
		User:       config.User{Username: username, Password: password},
		// The form driver for most logins; the browser specs also drive the login page
		// (password and passkey) in headless Chromium.
		Login: config.Login{
			Driver:       config.DriverForm,
			CodeLifetime: config.Duration(t.CodeTTL()),
			Browser:      &config.Browser{Passkeys: true},
		},
		Implementation: config.Implementation{
			Organization: "myaccount-conformance",
			Project:      "reference tenant",
			URL:          "https://github.com/myaccount-conformance/myaccount-conformance",
			Version:      suiteVersion(),
		},
	}
	// One custom domain is custom_domain; several are listed under custom_domains.
	if cds := t.CustomDomains(); len(cds) == 1 {
		target.CustomDomain = cds[0]
	} else {
		target.CustomDomains = cds
	}
	for _, h := range t.CustomDomains() {
		target.Resolve[h+":443"] = t.Addr()
	}
	// The suite paces itself by and tests against the limits the tenant enforces.
	target.RateLimit = rateLimitConfig(*t.Limits())
	// The reference counts connected-accounts operations with the authentication
	// methods and says so, unless it behaves as Auth0 documents (which is silent).
	target.RateLimit.ConnectedAccounts = t.AccountsLimit()
	// It honours use_exclude_credentials: true (with either behaviour).
	target.UseExcludeCredentials = true
	// Without GET /factors, the config states the method types the tenant enables.
	if !t.FactorsServed() {
		target.Methods = t.EnabledMethodTypes()
	}
	target.DPoP = config.DPoPAllowed
	if t.DPoP() != "" {
		target.DPoP = t.DPoP()
	}
	// Codes sent by email and SMS, and push approvals, go through the tenant's
	// loopback-only test hooks.
	target.OutOfBand.URL = "https://" + t.Domain() + "/__reference"
	if conn := t.ConnectedAccountsConnection(); conn != "" {
		target.ConnectedAccounts = config.ConnectedAccounts{Connection: conn, RedirectURI: native.RedirectURIs[0]}
	}
	target.DPoPNonce = nonceConfig(t)
	// The browser application the cors specs act as: the spa client's allowed origin.
	if len(spa.AllowedOrigins) > 0 {
		target.CORS = config.CORS{Origin: spa.AllowedOrigins[0]}
	}
	if f := t.Faults(); len(f) > 0 {
		target.Name = fmt.Sprintf("reference tenant with faults %v", f)
	}
	data, err := yaml.Marshal(target)
	if err != nil {
		return "", err
	}
	header := "# Target config for the reference tenant, written by `myaccount-conformance serve`.\n" +
		"# It holds the tenant's client secrets and the test user's password: they are valid only\n" +
		"# while that process runs.\n"
	cfg := filepath.Join(dir, "reference-tenant.yaml")
	if err := os.WriteFile(cfg, append([]byte(header), data...), 0o600); err != nil {
		return "", err
	}
	return cfg, nil
}

// rateLimitConfig states a limit model in full in the target config: the plan and
// every figure, so a reader sees what the suite paces by without the plan tables.
func rateLimitConfig(l spec.Limits) config.RateLimit {
	bucket := func(b spec.Bucket) *config.BucketConfig {
		if b.Unlimited() {
			return &config.BucketConfig{Unlimited: true}
		}
		if b.Rate < 1 {
			return &config.BucketConfig{PerMinute: b.Rate * 60, Burst: b.Burst}
		}
		return &config.BucketConfig{PerSecond: b.Rate, Burst: b.Burst}
	}
	level := func(v spec.Level) *config.LevelConfig {
		shared := v.Shared
		return &config.LevelConfig{Reads: bucket(v.Read), Writes: bucket(v.Write), FilteredReads: bucket(v.FilteredRead), Shared: &shared}
	}
	plan := l.Plan
	if plan == "" {
		plan = spec.PlanEarlyAccess
	}
	// A waived limit is written as unlimited (a waiver), as a tenant that allow-lists
	// the run's IP address would state it.
	return config.RateLimit{Plan: plan, Tenant: level(l.Tenant), User: level(l.User),
		LoginPrompts: bucket(l.LoginPrompts), Signups: bucket(l.Signups),
		AuthenticationAPI: bucket(l.AuthenticationAPI), ManagementAPI: bucket(l.ManagementAPI)}
}

// refusedLine says what the embedded reference tenant refused with 429, per limit
// (reftenant's Refused… names): what a real tenant would have refused of the run.
func refusedLine(refused map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(refused)) {
		if refused[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, refused[k]))
		}
	}
	if len(parts) == 0 {
		return "the reference refused nothing"
	}
	return "the reference refused (429): " + strings.Join(parts, ", ")
}

// seenLine says what the embedded reference tenant counted of the run's requests
// (reftenant's Seen… names), to hold beside the run's own traffic line.
func seenLine(seen map[string]int) string {
	return fmt.Sprintf("the reference saw %d login prompt posts, %d signups, %d Authentication API and %d Management API requests",
		seen[reftenant.SeenLoginPromptPosts], seen[reftenant.SeenSignups], seen[reftenant.SeenAuthenticationAPI], seen[reftenant.SeenManagementAPI])
}

// loadTarget reads a target config; errors are usage errors (exit 2).
func loadTarget(path string) (*config.Target, error) {
	t, err := config.LoadTarget(path)
	if err != nil {
		return nil, usageError{err}
	}
	return t, nil
}
