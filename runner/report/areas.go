package report

import (
	"slices"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// AreaLabels are the area labels in report order (spec.AreaLabels, the list the
// suite's framework accepts). A label of a spec that is neither one of these, a
// requirement ID, a method type ("type:totp") nor Ginkgo's Serial is an area too,
// shown after them.
var AreaLabels = spec.AreaLabels

// Area names for specs without an area label: the suite's own nodes (a failed
// BeforeSuite) and Its that carry none.
const (
	SuiteArea = "suite"
	NoArea    = "other"
)

// AreaRule says how the reports count a spec that carries several area labels.
const AreaRule = "each spec is counted once, under its first area label (its top-level container's)"

// ginkgoSerial is the label Ginkgo gives a Serial spec: no area.
const ginkgoSerial = "Serial"

// areasOf lists a spec's area labels in the order it carries them.
func areasOf(labels []string) []string {
	var out []string
	for _, l := range labels {
		if verdict.IsReqID(l) || strings.HasPrefix(l, "type:") || l == ginkgoSerial || slices.Contains(out, l) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// Area is the area a spec is counted under: its first area label (see AreaRule).
func (s Spec) Area() string {
	switch {
	case s.Suite:
		return SuiteArea
	case len(s.Areas) == 0:
		return NoArea
	}
	return s.Areas[0]
}

// AreaResult counts the specs of one area by result. Specs the filters left out
// are counted apart (NotSelected), not as skipped.
type AreaResult struct {
	Name         string
	Specs        []Spec // in the order they ran, the left-out ones too
	Passed       int
	Failed       int
	Warnings     int // failed specs of SHOULD/MAY requirements only, among Failed
	Skipped      int
	Inconclusive int
	NotSelected  int
}

// Ran is how many specs of the area ran (or were skipped at run time).
func (a AreaResult) Ran() int { return a.Passed + a.Failed + a.Skipped + a.Inconclusive }

// ByArea groups the specs by area (see AreaRule): the known areas in AreaLabels
// order, then any other in the order met, the suite's own nodes last. Areas with
// no spec are left out.
func (o *Outcome) ByArea() []AreaResult {
	index := map[string]int{}
	var out []AreaResult
	for _, s := range o.Specs {
		name := s.Area()
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, AreaResult{Name: name})
		}
		a := &out[i]
		a.Specs = append(a.Specs, s)
		switch {
		case s.NotRun:
			a.NotSelected++
		case s.Result == Pass:
			a.Passed++
		case s.Result == Fail:
			a.Failed++
			if s.Warning() {
				a.Warnings++
			}
		case s.Result == Inconclusive:
			a.Inconclusive++
		default:
			a.Skipped++
		}
	}
	rank := func(name string) int {
		if i := slices.Index(AreaLabels, name); i >= 0 {
			return i
		}
		switch name {
		case NoArea:
			return len(AreaLabels) + 1
		case SuiteArea:
			return len(AreaLabels) + 2
		}
		return len(AreaLabels)
	}
	slices.SortStableFunc(out, func(a, b AreaResult) int { return rank(a.Name) - rank(b.Name) })
	return out
}

// Failures are the specs that failed or could not decide: failures of MUST
// requirements first, then SHOULD/MAY warnings, then inconclusive ones, each in the
// order they ran.
func (o *Outcome) Failures() []Spec {
	var out []Spec
	for _, s := range o.Specs {
		if s.Result == Fail || s.Result == Inconclusive {
			out = append(out, s)
		}
	}
	rank := func(s Spec) int {
		switch {
		case s.Result == Inconclusive:
			return 2
		case s.Warning():
			return 1
		}
		return 0
	}
	slices.SortStableFunc(out, func(a, b Spec) int { return rank(a) - rank(b) })
	return out
}

// ExpectedReason is the reason the expected-failures file gives for one of the
// requirements of s, if s fails only expected ones (see Excused).
func (o *Outcome) ExpectedReason(s Spec) string {
	expected := map[string]string{}
	for _, e := range o.Certification.ExpectedFailures {
		expected[e.ID] = e.Reason
	}
	if s.Result != Fail || !Excused(s, expected) {
		return ""
	}
	var reasons []string
	for _, id := range s.IDs {
		if r, ok := expected[id]; ok {
			reasons = append(reasons, id+": "+r)
		}
	}
	return strings.Join(reasons, "; ")
}
