package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseTargetFillsDefaultsAndExpandsEnv(t *testing.T) {
	t.Setenv("MYACCOUNT_TEST_SECRET", "s3cr3t-value")
	tg, err := ParseTarget([]byte(`
domain: acme.us.auth0.com
custom_domain: login.acme.test
resolve:
  "login.acme.test:443": "127.0.0.1:8443"
clients:
  native:
    client_id: abc
    client_secret: ${MYACCOUNT_TEST_SECRET}
timeouts:
  request: 3s
`))
	if err != nil {
		t.Fatal(err)
	}
	if tg.Clients.Native.ClientSecret != "s3cr3t-value" {
		t.Errorf("secret not expanded: %q", tg.Clients.Native.ClientSecret)
	}
	if tg.Connection != DefaultConnection || tg.WebAuthn.Origin != "https://login.acme.test" || tg.RateLimit.Limits().Plan != "enterprise" || tg.DPoP != DPoPOff || time.Duration(tg.MaxWait) != DefaultMaxWait {
		t.Errorf("defaults not filled: %+v", tg)
	}
	if time.Duration(tg.Timeouts.Request) != 3*time.Second || time.Duration(tg.Timeouts.Connect) != DefaultConnectTimeout {
		t.Errorf("timeouts: %+v", tg.Timeouts)
	}
	if got := tg.Domains(); len(got) != 2 || got[1] != "login.acme.test" {
		t.Errorf("domains %v", got)
	}
}

