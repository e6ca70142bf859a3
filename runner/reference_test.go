package runner

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
)

// The reference tenant's DPoP flags reach the tenant, the target config it writes,
// the certification's record and the flags replay starts it with again.
func TestReferenceDPoPFlagsRoundTrip(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var r reference
	r.register(fs)
	if err := fs.Parse([]string{"--dpop", "required", "--dpop-nonce"}); err != nil {
		t.Fatal(err)
	}
	if !r.set() || r.DPoP != "required" || !r.DPoPNonce {
		t.Fatalf("parsed %+v", r)
	}
	tn, cfg, err := startReference(t.TempDir(), "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if tn.DPoP() != "required" || !tn.DPoPNonce() {
		t.Errorf("the tenant runs with DPoP %q, nonces %v", tn.DPoP(), tn.DPoPNonce())
	}
	target, err := loadTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if target.DPoP != "required" || !target.NonceAtAPI() || !target.NonceAtToken(true) || !target.NonceAtToken(false) {
		t.Errorf("the target config says dpop %q, dpop_nonce %v", target.DPoP, target.DPoPNonce)
	}
	if target.RateLimit.ConnectedAccounts != "shared" {
		t.Errorf("the target config says rate_limit.connected_accounts %q, not shared (what the reference does)", target.RateLimit.ConnectedAccounts)
	}
	again := fromRecord(r.record(tn))
	if again.DPoP != r.DPoP || again.DPoPNonce != r.DPoPNonce {
		t.Errorf("recorded %+v, read back %+v", r, again)
	}
	if args := again.args(); !slices.Contains(args, "--dpop-nonce") || !slices.Contains(args, "required") {
		t.Errorf("replay flags %v", args)
	}
	var plain reference
	plain.register(flag.NewFlagSet("run", flag.ContinueOnError))
	if plain.set() || slices.Contains(plain.args(), "--dpop-nonce") {
		t.Errorf("the default reference asks for nonces: %v", plain.args())
	}
}

// parseReference is the reference run's flags ask for.
func parseReference(t *testing.T, args ...string) reference {
	t.Helper()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var r reference
	r.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return r
}

// --waive: the default waives nothing, as a real tenant; all waives every group;
// the waivers reach the tenant, the config (as unlimited) and the record, and
// replay starts the same tenant again.
func TestReferenceWaivers(t *testing.T) {
	parse := func(args ...string) reference { return parseReference(t, args...) }
	if r := parse(); r.set() || len(r.Waive) > 0 || slices.Contains(r.args(), "--waive") {
		t.Errorf("default: %v, args %v", r.Waive, r.args())
	}
	if r := parse("--waive", "none"); r.set() || len(r.Waive) != 0 {
		t.Errorf("--waive none: %v, args %v", r.Waive, r.args())
	}
	if r := parse("--waive", "all"); !r.set() || !sameWaivers(r.Waive, reftenant.Waivers()) || !sameWaivers(parse(r.args()...).Waive, r.Waive) {
		t.Errorf("--waive all: %v, args %v", r.Waive, r.args())
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var bad reference
	bad.register(fs)
	if err := fs.Parse([]string{"--waive", "everything"}); err == nil {
		t.Error("--waive everything was taken")
	}
	r := parse("--waive", "management-api", "--waive", "authentication-api")
	tn, cfg, err := startReference(t.TempDir(), "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if !sameWaivers(tn.Waived(), []string{"management-api", "authentication-api"}) {
		t.Errorf("the tenant waives %v", tn.Waived())
	}
	target, err := loadTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := target.RateLimit.Limits()
	if m.LoginPrompts.Unlimited() || m.Signups.Unlimited() || !m.AuthenticationAPI.Unlimited() || !m.ManagementAPI.Unlimited() {
		t.Errorf("the target config's model %+v", m)
	}
	again := fromRecord(r.record(tn))
	if !sameWaivers(again.Waive, r.Waive) || !slices.Contains(again.args(), "authentication-api") {
		t.Errorf("recorded %v, replay args %v", again.Waive, again.args())
	}
	if old := fromRecord(&report.ReferenceTenant{}); !sameWaivers(old.Waive, reftenant.Waivers()) {
		t.Errorf("a record from before waivers: %v", old.Waive)
	}
}

// --sso=false and --latency reach the tenant options, the record and replay's flags.
func TestReferenceSSOFlag(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var r reference
	r.register(fs)
	if r.NoSSO || r.set() {
		t.Fatalf("default %+v", r)
	}
	if err := fs.Parse([]string{"--sso=false", "--latency", "300ms"}); err != nil {
		t.Fatal(err)
	}
	o, err := r.options("127.0.0.1:0")
	if err != nil || !o.NoSSO || o.Latency != 300*time.Millisecond || !r.set() || !slices.Contains(r.args(), "--sso=false") || !slices.Contains(r.args(), "300ms") {
		t.Errorf("--sso=false --latency 300ms: options %v %v %v, args %v", o.NoSSO, o.Latency, err, r.args())
	}
}

func TestRefusedLine(t *testing.T) {
	if got := refusedLine(nil); got != "the reference refused nothing" {
		t.Errorf("nothing: %q", got)
	}
	got := refusedLine(map[string]int{"signups": 2, "login-prompts": 3, "management-api": 0})
	if got != "the reference refused (429): login-prompts 3, signups 2" {
		t.Errorf("%q", got)
	}
}

// --custom-domains 2 serves a second custom domain, lists both under custom_domains
// in the target config, and is recorded for replay.
func TestReferenceCustomDomainsRoundTrip(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var r reference
	r.register(fs)
	if err := fs.Parse([]string{"--custom-domains", "2"}); err != nil {
		t.Fatal(err)
	}
	if !r.set() {
		t.Fatal("--custom-domains 2 is not the default reference")
	}
	tn, cfg, err := startReference(t.TempDir(), "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	target, err := loadTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"login.conformance.test", "login2.conformance.test"}
	if !slices.Equal(target.CustomDomains, want) || target.CustomDomain != want[0] || target.Resolve[want[1]+":443"] != tn.Addr() {
		t.Errorf("the target config says custom_domains %v (primary %q), resolve %v", target.CustomDomains, target.CustomDomain, target.Resolve)
	}
	again := fromRecord(r.record(tn))
	if again.CustomDomains != 2 || !slices.Contains(again.args(), "--custom-domains") {
		t.Errorf("recorded %+v, replay flags %v", again.ReferenceTenant, again.args())
	}
	var plain reference
	plain.register(flag.NewFlagSet("run", flag.ContinueOnError))
	if plain.set() || slices.Contains(plain.args(), "--custom-domains") || plain.record(tn).CustomDomains != 0 {
		t.Errorf("the default reference has several custom domains: %v", plain.args())
	}
	r.CustomDomains = 9
	if _, err := r.options("127.0.0.1:0"); err == nil {
		t.Error("--custom-domains 9 was taken")
	}
}

// Far from the target, with short tokens, the tenant bursts still decide: their
// users are logged in in time (one after another, 30 logins 100 ms away took longer
// than a 7 s token lives, and a correct reference failed on 401s).
func TestBurstsDecideFarAwayWithShortTokens(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCmd(t, "run", "--latency", "100ms", "--token-ttl", "7s", "--label-filter", "MA-RL-002", "--report-dir", t.TempDir())
	if code != exitConformant {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
}
