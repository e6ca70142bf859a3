package main

import (
	"flag"
	"slices"
	"testing"
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
