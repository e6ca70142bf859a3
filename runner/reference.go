package main

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
)

// startReference starts the embedded reference tenant with the given faults and
// writes its CA and a target config into dir. The config is the one `run --config`
// reads, so what runs against the embedded tenant is exactly what a user gets.
func startReference(dir, addr string, faults []string) (*reftenant.Tenant, string, error) {
	t, err := reftenant.Start(reftenant.Options{Addr: addr, Faults: faults})
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
	native, spa, web, short := clients[0], clients[1], clients[2], clients[3]
	username, password := t.PasswordUser()
	target := harness.Target{
		Name:         "reference tenant",
		Domain:       t.Domain(),
		CustomDomain: t.CustomDomain(),
		Resolve: map[string]string{
			t.Domain() + ":443":       t.Addr(),
			t.CustomDomain() + ":443": t.Addr(),
		},
		CAFile:     caFile,
		Connection: t.Connection(),
		Clients: harness.Clients{
			Native: harness.OAuthClient{ClientID: native.ID, ClientSecret: native.Secret},
			SPA:    harness.OAuthClient{ClientID: spa.ID, RedirectURI: spa.RedirectURIs[0]},
			Web:    harness.OAuthClient{ClientID: web.ID, ClientSecret: web.Secret, RedirectURI: web.RedirectURIs[0]},
			// Tokens and auth_sessions of a few seconds: the expiry specs wait them out.
			ShortLived: harness.OAuthClient{ClientID: short.ID, ClientSecret: short.Secret},
		},
		User: harness.User{Username: username, Password: password},
		// The form driver for most logins; the browser specs also drive the login page
		// (password and passkey) in headless Chromium.
		Login: harness.Login{
			Driver:       harness.DriverForm,
			CodeLifetime: harness.Duration(t.CodeTTL()),
			Browser:      &harness.Browser{Passkeys: true},
		},
		Implementation: harness.Implementation{
			Organization: "myaccount-conformance",
			Project:      "reference tenant",
			URL:          "https://github.com/myaccount-conformance/myaccount-conformance",
			Version:      suiteVersion(),
		},
	}
	// The suite paces itself by and tests against the limit the tenant enforces; the
	// tenant limits neither login prompts nor signups, so the config says so.
	target.RateLimit.RequestsPerSecond, target.RateLimit.Burst = t.RateLimit()
	target.RateLimit.LoginPrompts = &harness.BucketConfig{Unlimited: true}
	target.RateLimit.Signups = &harness.BucketConfig{Unlimited: true}
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

// loadTarget reads a target config; errors are usage errors (exit 2).
func loadTarget(path string) (*harness.Target, error) {
	t, err := harness.LoadTarget(path)
	if err != nil {
		return nil, usageError{err}
	}
	return t, nil
}
