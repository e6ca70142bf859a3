package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// doctorNames is, per misconfiguration of the reference tenant, what doctor must say
// about it: the failed check and words of the setting to change.
var doctorNames = map[string][]string{
	reftenant.MisconfigNoPasskeyGrant:         {"FAIL  native passkey signup", "Grant Types > Passkey"},
	reftenant.MisconfigNoMyAccountGrant:       {"FAIL  native passkey signup", "FAIL  Universal Login (spa)", "no client grant for the My Account API", "Application Access"},
	reftenant.MisconfigMyAccountScopesMissing: {"FAIL  the native client's My Account token", "lacks create:me:authentication_methods", "Application Access"},
	reftenant.MisconfigWebOriginNotAllowed:    {"FAIL  native passkey signup", "Allowed Web Origins lack https://login.conformance.test"},
	reftenant.MisconfigMFARequired:            {"FAIL  native passkey signup", "FAIL  Universal Login (web)", "Security > Multi-factor Auth", `"Require 2FA"`},
	reftenant.MisconfigBotDetection:           {"FAIL  Universal Login (spa)", "Security > Attack Protection > Bot Detection"},
	reftenant.MisconfigPasskeysDisabled:       {"FAIL  native passkey signup", "Authentication Methods > Passkey"},
	reftenant.MisconfigTokenAuthMethodBasic:   {"FAIL  Universal Login (web)", "Authentication Method must be Client Secret (Post)"},
	reftenant.MisconfigPasskeyAPIsDisabled:    {"FAIL  native passkey signup", "native passkey APIs", "not enabled"},
	reftenant.MisconfigSignupVerification:     {"FAIL  native passkey signup", "requires email or SMS verification"},
	reftenant.MisconfigFactorsScopeMissing:    {"FAIL  the native client's My Account token", "lacks read:me:factors", "Application Access"},
	reftenant.MisconfigCORSOriginNotAllowed:   {"FAIL  CORS for https://app.conformance.test on login.conformance.test", "Allowed Origins (CORS) must hold https://app.conformance.test", "Allow Cross-Origin Authentication"},
}

// doctor says ok for everything against the reference tenant, with and without its
// login prompts (which it notes), and against the reference started with each
// misconfiguration names the setting behind it and exits 1.
func TestDoctorNamesEachMisconfiguration(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, "doctor", "--prompts=false")
	if code != exitConformant || strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "every check ok") {
		t.Fatalf("clean reference: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"ok    discovery on tenant.conformance.test", "ok    discovery on login.conformance.test", "ok    native passkey signup",
		"ok    native passkey login", "ok    Universal Login (spa)", "ok    Universal Login (web)", "ok    the web client's My Account token", "ok    rate limits",
		"ok    CORS for https://app.conformance.test on login.conformance.test"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("clean reference: no %q in\n%s", want, stdout)
		}
	}
	code, stdout, stderr = runCmd(t, "doctor")
	if code != exitConformant || !strings.Contains(stdout, "declined the passkey enrollment offer") || !strings.Contains(stdout, "accepted the consent page") {
		t.Errorf("reference with prompts: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, m := range reftenant.Misconfigs() {
		want, ok := doctorNames[m.Name]
		if !ok {
			t.Errorf("misconfiguration %s: the test does not say what doctor must name", m.Name)
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCmd(t, "doctor", "--misconfig", m.Name)
			if code != exitFailures {
				t.Errorf("exit %d, want %d\n%s%s", code, exitFailures, stdout, stderr)
			}
			for _, w := range want {
				if !strings.Contains(stdout, w) {
					t.Errorf("no %q in\n%s", w, stdout)
				}
			}
		})
	}
}

