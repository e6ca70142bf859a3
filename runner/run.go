package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
)

// Report file names in the report dir.
const (
	junitReport = "junit.xml"
	jsonReport  = "report.json"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cmdRun runs the suite once. Ginkgo registers its flags (--ginkgo.*) on the default
// flag set, so run parses that set: every Ginkgo flag works as documented by Ginkgo.
func cmdRun(args []string) (int, error) {
	started := time.Now()
	testing.Init() // Ginkgo's reporters read the testing flags
	fs := flag.CommandLine
	fs.Init("myaccount-conformance run", flag.ContinueOnError)
	var (
		config      = fs.String("config", "", "target config (YAML); without it the embedded reference tenant is started on loopback")
		reportDir   = fs.String("report-dir", "reports", "directory for the reports: certification.yaml, report.html, junit.xml, report.json")
		labelFilter = fs.String("label-filter", "", "run only specs whose labels (areas or requirement IDs) match, e.g. 'enroll && !RS256'")
		focus       = fs.String("focus", "", "run only specs whose text matches this regular expression")
		skip        = fs.String("skip", "", "skip specs whose text matches this regular expression")
		verbose     = fs.Bool("v", false, "verbose: print every spec and the exchanges of failures as they happen")
		showSecrets = fs.Bool("show-secrets", false, "do not redact secrets (client secrets, tokens, codes, auth_session) in reports")
		timeout     = fs.Duration("timeout", 30*time.Minute, "stop the whole run after this long")
		expectedArg = fs.String("expected-failures", "", "YAML file of requirement IDs expected to fail, each with a reason: the run passes while they fail, and fails if one passes or goes untested")
		noPreflight = fs.Bool("no-preflight", false, "skip the quick check of the tenant's set-up (passkey signup and login, one Universal Login) that stops the run INCONCLUSIVE naming a wrong setting")
		specs       multiFlag
		ref         reference
	)
	fs.Var(&specs, "spec", "also validate responses against this OpenAPI document (repeatable); operations it does not describe are left to ours")
	ref.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	if fs.NArg() > 0 {
		return exitUsage, usagef("run: unexpected argument %q", fs.Arg(0))
	}
	if *config != "" && ref.set() {
		return exitUsage, usagef("run: --fault, --misconfig, --plan, --refusals, --prompts, --dpop and --dpop-nonce apply to the embedded reference tenant, not to --config")
	}
	dir, err := filepath.Abs(*reportDir)
	if err != nil {
		return exitUsage, usageError{err}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return exitUsage, usagef("report dir: %v", err)
	}

	// What the certification records about this run: paths, filters and faults,
	// never a secret; `replay` reads it back to run on the same kind of target.
	info := report.Run{Started: started.UTC(), Command: append([]string{"myaccount-conformance", "run"}, args...),
		LabelFilter: *labelFilter, Focus: *focus, Skip: *skip, ShowSecrets: *showSecrets}

	var expected map[string]string
	if *expectedArg != "" {
		if expected, err = loadExpected(*expectedArg); err != nil {
			return exitUsage, err
		}
		info.ExpectedFailures, _ = filepath.Abs(*expectedArg)
	}

	var extra []spec.ExtraDoc
	for _, s := range specs {
		data, err := os.ReadFile(s)
		if err != nil {
			return exitUsage, usagef("--spec: %v", err)
		}
		extra = append(extra, spec.ExtraDoc{Name: filepath.Base(s), Data: data})
		abs, _ := filepath.Abs(s)
		info.Specs = append(info.Specs, abs)
	}

	cfgPath := *config
	if cfgPath == "" {
		t, cfg, err := startReference(dir, "127.0.0.1:0", ref)
		if err != nil {
			return exitUsage, err
		}
		defer t.Close()
		cfgPath = cfg
		info.ReferenceTenant = ref.record(t)
	} else {
		info.Config, _ = filepath.Abs(cfgPath)
	}
	target, err := loadTarget(cfgPath)
	if info.ReferenceTenant != nil {
		// The embedded tenant's config holds its client secret and is useless once this
		// process ends: keep it out of the report dir (its CA stays, for curl lines).
		os.Remove(cfgPath)
	}
	if err != nil {
		return exitUsage, err
	}
	fw, err := harness.NewFramework(target, harness.Options{ExtraSpecs: extra, ShowSecrets: *showSecrets, ReportDir: dir})
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(target.Timeouts.Connect)*2+time.Duration(target.Timeouts.Request))
	err = fw.Client.Probe(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "INCONCLUSIVE: %v\n", err)
		return exitInconclusive, nil
	}
	// A reference tenant with faults is defective on purpose: the specs judge it.
	if !*noPreflight && len(ref.Faults) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		stop := preflight(ctx, fw, os.Stderr)
		cancel()
		if stop {
			return exitInconclusive, nil
		}
	}

	set := func(name, value string) {
		if value != "" {
			if err := fs.Set(name, value); err != nil {
				panic(fmt.Sprintf("ginkgo flag %s: %v", name, err))
			}
		}
	}
	set("ginkgo.label-filter", *labelFilter)
	set("ginkgo.focus", *focus)
	set("ginkgo.skip", *skip)
	set("ginkgo.timeout", timeout.String())
	if *verbose {
		set("ginkgo.v", "true")
	}
	if !isTerminal(os.Stdout) {
		set("ginkgo.no-color", "true")
	}

	suites.Use(fw)
	newProgress(*verbose).register()
	w := &reportWriter{dir: dir, fw: fw, info: info, expected: expected, extra: extra}
	ReportAfterSuite("reports and exit code", w.write)
	// Matchers print what they compare, such as a response body holding a token:
	// failure messages pass through the run's redactor before Ginkgo sees them.
	RegisterFailHandler(func(message string, callerSkip ...int) {
		skip := 0
		if len(callerSkip) > 0 {
			skip = callerSkip[0]
		}
		Fail(fw.Redactor.Text(message), skip+1)
	})
	RunSpecs(failRecorder{}, "My Account API conformance: "+target.Name)
	if w.err != nil {
		return exitUsage, fmt.Errorf("writing reports: %w", w.err)
	}
	w.summary(os.Stdout)
	if w.code == exitUsage {
		return exitUsage, usagef("no spec matched the filters")
	}
	return w.code, nil
}

