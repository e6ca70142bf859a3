package framework

import (
	"fmt"
	"slices"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
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

// Req labels a spec with the requirement IDs it checks: the only way a spec gets
// one. Labels make them selectable with --label-filter; the report carries them
// for per-requirement results. An ID the catalogue (spec/requirements.yaml) does
// not hold stops the suite while its tree is built.
func Req(ids ...string) Labels {
	for _, id := range ids {
		if _, ok := spec.RequirementByID(id); !ok {
			panic(fmt.Sprintf("framework.Req: %q is no requirement of spec/requirements.yaml", id))
		}
	}
	return Label(ids...)
}

// areaLabels are the labels that say what a spec is about, besides "type:<method
// type>": the names --label-filter selects areas by, and the report groups by.
var areaLabels = []string{
	"contract", "errors", "method", "enroll", "passkey", "tamper", "tolerance",
	"login", "universal", "browser", "domains", "connected", "dpop", "access", "ratelimit",
	"cors",
}

// Area is a set of area labels, checked while the spec tree is built: each is one
// of areaLabels or "type:<a method type>", never a requirement ID (Req attaches
// those).
type Area Labels

// AreaOf is the area of labels.
func AreaOf(labels ...string) Area {
	for _, l := range labels {
		typ, isType := strings.CutPrefix(l, "type:")
		if !slices.Contains(areaLabels, l) && !(isType && slices.Contains(methods.Types(), typ)) {
			panic(fmt.Sprintf("framework.AreaOf: %q is no area label (%s, or type:<a method type>)", l, strings.Join(areaLabels, ", ")))
		}
	}
	return Area(labels)
}

// Labels are the area's labels, for a container or spec within it.
func (a Area) Labels() Labels { return Labels(a) }

// Describe is Ginkgo's Describe for a top-level container of the area: its specs
// carry the area's labels.
func (a Area) Describe(text string, args ...any) bool {
	return Describe(text, append([]any{a.Labels()}, args...)...)
}