// A config stating a plan below the tenant's limits draws "your plan may be higher".
func TestDoctorComparesThePlanWithTheHeaders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tenant, cfg, err := startReference(dir, "127.0.0.1:0", reference{report.ReferenceTenant{Plan: spec.PlanEnterprise, Refusals: referenceRefusals, DPoP: referenceDPoP}})
	if err != nil {
		t.Fatal(err)
	}
	defer tenant.Close()
	free := filepath.Join(dir, "free.yaml")
	editConfig(t, cfg, free, func(target map[string]any) { target["rate_limit"] = map[string]any{"plan": spec.PlanFree} })
	code, stdout, stderr := runCmd(t, "doctor", "--config", free)
	if code != exitFailures || !strings.Contains(stdout, "FAIL  rate limits: x-ratelimit-limit 5 on a read is larger than") ||
		!strings.Contains(stdout, "your plan may be higher") || !strings.Contains(stdout, "rate_limit.plan") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, "doctor", "--config", cfg)
	if code != exitConformant {
		t.Errorf("the written config: exit %d\n%s%s", code, stdout, stderr)
	}
}

// run checks the set-up first: a setting it recognises stops the run INCONCLUSIVE,
// naming it, before any spec; --no-preflight lets the specs fail instead.
func TestRunStopsAtAMisconfigurationBeforeTheSpecs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, stdout, stderr := runCmd(t, "run", "--misconfig", reftenant.MisconfigBotDetection, "--label-filter", "universal && !browser", "--report-dir", dir)
	if code != exitInconclusive || !strings.Contains(stderr, "INCONCLUSIVE") || !strings.Contains(stderr, "Bot Detection") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	// The reports say why nothing was checked, and no spec ran.
	cert, err := report.ReadCertification(filepath.Join(dir, report.CertificationFile))
	if err != nil || cert.Result != report.ProfileInconclusive || !strings.Contains(cert.Undecided, "Bot Detection") || cert.Statistics.Specs.Passed+cert.Statistics.Specs.Failed > 0 {
		t.Errorf("certification of a run the preflight stopped (%v): %+v", err, cert)
	}
	for _, f := range []string{report.HTMLFile, report.MarkdownFile, report.HARFile, junitReport} {
		if data, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !strings.Contains(string(data), "Bot Detection") {
			t.Errorf("%s of a run the preflight stopped does not say why (%v)", f, err)
		}
	}
	code, stdout, stderr = runCmd(t, "run", "--misconfig", reftenant.MisconfigBotDetection, "--no-preflight", "--label-filter", "universal && !browser", "--report-dir", t.TempDir())
	if code != exitFailures || !strings.Contains(stdout+stderr, "CAPTCHA") {
		t.Errorf("--no-preflight: exit %d\n%s%s", code, stdout, stderr)
	}
}

// Against a tenant that does not serve GET /factors, doctor says the method types
// come from the config's methods:, and names the setting when the config gives none.
func TestDoctorSaysWhereTheMethodTypesComeFrom(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, "doctor")
	if code != exitConformant || !strings.Contains(stdout, "ok    the method types the suite tests: from GET /factors") {
		t.Errorf("default reference: exit %d\n%s%s", code, stdout, stderr)
	}
	dir := t.TempDir()
	r := reference{report.ReferenceTenant{Plan: spec.PlanEnterprise, Refusals: referenceRefusals, DPoP: referenceDPoP}}
	r.Behaviour.FactorsUnserved = true
	tenant, cfg, err := startReference(dir, "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	defer tenant.Close()
	code, stdout, stderr = runCmd(t, "doctor", "--config", cfg)
	if code != exitConformant || !strings.Contains(stdout, "ok    the method types the suite tests: from the config's methods:") {
		t.Errorf("the written config: exit %d\n%s%s", code, stdout, stderr)
	}
	bare := filepath.Join(dir, "no-methods.yaml")
	editConfig(t, cfg, bare, func(target map[string]any) { delete(target, "methods") })
	code, stdout, stderr = runCmd(t, "doctor", "--config", bare)
	if code != exitFailures || !strings.Contains(stdout, "FAIL  the method types the suite tests") || !strings.Contains(stdout, "methods:") {
		t.Errorf("no methods: exit %d\n%s%s", code, stdout, stderr)
	}
}
