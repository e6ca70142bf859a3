package main

import (
	"flag"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
)

// The reference tenant's switches between behaviours a correct Auth0 tenant may
// have (reftenant.Behaviour), as run flags: the suite is green with each.

// behaviourFlags adds the switches of b to fs.
func behaviourFlags(fs *flag.FlagSet, b *report.ReferenceBehaviour) {
	fs.StringVar(&b.PasskeyName, "passkey-name", "", "what the embedded reference tenant does with a PATCH naming a passkey, which has no name: "+strings.Join(reftenant.PasskeyNameBehaviours(), " (the default) or ")+" (200, nothing changed)")
}

// behaviourArgs are the run flags that set b.
func behaviourArgs(b report.ReferenceBehaviour) []string {
	var out []string
	if b.PasskeyName != "" {
		out = append(out, "--passkey-name", b.PasskeyName)
	}
	return out
}

// behaviourSet says b is not the defaults.
func behaviourSet(b report.ReferenceBehaviour) bool { return b != (report.ReferenceBehaviour{}) }

// behaviourOptions are the reftenant switches b names.
func behaviourOptions(b report.ReferenceBehaviour) reftenant.Behaviour {
	return reftenant.Behaviour{PasskeyName: b.PasskeyName}
}
