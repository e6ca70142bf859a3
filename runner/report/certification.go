package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// File names in the report dir.
const (
	CertificationFile = "certification.yaml"
	HTMLFile          = "report.html"
)

// Format names the certification file's layout; a reader checks it before trusting
// the fields.
const Format = "myaccount-conformance/certification/v1"

// Certification is the machine-readable statement of what was tested, on what, and
// with which result. It holds no secret: no client secret, token or resolve address.
type Certification struct {
	Format string    `yaml:"format"`
	Date   time.Time `yaml:"date"`
	Result string    `yaml:"result"` // the worst profile result, or inconclusive
	// Undecided says why nothing was checked, for a run that stopped before its
	// specs (the target unreachable, a wrong setting found by the preflight).
	Undecided      string         `yaml:"undecided,omitempty"`
	Implementation Implementation `yaml:"implementation"`
	Target         Target         `yaml:"target"`
	Suite          Suite          `yaml:"suite"`
	Run            Run            `yaml:"run"`
	Profiles       []Profile      `yaml:"profiles"`
	Statistics     Statistics     `yaml:"statistics"`
	// Failed, Inconclusive and Skipped list the requirements that did not pass.
	Failed           []ReqLine         `yaml:"failed"`
	Inconclusive     []ReqLine         `yaml:"inconclusive,omitempty"`
	Skipped          []ReqLine         `yaml:"skipped"`
	ExpectedFailures []ExpectedOutcome `yaml:"expected_failures,omitempty"`
	Requirements     []ReqResult       `yaml:"requirements"`
}

// Implementation is what was tested, from the target config.
type Implementation struct {
	Organization string `yaml:"organization,omitempty"`
	Project      string `yaml:"project,omitempty"`
	URL          string `yaml:"url,omitempty"`
	Version      string `yaml:"version,omitempty"`
	Contact      string `yaml:"contact,omitempty"`
}

// Target is where it ran: names only.
type Target struct {
	Name         string `yaml:"name,omitempty"`
	Domain       string `yaml:"domain"`
	CustomDomain string `yaml:"custom_domain,omitempty"`
	// CustomDomains lists every custom domain when there are several.
	CustomDomains []string `yaml:"custom_domains,omitempty"`
}

// Suite is what checked it.
type Suite struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	// Build is the sha256 of the binary that ran, which tells builds of one
	// revision with local changes apart.
	Build     string     `yaml:"build,omitempty"`
	Revision  string     `yaml:"revision,omitempty"` // VCS revision of the build, "+dirty" if modified
	Documents []Document `yaml:"documents"`
}

// Document is an OpenAPI document responses were validated against.
type Document struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
	Extra  bool   `yaml:"extra,omitempty"` // given with --spec
}

// Documents lists our embedded documents and the --spec ones with their SHA-256.
func Documents(extra []spec.ExtraDoc) []Document {
	var out []Document
	for _, d := range spec.Documents() {
		out = append(out, Document{Name: d.File, SHA256: d.SHA256()})
	}
	for _, d := range extra {
		sum := sha256.Sum256(d.Data)
		out = append(out, Document{Name: d.Name, SHA256: hex.EncodeToString(sum[:]), Extra: true})
	}
	return out
}

// Run is how the suite was run: enough for `replay` to run it again on the same
// kind of target, and never a secret (a config is named by its path only).
type Run struct {
	Started  time.Time `yaml:"started"`
	Finished time.Time `yaml:"finished"`
	Command  []string  `yaml:"command"`
	// Config is the absolute path of --config; empty for the embedded reference tenant.
	Config string `yaml:"config,omitempty"`
	// ReferenceTenant is set when the run started the embedded reference tenant.
	ReferenceTenant *ReferenceTenant `yaml:"reference_tenant,omitempty"`
	LabelFilter     string           `yaml:"label_filter,omitempty"`
	Focus           string           `yaml:"focus,omitempty"`
	Skip            string           `yaml:"skip,omitempty"`
	Specs           []string         `yaml:"specs,omitempty"` // absolute paths of --spec
	// ExpectedFailures is the absolute path of --expected-failures.
	ExpectedFailures string `yaml:"expected_failures,omitempty"`
	ShowSecrets      bool   `yaml:"show_secrets,omitempty"`
	ExitCode         int    `yaml:"exit_code"`
	// Traffic is what the run sent and how it was paced, merged over its processes;
	// Build fills it from the report's traffic and users entries (absent when the
	// suite attached none, e.g. a BeforeSuite that failed before any request).
	Traffic *TrafficSummary `yaml:"traffic,omitempty"`
}

