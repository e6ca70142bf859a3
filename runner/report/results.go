// Package report turns a Ginkgo report into what people and certifiers read: a
// result per requirement of the catalogue, a result per profile, the certification
// YAML and one self-contained HTML page. JUnit and JSON come from Ginkgo.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// Result is the outcome of a spec or a requirement.
type Result string

// Results, from worst to best as far as a certification goes.
const (
	Fail         Result = "FAIL"
	Inconclusive Result = "INCONCLUSIVE"
	Skip         Result = "SKIP"
	Pass         Result = "PASS"
)

// NotSelected is the skip reason of a spec the filters left out.
const NotSelected = "not selected by --label-filter, --focus or --skip"

// Uncatalogued is the profile of requirement IDs that specs cite but the catalogue lacks.
const Uncatalogued = "uncatalogued"

// NoSpec is the skip reason of a requirement no spec of this suite version checks.
const NoSpec = "no spec of this suite version checks it"

// Spec is one spec's outcome.
type Spec struct {
	Text       string        `json:"text"`                 // full text: containers and leaf
	Containers []string      `json:"containers,omitempty"` // the container texts
	Leaf       string        `json:"leaf"`                 // the It text
	Ordered    bool          `json:"ordered,omitempty"`    // in an Ordered container
	IDs        []string      `json:"ids,omitempty"`
	Areas      []string      `json:"areas,omitempty"` // its area labels (see Area)
	State      string        `json:"state"`           // Ginkgo's: passed, failed, skipped, …
	Result     Result        `json:"result"`
	Reason     string        `json:"reason,omitempty"` // failure message or skip reason
	Location   string        `json:"location,omitempty"`
	Duration   time.Duration `json:"duration,omitempty"`
	Exchanges  string        `json:"-"` // redacted exchanges of a failed spec
	Curl       string        `json:"-"` // curl line repeating its last request
	Records    string        `json:"-"` // its exchanges as JSON records, for report.har
	NotRun     bool          `json:"-"` // left out by the filters
	Suite      bool          `json:"-"` // a suite-level node (BeforeSuite, …), not an It
}

// Warning says whether a failure of this spec is only a warning: every requirement
// it checks is a SHOULD or a MAY.
func (s Spec) Warning() bool { return s.Result == Fail && OnlyRecommended(s.IDs) }

// OnlyRecommended says whether every requirement of ids is a SHOULD or MAY.
func OnlyRecommended(ids []string) bool {
	if len(ids) == 0 {
		return false
	}
	for _, id := range ids {
		if r, ok := spec.RequirementByID(id); !ok || r.Level == "MUST" {
			return false
		}
	}
	return true
}

// Specs lists the outcome of every spec (It) of a report, in the order they ran,
// plus failed suite-level nodes (a failing BeforeSuite fails the run too).
func Specs(r types.Report) []Spec {
	var out []Spec
	for _, s := range r.SpecReports {
		isIt := s.LeafNodeType == types.NodeTypeIt
		if !isIt && !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		o := Spec{
			Text:       s.FullText(),
			Containers: s.ContainerHierarchyTexts,
			Leaf:       s.LeafNodeText,
			Ordered:    s.IsInOrderedContainer,
			IDs:        verdict.ReqIDs(s.Labels()),
			Areas:      areasOf(s.Labels()),
			State:      s.State.String(),
			Location:   location(s.LeafNodeLocation),
			Duration:   s.RunTime,
			Suite:      !isIt,
		}
		if !isIt {
			o.Text = s.LeafNodeType.String()
			if s.LeafNodeText != "" {
				o.Text += " " + s.LeafNodeText
			}
		}
		msg := strings.TrimSpace(s.Failure.Message)
		switch {
		case s.State == types.SpecStatePassed:
			o.Result = Pass
		case s.State.Is(types.SpecStateFailureStates):
			o.Result = Fail
			if verdict.IsInconclusive(msg) {
				o.Result = Inconclusive
			}
			o.Reason = msg
			if o.Reason == "" {
				o.Reason = s.State.String()
			}
			if s.Failure.Location.FileName != "" {
				o.Location = s.Failure.Location.String()
			}
		case s.State == types.SpecStatePending:
			o.Result, o.Reason = Skip, "pending"
		default: // skipped
			o.Result, o.Reason = Skip, msg
			if msg == "" {
				o.Reason, o.NotRun = NotSelected, true
			}
		}
		for _, e := range s.ReportEntries {
			switch e.Name {
			case verdict.Exchanges:
				o.Exchanges = EntryString(e)
			case verdict.Curl:
				o.Curl = EntryString(e)
			case ExchangeRecords:
				o.Records = EntryString(e)
			}
		}
		out = append(out, o)
	}
	return out
}