func TestParseTargetErrorsNameTheField(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown field", "domian: x\nclients: {native: {client_id: a}}", `"domian"`},
		{"missing domain", "clients: {native: {client_id: a}}", "field domain: required"},
		{"missing client", "domain: a.example", "field clients.native.client_id"},
		{"wrong type", "domain: a.example\nresolve: [1]\nclients: {native: {client_id: a}}", "resolve"},
		{"bad duration", "domain: a.example\ntimeouts: {request: soon}\nclients: {native: {client_id: a}}", `"soon" is not a duration`},
		{"scheme in domain", "domain: https://a.example\nclients: {native: {client_id: a}}", "field domain"},
		{"bad resolve value", "domain: a.example\nresolve: {\"a.example:443\": localhost}\nclients: {native: {client_id: a}}", "resolve.a.example:443"},
		{"missing env", "domain: a.example\nclients: {native: {client_id: a, client_secret: \"${MYACCOUNT_SURELY_UNSET}\"}}", "field clients.native.client_secret: environment variable MYACCOUNT_SURELY_UNSET is not set"},
		{"missing ca file", "domain: a.example\nca_file: /nonexistent/ca.pem\nclients: {native: {client_id: a}}", "field ca_file"},
		{"not yaml", "domain: [", "not valid YAML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTarget([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestTheExampleTenantConfigParses(t *testing.T) {
	t.Setenv("MYACCOUNT_NATIVE_CLIENT_SECRET", "example-secret")
	t.Setenv("MYACCOUNT_WEB_CLIENT_SECRET", "web-secret")
	t.Setenv("MYACCOUNT_USER_PASSWORD", "password")
	tg, err := LoadTarget("../../../fixtures/targets/example-tenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tg.CustomDomain == "" || tg.Clients.Native.ClientSecret != "example-secret" || tg.Implementation.Contact == "" {
		t.Errorf("example config lost fields: %+v", tg)
	}
}

func TestLoginConfigErrorsNameTheField(t *testing.T) {
	base := "domain: a.example.com\nclients:\n  native: {client_id: x}\n"
	for _, c := range []struct{ yaml, want string }{
		{"  spa: {client_id: s, client_secret: x, redirect_uri: 'https://app/cb'}\n", "clients.spa.client_secret"},
		{"  spa: {client_id: s}\n", "clients.spa.redirect_uri"},
		{"  web: {client_id: w, redirect_uri: 'https://app/cb'}\n", "clients.web.client_secret"},
		{"  web: {client_id: w, client_secret: s, redirect_uri: 'cb'}\n", "clients.web.redirect_uri"},
		{"  short_lived: {client_id: s}\n", "short_lived"}, // gone: Auth0 sets token lifetimes per API
		{"user: {username: u}\n", "user.password"},
		{"login: {driver: robot}\n", "login.driver"},
		{"login: {driver: command}\n", "login.command"},
		{"login: {code_lifetime: 1h}\n", "login.code_lifetime"},
	} {
		_, err := ParseTarget([]byte(base + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error naming %s", c.yaml, err, c.want)
		}
	}
	tg, err := ParseTarget([]byte(base + "login: {browser: {}}\n"))
	if err != nil || tg.Login.Driver != DriverForm || tg.Login.Browser.SubmitSelector != DefaultSubmitSelector {
		t.Errorf("defaults: %v %+v", err, tg)
	}
}

func TestRateLimitModel(t *testing.T) {
	base := "domain: a.example\nclients: {native: {client_id: a}}\n"
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"default plan", "", "enterprise: tenant reads 25/s, burst 25, writes 25/s, burst 25, filtered reads 100/s, burst 100; per user reads 5/min, burst 5, writes 5/min, burst 5, filtered reads 20/min, burst 20"},
		{"a plan", "rate_limit: {plan: free}", "free: tenant reads 2/s, burst 2, writes 2/s, burst 2, filtered reads 5/s, burst 5; per user reads 2/min, burst 2, writes 2/min, burst 2, filtered reads 5/min, burst 5"},
		{"the seed's shape", "rate_limit: {requests_per_second: 10, burst: 20}", "early-access: tenant 10/s, burst 20 for every request; per user none"},
		{"overrides", "rate_limit: {plan: essentials, tenant: {writes: {per_second: 7, burst: 9}}, user: {reads: {per_minute: 30, burst: 6}}}",
			"essentials (with overrides): tenant reads 5/s, burst 5, writes 7/s, burst 9, filtered reads 20/s, burst 20; per user reads 30/min, burst 6, writes 5/min, burst 5, filtered reads 10/min, burst 10"},
		{"no user limit", "rate_limit: {plan: private-cloud-100, user: {reads: {unlimited: true}, writes: {unlimited: true}, filtered_reads: {unlimited: true}}}",
			"private-cloud-100 (with overrides): tenant reads 20/s, burst 20, writes 20/s, burst 20, filtered reads 40/s, burst 40; per user none"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg, err := ParseTarget([]byte(base + c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.RateLimit.Limits().String(); got != c.want {
				t.Errorf("model\n got %s\nwant %s", got, c.want)
			}
		})
	}
	for _, c := range []struct{ yaml, want string }{
		{"rate_limit: {plan: gold}", "field rate_limit.plan"},
		{"rate_limit: {plan: free, requests_per_second: 3}", "field rate_limit.requests_per_second"},
		{"rate_limit: {tenant: {reads: {per_second: 1, per_minute: 60}}}", "field rate_limit.tenant.reads: give per_second or per_minute, not both"},
		{"rate_limit: {user: {writes: {unlimited: true, burst: 3}}}", "field rate_limit.user.writes: unlimited takes no figures"},
		{"rate_limit: {tenant: {reads: {per_minute: -1}}}", "field rate_limit.tenant.reads: figures must be positive"},
		{"rate_limit: {tenant: {reads: {pre_second: 1}}}", `unknown field "pre_second"`},
		{"rate_limit: {connected_accounts: pooled}", "field rate_limit.connected_accounts"},
		{"methods: [passkey, sms]", `field methods: "sms" is not a method type`},
		{"methods: []", "field methods: empty"},
		{"dpop: sometimes", "field dpop"},
		{"clients: {native: {client_id: a, dpop: maybe}}", "field clients.native.dpop"},
		{"dpop_nonce: true", "field dpop_nonce"},
		{"clients: {native: {client_id: a, dpop: allowed}}\ndpop: required", "field clients.native.dpop"},
		{"dpop: allowed\nmanagement: {client_id: m, client_secret: s, dpop: always}", "field management.dpop"},
		{"management: {client_id: m}", "field management"},
		{"out_of_band: {url: 'http://x'}", "field out_of_band.url"},
		{"connected_accounts: {connection: google}", "field connected_accounts.redirect_uri"},
	} {
		yaml := base + c.yaml
		if strings.HasPrefix(c.yaml, "clients:") {
			yaml = "domain: a.example\n" + c.yaml
		}
		if _, err := ParseTarget([]byte(yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
}

func TestDPoPModePerClient(t *testing.T) {
	tg, err := ParseTarget([]byte(`domain: a.example
dpop: allowed
dpop_nonce: true
clients:
  native: {client_id: nat}
  spa: {client_id: spa1, redirect_uri: "https://app.example/cb", dpop: required}
  web: {client_id: short1, client_secret: x, redirect_uri: "https://app.example/cb"}
management: {client_id: mgmt, client_secret: x}
`))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"nat": DPoPAllowed, "spa1": DPoPRequired, "short1": DPoPAllowed, "mgmt": "", "unknown": "", "": ""} {
		if got := tg.DPoPForClientID(id); got != want {
			t.Errorf("DPoPForClientID(%q) = %q, want %q", id, got, want)
		}
	}
	if !tg.NonceAtAPI() || !tg.NonceAtToken(false) || tg.DPoPFor("spa") != DPoPRequired || tg.DPoPFor("web") != DPoPAllowed {
		t.Errorf("nonce %v, spa %s, web %s", tg.DPoPNonce, tg.DPoPFor("spa"), tg.DPoPFor("web"))
	}
}

// dpop_nonce: true keeps its meaning (both endpoints, every client); the object form
// says where, as Auth0 documents it (public clients at the token endpoint).
func TestDPoPNonceForms(t *testing.T) {
	base := "domain: t.example\nclients: {native: {client_id: n, client_secret: s}}\ndpop: allowed\n"
	for _, c := range []struct {
		yaml                   string
		public, confidential   bool
		api, anywhere, invalid bool
	}{
		{"dpop_nonce: true", true, true, true, true, false},
		{"dpop_nonce: false", false, false, false, false, false},
		{"dpop_nonce: {token_endpoint: [public]}", true, false, false, true, false},
		{"dpop_nonce: {token_endpoint: [public], api: false}", true, false, false, true, false},
		{"dpop_nonce: {token_endpoint: [confidential], api: true}", false, true, true, true, false},
		{"dpop_nonce: {token_endpoint: [everyone]}", false, false, false, false, true},
		{"dpop_nonce: {tokens: [public]}", false, false, false, false, true},
		{"dpop_algs: [ES256, RS256]", false, false, false, false, false},
		{"dpop_algs: [HS256]", false, false, false, false, true},
	} {
		tg, err := ParseTarget([]byte(base + c.yaml + "\n"))
		if c.invalid {
			if err == nil {
				t.Errorf("%s: accepted", c.yaml)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.yaml, err)
			continue
		}
		if tg.NonceAtToken(true) != c.public || tg.NonceAtToken(false) != c.confidential || tg.NonceAtAPI() != c.api || tg.DemandsNonces() != c.anywhere {
			t.Errorf("%s: public %v confidential %v api %v anywhere %v", c.yaml, tg.NonceAtToken(true), tg.NonceAtToken(false), tg.NonceAtAPI(), tg.DemandsNonces())
		}
	}
}

func TestCustomDomainsListsThePrimaryFirst(t *testing.T) {
	tg, err := ParseTarget([]byte(`
domain: acme.us.auth0.com
custom_domains: [login.acme.test, login2.acme.test]
clients: {native: {client_id: abc}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if tg.CustomDomain != "login.acme.test" || tg.WebAuthn.Origin != "https://login.acme.test" || tg.RPHost() != "login.acme.test" {
		t.Errorf("the primary is not the first custom domain: %q, origin %q", tg.CustomDomain, tg.WebAuthn.Origin)
	}
	if got := strings.Join(tg.Domains(), " "); got != "acme.us.auth0.com login.acme.test login2.acme.test" {
		t.Errorf("domains %s", got)
	}
	if !tg.IsCustomDomain("LOGIN2.acme.test") || tg.IsCustomDomain("acme.us.auth0.com") {
		t.Error("IsCustomDomain")
	}
	if tg.OriginFor("login2.acme.test") != "https://login2.acme.test" || tg.OriginFor("login.acme.test") != tg.WebAuthn.Origin {
		t.Errorf("origins %q %q", tg.OriginFor("login2.acme.test"), tg.OriginFor("login.acme.test"))
	}
	// Defaults filled twice, and a target built in code, stay valid.
	tg.SetDefaults()
	if err := tg.Validate(); err != nil {
		t.Errorf("again: %v", err)
	}
	one, err := ParseTarget([]byte("domain: a.example\ncustom_domain: login.a.example\nclients: {native: {client_id: a}}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := one.CustomDomainList(); len(got) != 1 || got[0] != "login.a.example" {
		t.Errorf("custom_domain is the one-item list: %v", got)
	}
}

func TestCustomDomainsErrorsNameTheField(t *testing.T) {
	const native = "\nclients: {native: {client_id: a}}"
	for _, c := range []struct{ name, yaml, want string }{
		{"both", "domain: a.example\ncustom_domain: l.a.example\ncustom_domains: [l.a.example, m.a.example]" + native, "field custom_domains: give custom_domain"},
		{"empty", "domain: a.example\ncustom_domains: []" + native, "field custom_domains: empty"},
		{"twice", "domain: a.example\ncustom_domains: [l.a.example, L.a.example]" + native, `field custom_domains[1]: "L.a.example" is listed twice`},
		{"canonical", "domain: a.example\ncustom_domains: [l.a.example, a.example]" + native, "field custom_domains[1]: \"a.example\" must differ from domain"},
		{"scheme", "domain: a.example\ncustom_domains: [https://l.a.example]" + native, "field custom_domains[0]"},
		{"blank", "domain: a.example\ncustom_domains: [l.a.example, \"\"]" + native, "field custom_domains[1]: required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTarget([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
