package framework

import (
	"slices"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/methods"
	. "github.com/onsi/ginkgo/v2"
)

// An is typ with its article ("a totp", "an email").
func An(typ string) string {
	if strings.ContainsRune("aeiou", rune(typ[0])) {
		return "an " + typ
	}
	return "a " + typ
}

// Reqs are the requirement labels of a spec about typ: the generic ones, and for a
// passkey the passkey requirements they stand for.
func Reqs(typ string, ids ...string) Labels {
	out := slices.Clone(ids)
	if typ == methods.Passkey {
		for _, id := range ids {
			out = append(out, passkeyReqs[id]...)
		}
	}
	return Req(out...)
}

// passkeyReqs are the passkey requirements (MA-ENR) each generic one checks for
// the passkey driver.
var passkeyReqs = map[string][]string{
	"MA-MTH-001": {"MA-ENR-001", "MA-ENR-008"},
	"MA-MTH-002": {"MA-ENR-002"},
	"MA-MTH-003": {"MA-ENR-003"},
	"MA-MTH-007": {"MA-ENR-005"},
	"MA-MTH-008": {"MA-ENR-006"},
	"MA-MTH-009": {"MA-ENR-004"},
	"MA-MTH-010": {"MA-ENR-007"},
	"MA-MTH-011": {"MA-ENR-009"},
	"MA-MTH-012": {"MA-ENR-010"},
	"MA-MTH-013": {"MA-ENR-020"},
	"MA-MTH-014": {"MA-ENR-019"},
}

// Req labels a spec with the requirement IDs it checks. Labels make them selectable
// with --label-filter; the report carries them for per-requirement results.
func Req(ids ...string) Labels {
	return Label(ids...)
}