// ReferenceTenant describes the embedded reference tenant a run started: its faults
// and misconfigurations, and the settings of its flags (run, serve, doctor and
// selftest set it from them; replay starts the same tenant again from it). The
// runner keeps its flags in this very type, so a new setting is added here once.
type ReferenceTenant struct {
	Faults    []string `yaml:"faults"`
	Misconfig []string `yaml:"misconfig,omitempty"`
	Plan      string   `yaml:"plan,omitempty"`
	Refusals  string   `yaml:"refusals,omitempty"`
	Prompts   bool     `yaml:"prompts"`
	DPoP      string   `yaml:"dpop,omitempty"`
	// Methods are the method types it enabled (empty: all).
	Methods             []string `yaml:"methods,omitempty"`
	NoConnectedAccounts bool     `yaml:"no_connected_accounts,omitempty"`
	DPoPNonce           bool     `yaml:"dpop_nonce,omitempty"`
	// TokenTTL and SessionTTL are its My Account tokens' and WebAuthn ceremonies'
	// lifetimes (zero in certifications from before they were recorded).
	TokenTTL   time.Duration `yaml:"token_ttl,omitempty"`
	SessionTTL time.Duration `yaml:"session_ttl,omitempty"`
	// Waive are the groups of limits it did not enforce (login-prompts, signups,
	// authentication-api, management-api); [] when it enforced every one. Absent
	// (nil) in certifications from before it enforced them: those waived all.
	Waive []string `yaml:"waive"`
	// NoSSO: it kept no SSO session (--sso=false).
	NoSSO bool `yaml:"no_sso,omitempty"`
	// Latency is the delay it added to every answer (--latency).
	Latency time.Duration `yaml:"latency,omitempty"`
	// CustomDomains is how many custom domains it served (zero: one).
	CustomDomains int `yaml:"custom_domains,omitempty"`
	// Behaviour are its switches between behaviours the vendor leaves open.
	Behaviour ReferenceBehaviour `yaml:"behaviour,omitempty"`
}

// ReferenceBehaviour are the reference tenant's switches between behaviours a
// correct Auth0 tenant may have (reftenant.Behaviour); the zero value is the
// reference's defaults.
type ReferenceBehaviour struct {
	// PasskeyName is what a PATCH with a name does to a passkey: refuse or ignore.
	PasskeyName string `yaml:"passkey_name,omitempty"`
	// DPoPAlgs are the only proof algorithms it accepts (empty: its four).
	DPoPAlgs []string `yaml:"dpop_algs,omitempty"`
	// DPoPNoncePublicToken: nonces demanded of public clients at the token endpoint only.
	DPoPNoncePublicToken bool `yaml:"dpop_nonce_public_token,omitempty"`
	// ConnectCodeInFragment: connect_code comes back in the redirect's fragment.
	ConnectCodeInFragment bool `yaml:"connect_code_in_fragment,omitempty"`
	// AccountsLimitUnstated: the config it wrote does not say how connected
	// accounts are rate-limited.
	AccountsLimitUnstated bool `yaml:"accounts_limit_unstated,omitempty"`
	// FactorsUnserved: it did not serve GET /factors (the config it wrote gave methods:).
	FactorsUnserved bool `yaml:"factors_unserved,omitempty"`
	// ExcludeOnlyWhenAsked: excludeCredentials only for use_exclude_credentials: true.
	ExcludeOnlyWhenAsked bool `yaml:"exclude_only_when_asked,omitempty"`
}

