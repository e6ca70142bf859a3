package runner

import (
	"flag"
	"reflect"
	"slices"
	"testing"
)

// --as-documented sets every switch to what Auth0 documents; the switches reach the
// tenant and the target config it writes, and the certification's record gives
// replay the same flags back. The run against it is green: `mc run --as-documented`
// (README, "The reference tenant as Auth0 documents it").
func TestAsDocumentedRoundTrip(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var r reference
	r.register(fs)
	if err := fs.Parse([]string{"--as-documented"}); err != nil {
		t.Fatal(err)
	}
	b := r.Behaviour
	if !r.set() || b.PasskeyName != "ignore" || !slices.Equal(b.DPoPAlgs, []string{"ES256"}) || !b.DPoPNoncePublicToken || !b.ConnectCodeInFragment || !b.AccountsLimitUnstated || !b.FactorsUnserved {
		t.Fatalf("parsed %+v", b)
	}
	tn, cfg, err := startReference(t.TempDir(), "127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if !slices.Equal(tn.ProofAlgs(), []string{"ES256"}) || !tn.NonceAtToken(true) || tn.NonceAtToken(false) || tn.NonceAtAPI() {
		t.Errorf("the tenant: algs %v, nonces public %v confidential %v api %v", tn.ProofAlgs(), tn.NonceAtToken(true), tn.NonceAtToken(false), tn.NonceAtAPI())
	}
	target, err := loadTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !target.NonceAtToken(true) || target.NonceAtToken(false) || target.NonceAtAPI() {
		t.Errorf("the target config's dpop_nonce %+v", target.DPoPNonce)
	}
	if tn.FactorsServed() || !slices.Equal(target.Methods, tn.EnabledMethodTypes()) {
		t.Errorf("the tenant serves GET /factors: %v; the target config's methods: %v", tn.FactorsServed(), target.Methods)
	}
	if target.RateLimit.AccountsLimited() {
		t.Errorf("the target config states rate_limit.connected_accounts: %q", target.RateLimit.ConnectedAccounts)
	}
	again := fromRecord(r.record(tn))
	if !reflect.DeepEqual(again.Behaviour, r.Behaviour) {
		t.Errorf("recorded %+v, read back %+v", r.Behaviour, again.Behaviour)
	}
	fs2 := flag.NewFlagSet("replay", flag.ContinueOnError)
	var r2 reference
	r2.register(fs2)
	if err := fs2.Parse(again.args()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r2.Behaviour, r.Behaviour) {
		t.Errorf("args %v start %+v, not %+v", again.args(), r2.Behaviour, r.Behaviour)
	}
}