// reportWriter writes every report once the suite is over and decides the exit code.
type reportWriter struct {
	dir      string
	fw       *harness.Framework
	info     report.Run
	expected map[string]string
	extra    []spec.ExtraDoc

	outcome *report.Outcome
	result  runResult
	code    int
	err     error
}

func (w *reportWriter) write(r Report) {
	// Ginkgo's JSON and JUnit reports are written from the redacted report, so no
	// report file depends on every spec having been careful with secrets.
	r = report.Redact(r, w.fw.Redactor.Text)
	if err := reporters.GenerateJSONReport(r, filepath.Join(w.dir, jsonReport)); err != nil {
		w.err = err
		return
	}
	if err := reporters.GenerateJUnitReport(r, filepath.Join(w.dir, junitReport)); err != nil {
		w.err = err
		return
	}
	catalogue, err := spec.Requirements()
	if err != nil {
		w.err = err
		return
	}
	if r.SuiteConfig.DryRun {
		// Nothing was checked: no certification, which would claim every spec passed.
		w.result = runResult{ran: 1}
		return
	}
	t := w.fw.Target
	w.info.Finished = time.Now().UTC()
	in := report.Input{
		Report:    r,
		Catalogue: catalogue,
		Implementation: report.Implementation{Organization: t.Implementation.Organization, Project: t.Implementation.Project,
			URL: t.Implementation.URL, Version: t.Implementation.Version, Contact: t.Implementation.Contact},
		Target:   report.Target{Name: t.Name, Domain: t.Domain, CustomDomain: t.CustomDomain},
		Suite:    report.Suite{Name: "myaccount-conformance", Version: suiteVersion(), Revision: suiteRevision(), Documents: report.Documents(w.extra)},
		Run:      w.info,
		Expected: w.expected,
	}
	o := report.Build(in)
	w.outcome = o
	w.result = classify(o.Specs, w.expected)
	w.code = exitCode(w.result, o)
	o.Certification.Run.ExitCode = w.code
	if err := o.WriteYAML(w.dir); err != nil {
		w.err = err
		return
	}
	pictures, err := report.Pictures(w.dir, w.info.Started)
	if err != nil {
		w.err = err
		return
	}
	w.err = o.WriteHTML(w.dir, pictures)
}