// Statistics counts requirements and specs.
type Statistics struct {
	Requirements Counts     `yaml:"requirements"`
	Specs        SpecCounts `yaml:"specs"`
}

// SpecCounts counts specs (Its) by outcome.
type SpecCounts struct {
	Total        int `yaml:"total"`
	Ran          int `yaml:"ran"`
	Passed       int `yaml:"passed"`
	Failed       int `yaml:"failed"`
	Warnings     int `yaml:"warnings"` // failed specs of SHOULD/MAY requirements only
	Inconclusive int `yaml:"inconclusive"`
	Skipped      int `yaml:"skipped"`      // skipped at run time, with a reason
	NotSelected  int `yaml:"not_selected"` // left out by the filters
}

// ReqLine is a requirement that did not pass.
type ReqLine struct {
	ID        string `yaml:"id"`
	Level     string `yaml:"level"`
	Profile   string `yaml:"profile"`
	Statement string `yaml:"statement"`
	Reason    string `yaml:"reason"`
	Warning   bool   `yaml:"warning,omitempty"`
	// Expected is the reason from the expected-failures file, if listed there.
	Expected string `yaml:"expected,omitempty"`
}

// ReqResult is one line of the full table.
type ReqResult struct {
	ID      string `yaml:"id"`
	Level   string `yaml:"level"`
	Profile string `yaml:"profile"`
	Result  Result `yaml:"result"`
}

// ExpectedOutcome is what became of one entry of the expected-failures file.
type ExpectedOutcome struct {
	ID      string `yaml:"id"`
	Reason  string `yaml:"reason"`
	Outcome string `yaml:"outcome"` // see the Expected… constants
	OK      bool   `yaml:"ok"`      // false fails the run
}

// Outcomes of an expected failure.
const (
	ExpectedFailed      = "failed as expected"
	ExpectedPassed      = "passed unexpectedly"
	ExpectedUntested    = "untested"
	ExpectedNotSelected = "not selected by the filters"
)

// Input is everything a report is built from.
type Input struct {
	Report         types.Report
	Catalogue      []spec.Requirement
	Implementation Implementation
	Target         Target
	Suite          Suite
	Run            Run
	Expected       map[string]string // requirement ID → reason
}

// Outcome is a built report: the certification and the detail the HTML shows.
type Outcome struct {
	Certification Certification
	Requirements  []Requirement
	Specs         []Spec
}