// location is file:line, or "" for a node without one (the stand-in spec of a run
// that stopped before its specs).
func location(l types.CodeLocation) string {
	if l.FileName == "" {
		return ""
	}
	return l.String()
}

// EntryString is a report entry's value as text, whether the report was built in
// this process or read back from JSON.
func EntryString(e types.ReportEntry) string {
	if s, ok := e.GetRawValue().(string); ok {
		return s
	}
	return e.Value.Representation
}

// Requirement is one requirement of the catalogue and its result in a run.
type Requirement struct {
	spec.Requirement
	Result Result `json:"result"`
	// Reason says why a requirement failed, was skipped or was inconclusive (the
	// first such spec's message).
	Reason string `json:"reason,omitempty"`
	// Warning: a failed SHOULD or MAY, which does not fail the run.
	Warning bool `json:"warning,omitempty"`
	// Specs are the texts of the specs that check it, with their results.
	Specs []SpecRef `json:"specs,omitempty"`
	// NotSelected: every spec of it was left out by the filters.
	NotSelected bool `json:"not_selected,omitempty"`
}

// SpecRef names a spec and its result, within a requirement.
type SpecRef struct {
	Text   string `json:"text"`
	Result Result `json:"result"`
}

// Requirements gives each requirement of the catalogue a result from the specs
// that check it: FAIL if any failed, else INCONCLUSIVE if any could not decide,
// else SKIP if any was skipped (a requirement is passed only when every spec of it
// ran and passed), else PASS. A requirement without any spec is a SKIP.
func Requirements(specs []Spec, catalogue []spec.Requirement) []Requirement {
	byID := map[string][]Spec{}
	for _, s := range specs {
		for _, id := range s.IDs {
			byID[id] = append(byID[id], s)
		}
	}
	// A spec citing an ID the catalogue lacks still counts (a runner test forbids it,
	// but a report must not hide a failure): as a MUST of its own profile.
	known := map[string]bool{}
	for _, c := range catalogue {
		known[c.ID] = true
	}
	var unknown []string
	for id := range byID {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	slices.Sort(unknown)
	catalogue = slices.Clone(catalogue)
	for _, id := range unknown {
		catalogue = append(catalogue, spec.Requirement{ID: id, Level: "MUST", Profile: Uncatalogued,
			Statement: "(not in the requirement catalogue of this suite version)", Source: "-", Section: "-"})
	}
	out := make([]Requirement, 0, len(catalogue))
	for _, c := range catalogue {
		r := Requirement{Requirement: c}
		ss := byID[c.ID]
		if len(ss) == 0 {
			r.Result, r.Reason = Skip, NoSpec
			out = append(out, r)
			continue
		}
		rank := map[Result]int{Fail: 0, Inconclusive: 1, Skip: 2, Pass: 3}
		r.Result = Pass
		notRun := 0
		for _, s := range ss {
			r.Specs = append(r.Specs, SpecRef{Text: s.Text, Result: s.Result})
			if s.NotRun {
				notRun++
			}
			if rank[s.Result] < rank[r.Result] {
				r.Result, r.Reason = s.Result, s.Reason
			}
		}
		if r.Result == Skip {
			r.Reason = skipReason(ss)
		}
		r.NotSelected = notRun == len(ss)
		r.Warning = r.Result == Fail && c.Level != "MUST"
		out = append(out, r)
	}
	return out
}

// skipReason sums up why the specs of a skipped requirement did not all run.
func skipReason(ss []Spec) string {
	var reasons []string
	skipped := 0
	for _, s := range ss {
		if s.Result != Skip {
			continue
		}
		skipped++
		if !slices.Contains(reasons, s.Reason) {
			reasons = append(reasons, s.Reason)
		}
	}
	reason := strings.Join(reasons, "; ")
	if skipped < len(ss) {
		reason = fmt.Sprintf("%d of %d specs skipped: %s", skipped, len(ss), reason)
	}
	return reason
}

// Profile outcomes.
const (
	ProfileSuccess = "success" // every requirement passed (failed SHOULDs are warnings)
	ProfilePartial = "partial" // nothing failed, but something was skipped or inconclusive
	ProfileFailure = "failure" // a MUST requirement failed
	// ProfileInconclusive is the result of a run that stopped before its specs.
	ProfileInconclusive = "inconclusive"
)

// Profile is the result of one profile of the catalogue.
type Profile struct {
	Name   string `json:"name" yaml:"name"`
	Result string `json:"result" yaml:"result"`
	Counts `yaml:",inline"`
}

// Counts are requirement statistics.
type Counts struct {
	Requirements int `json:"requirements" yaml:"requirements"`
	Passed       int `json:"passed" yaml:"passed"`
	Failed       int `json:"failed" yaml:"failed"`
	Warnings     int `json:"warnings" yaml:"warnings"` // failed SHOULD/MAY, included in failed
	Skipped      int `json:"skipped" yaml:"skipped"`
	Inconclusive int `json:"inconclusive" yaml:"inconclusive"`
}

func (c *Counts) add(r Requirement) {
	c.Requirements++
	switch r.Result {
	case Pass:
		c.Passed++
	case Fail:
		c.Failed++
		if r.Warning {
			c.Warnings++
		}
	case Skip:
		c.Skipped++
	case Inconclusive:
		c.Inconclusive++
	}
}

// Result is the outcome of a set of requirements.
func (c Counts) Result() string {
	switch {
	case c.Failed > c.Warnings:
		return ProfileFailure
	case c.Skipped > 0 || c.Inconclusive > 0 || c.Requirements == 0:
		return ProfilePartial
	}
	return ProfileSuccess
}

// Profiles sums requirement results up per profile of the catalogue (core first).
func Profiles(reqs []Requirement) []Profile {
	var names []string
	counts := map[string]*Counts{}
	for _, r := range reqs {
		if counts[r.Profile] == nil {
			names = append(names, r.Profile)
			counts[r.Profile] = &Counts{}
		}
		counts[r.Profile].add(r)
	}
	slices.SortFunc(names, func(a, b string) int {
		// core before extended; any later profile after them, by name
		order := func(s string) string {
			switch s {
			case "core":
				return "0"
			case "extended":
				return "1"
			}
			return "2" + s
		}
		return strings.Compare(order(a), order(b))
	})
	out := make([]Profile, 0, len(names))
	for _, n := range names {
		out = append(out, Profile{Name: n, Result: counts[n].Result(), Counts: *counts[n]})
	}
	return out
}

// LoadJSON reads a Ginkgo JSON report (report.json) and returns its one suite.
func LoadJSON(path string) (types.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return types.Report{}, err
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return types.Report{}, fmt.Errorf("%s: not a Ginkgo JSON report: %w", path, err)
	}
	if len(reports) != 1 {
		return types.Report{}, fmt.Errorf("%s: holds %d suites, want 1", path, len(reports))
	}
	return reports[0], nil
}