// exitCode: failures (including a broken expectation) before inconclusive results.
func exitCode(res runResult, o *report.Outcome) int {
	switch {
	case res.ran == 0:
		return exitUsage
	case res.failed > 0 || len(o.Broken()) > 0:
		return exitFailures
	case res.inconclusive > 0:
		return exitInconclusive
	}
	return exitConformant
}

// summary prints the per-requirement outcome and where the reports are.
func (w *reportWriter) summary(out *os.File) {
	o := w.outcome
	if o == nil {
		return
	}
	c := o.Certification
	fmt.Fprintln(out)
	for _, p := range c.Profiles {
		fmt.Fprintf(out, "profile %-9s %-8s %d requirements: %d passed, %d failed, %d skipped, %d inconclusive\n",
			p.Name, p.Result, p.Requirements, p.Passed, p.Failed, p.Skipped, p.Inconclusive)
	}
	for _, r := range o.Requirements {
		if r.Result == report.Fail || r.Result == report.Inconclusive {
			note := ""
			if reason, ok := w.expected[r.ID]; ok {
				note = " (expected: " + reason + ")"
			} else if r.Warning {
				note = " (" + r.Level + ": warning)"
			}
			fmt.Fprintf(out, "  %-12s %s%s: %s\n", r.ID, r.Result, note, r.Statement)
		}
	}
	for _, e := range c.ExpectedFailures {
		mark := "ok"
		if !e.OK {
			mark = "BROKEN"
		}
		fmt.Fprintf(out, "expected failure %-12s %s: %s\n", e.ID, mark, e.Outcome)
	}
	if w.result.excused > 0 {
		fmt.Fprintf(out, "%d failed spec(s) fail only expected requirements\n", w.result.excused)
	}
	if w.result.warnings > 0 {
		fmt.Fprintf(os.Stderr, "WARNING: %d spec(s) of SHOULD requirements failed; the target is conformant to every MUST\n", w.result.warnings)
	}
	if w.code == exitInconclusive {
		fmt.Fprintf(os.Stderr, "INCONCLUSIVE: %d spec(s) could not decide (target unreachable or too slow)\n", w.result.inconclusive)
	}
	fmt.Fprintf(out, "reports: %s, %s (and %s, %s) in %s\n", report.HTMLFile, report.CertificationFile, jsonReport, junitReport, w.dir)
	if w.code == exitFailures {
		fmt.Fprintf(out, "reproduce the failures: myaccount-conformance replay %s\n", filepath.Join(w.dir, jsonReport))
	}
}

// suiteRevision is the VCS revision the binary was built from, if known.
func suiteRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// failRecorder satisfies GinkgoTestingT; the result comes from the report.
type failRecorder struct{}

func (failRecorder) Fail() {}

type runResult struct{ ran, failed, warnings, inconclusive, excused int }

// classify counts real failures apart from specs that could not decide, failures
// of SHOULD/MAY requirements only (warnings) and failures of requirements listed
// as expected to fail (excused).
func classify(specs []report.Spec, expected map[string]string) runResult {
	var res runResult
	for _, s := range specs {
		if s.Suite {
			res.failed++ // a failing BeforeSuite/AfterSuite is a failure too
			continue
		}
		if s.Result == report.Skip {
			continue
		}
		res.ran++
		switch {
		case s.Result == report.Inconclusive:
			res.inconclusive++
		case s.Result != report.Fail:
		case s.Warning():
			res.warnings++
		case report.Excused(s, expected):
			res.excused++
		default:
			res.failed++
		}
	}
	return res
}