// Build computes per-requirement and per-profile results. Expected failures are
// judged here: a listed requirement must fail; passing, or being skipped or
// inconclusive while selected, breaks the expectation. One left out by the filters
// is reported but breaks nothing, so that replaying a few requirements works.
func Build(in Input) *Outcome {
	specs := Specs(in.Report)
	reqs := Requirements(specs, in.Catalogue)
	c := Certification{
		Format:         Format,
		Date:           in.Run.Finished.UTC(),
		Implementation: in.Implementation,
		Target:         in.Target,
		Suite:          in.Suite,
		Run:            in.Run,
		Profiles:       Profiles(reqs),
		Failed:         []ReqLine{},
		Skipped:        []ReqLine{},
	}
	if c.Date.IsZero() {
		c.Date = in.Report.EndTime.UTC()
	}
	for _, why := range in.Report.SpecialSuiteFailureReasons {
		if verdict.IsInconclusive(why) {
			c.Undecided = strings.TrimPrefix(why, verdict.InconclusivePrefix)
		}
	}
	if rt, ok := CollectTraffic(in.Report); ok {
		c.Run.Traffic = rt.Summary(wallTime(in.Report, in.Run))
	}
	for _, s := range specs {
		if s.Suite {
			continue
		}
		c.Statistics.Specs.Total++
		switch {
		case s.NotRun:
			c.Statistics.Specs.NotSelected++
			continue
		case s.Result == Pass:
			c.Statistics.Specs.Passed++
		case s.Result == Fail:
			c.Statistics.Specs.Failed++
			if s.Warning() {
				c.Statistics.Specs.Warnings++
			}
		case s.Result == Inconclusive:
			c.Statistics.Specs.Inconclusive++
		case s.Result == Skip:
			c.Statistics.Specs.Skipped++
			continue
		}
		c.Statistics.Specs.Ran++
	}
	for _, r := range reqs {
		c.Statistics.Requirements.add(r)
		c.Requirements = append(c.Requirements, ReqResult{ID: r.ID, Level: r.Level, Profile: r.Profile, Result: r.Result})
		line := ReqLine{ID: r.ID, Level: r.Level, Profile: r.Profile, Statement: r.Statement, Reason: short(r.Reason), Warning: r.Warning, Expected: in.Expected[r.ID]}
		switch r.Result {
		case Fail:
			c.Failed = append(c.Failed, line)
		case Inconclusive:
			c.Inconclusive = append(c.Inconclusive, line)
		case Skip:
			c.Skipped = append(c.Skipped, line)
		}
	}
	c.Result = ProfileSuccess
	rank := map[string]int{ProfileFailure: 0, ProfilePartial: 1, ProfileSuccess: 2}
	for _, p := range c.Profiles {
		if rank[p.Result] < rank[c.Result] {
			c.Result = p.Result
		}
	}
	if c.Undecided != "" {
		c.Result = ProfileInconclusive
	}
	c.ExpectedFailures = judgeExpected(reqs, in.Expected)
	return &Outcome{Certification: c, Requirements: reqs, Specs: specs}
}

func judgeExpected(reqs []Requirement, expected map[string]string) []ExpectedOutcome {
	var out []ExpectedOutcome
	for _, r := range reqs {
		reason, ok := expected[r.ID]
		if !ok {
			continue
		}
		e := ExpectedOutcome{ID: r.ID, Reason: reason}
		switch {
		case r.Result == Fail:
			e.Outcome, e.OK = ExpectedFailed, true
		case r.Result == Pass:
			e.Outcome = ExpectedPassed
		case r.NotSelected:
			e.Outcome, e.OK = ExpectedNotSelected, true
		default:
			e.Outcome = ExpectedUntested + " (" + string(r.Result) + ": " + short(r.Reason) + ")"
		}
		out = append(out, e)
	}
	return out
}

// Broken lists the expected failures whose expectation did not hold.
func (o *Outcome) Broken() []ExpectedOutcome {
	var out []ExpectedOutcome
	for _, e := range o.Certification.ExpectedFailures {
		if !e.OK {
			out = append(out, e)
		}
	}
	return out
}

// Excused says whether a failed spec failed only requirements that are expected to
// fail (its SHOULD/MAY requirements aside, which only warn anyway).
func Excused(s Spec, expected map[string]string) bool {
	listed := false
	for _, id := range s.IDs {
		if _, ok := expected[id]; ok {
			listed = true
			continue
		}
		if r, ok := spec.RequirementByID(id); !ok || r.Level == "MUST" {
			return false
		}
	}
	return listed
}

// WriteYAML writes the certification into dir.
func (o *Outcome) WriteYAML(dir string) error {
	var b bytes.Buffer
	b.WriteString("# myaccount-conformance certification report: what was tested, on what, with which result.\n")
	b.WriteString("# It holds no secret. report.json and junit.xml beside it hold every spec's detail.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(o.Certification); err != nil {
		return fmt.Errorf("certification: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, CertificationFile), b.Bytes(), 0o644)
}

// ReadCertification reads a certification file.
func ReadCertification(path string) (*Certification, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Certification
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Format != Format {
		return nil, fmt.Errorf("%s: format %q, want %q", path, c.Format, Format)
	}
	return &c, nil
}

// short keeps a reason readable in a summary; the HTML and report.json have it whole.
func short(s string) string {
	const max = 600
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " …"
}
