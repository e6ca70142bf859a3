package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/all"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
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
		procs       = fs.Int("procs", runtime.NumCPU(), "run the specs in this many worker processes (the rate-limit specs run alone, after the others); the limits of the target are shared among them")
		workerInfo  = fs.String("worker-info", "", "internal: the run's record, for a worker process of a parallel run")
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
	if *procs < 1 {
		return exitUsage, usagef("run: --procs must be at least 1")
	}
	worker := *workerInfo != ""
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
	if worker {
		// The parent started the tenant, probed it and checked its set-up.
		if info, err = readInfo(*workerInfo); err != nil {
			return exitUsage, fmt.Errorf("worker: %w", err)
		}
	} else if cfgPath == "" {
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
	if info.ReferenceTenant != nil && !worker && *procs == 1 {
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
	if worker {
		// The workers draw on the tenant's buckets, the login prompts', the signups'
		// and the login user's together, through files in a directory the parent made
		// beside the run's record (each signed-up user's buckets are its worker's).
		fw.Client.Pacer = harness.NewPacer(target.RateLimit.Limits())
		fw.Client.Pacer.ShareBucketsIn(filepath.Join(filepath.Dir(*workerInfo), paceDir))
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(target.Timeouts.Connect)*2+time.Duration(target.Timeouts.Request))
		err = fw.Client.Probe(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "INCONCLUSIVE: %v\n", err)
			return writeUndecided(dir, fw, info, expected, extra, "the target could not be reached: "+err.Error())
		}
	}
	// A reference tenant with faults is defective on purpose: the specs judge it.
	if !worker && !*noPreflight && len(ref.Faults) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var why strings.Builder
		stop := preflight(ctx, fw, io.MultiWriter(os.Stderr, &why))
		cancel()
		if stop {
			return writeUndecided(dir, fw, info, expected, extra, strings.TrimPrefix(why.String(), "INCONCLUSIVE: "))
		}
	}

	if sc, _ := GinkgoConfiguration(); sc.DryRun {
		*procs = 1 // Ginkgo walks the specs of a dry run in one process
	}
	if !worker && *procs > 1 {
		ginkgo := ginkgoArgs(*procs, *labelFilter, *focus, *skip, timeout.String(), *verbose, !isTerminal(os.Stdout))
		// Ginkgo flags given as --ginkgo.NAME go to the workers as the CLI's --NAME.
		fs.Visit(func(f *flag.Flag) {
			if name, ok := strings.CutPrefix(f.Name, "ginkgo."); ok {
				ginkgo = append(ginkgo, "--"+name+"="+f.Value.String())
			}
		})
		code, err := runParallel(dir, cfgPath, info, *procs, ginkgo, specs, *expectedArg, *showSecrets, *verbose)
		if info.ReferenceTenant != nil {
			os.Remove(cfgPath)
		}
		return code, err
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
	if !worker {
		set("ginkgo.timeout", timeout.String())
	}
	if *verbose {
		set("ginkgo.v", "true")
	}
	if !isTerminal(os.Stdout) {
		set("ginkgo.no-color", "true")
	}

	all.Use(fw)
	if !worker {
		// A worker's output reaches the terminal only with its spec's (the parent's
		// Ginkgo prints the progress of a parallel run).
		newProgress(*verbose).register()
	}
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
	if worker {
		// Only the first worker ran ReportAfterSuite: it tells the parent.
		if GinkgoParallelProcess() != 1 {
			return exitConformant, nil
		}
		var b strings.Builder
		if w.err == nil {
			w.summary(&b, &b)
		}
		if w.err != nil {
			w.code = exitUsage
			b.WriteString("writing reports: " + w.err.Error() + "\n")
		}
		return w.code, writeOutcome(dir, workerOutcome{Code: w.code, Summary: b.String()})
	}
	if w.err != nil {
		return exitUsage, fmt.Errorf("writing reports: %w", w.err)
	}
	w.summary(os.Stdout, os.Stderr)
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
		Suite:    report.Suite{Name: "myaccount-conformance", Version: suiteVersion(), Revision: suiteRevision(), Build: suiteBuild(), Documents: report.Documents(w.extra)},
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
func (w *reportWriter) summary(out, errOut io.Writer) {
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
		fmt.Fprintf(errOut, "WARNING: %d spec(s) of SHOULD requirements failed; the target is conformant to every MUST\n", w.result.warnings)
	}
	if w.code == exitInconclusive {
		fmt.Fprintf(errOut, "INCONCLUSIVE: %d spec(s) could not decide (target unreachable or too slow)\n", w.result.inconclusive)
	}
	if t := c.Run.Traffic; t != nil {
		// What the run sent, and how close it came to the least time the target's
		// limits allow for that traffic.
		fmt.Fprintf(out, "traffic: %d My Account requests (%d reads, %d writes, %d filtered reads) by %d users, %d signups, %d login prompts; %d unplanned 429s\n",
			t.MyAccountRequests["read"]+t.MyAccountRequests["write"]+t.MyAccountRequests["filtered_read"], t.MyAccountRequests["read"], t.MyAccountRequests["write"],
			t.MyAccountRequests["filtered_read"], t.RequestingUsers, t.Signups, t.LoginPosts, t.Unplanned429s)
		if t.Floor > 0 {
			fmt.Fprintf(out, "time: %s of specs; the floor under %s is %s (%s): %.2f× the floor\n",
				t.WallTime.Round(100*time.Millisecond), t.Limits, t.Floor.Round(100*time.Millisecond), t.FloorReason, t.WallToFloor)
		} else {
			fmt.Fprintf(out, "time: %s of specs; no limit of %s sets a floor for this traffic\n", t.WallTime.Round(100*time.Millisecond), t.Limits)
		}
		if t.Unplanned429s > 0 {
			fmt.Fprintf(errOut, "WARNING: %d ordinary request(s) drew a 429 (retried): the target's limits are lower than its plan says, or another client shares them; see run.traffic in %s\n", t.Unplanned429s, report.CertificationFile)
		}
		if len(t.Leftovers) > 0 {
			fmt.Fprintf(errOut, "WARNING: the run could not remove %d thing(s) it created; see run.traffic.leftovers in %s\n", len(t.Leftovers), report.CertificationFile)
		}
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

// runParallel runs the specs in procs workers (see parallel.go) and prints the
// outcome the first of them left.
func runParallel(dir, cfgPath string, info report.Run, procs int, ginkgo []string, specs []string, expected string, showSecrets, verbose bool) (int, error) {
	infoPath, err := writeInfo(dir, info)
	if err != nil {
		return exitUsage, err
	}
	defer os.Remove(infoPath)
	if err := os.MkdirAll(filepath.Join(dir, paceDir), 0o700); err != nil {
		return exitUsage, err
	}
	defer os.RemoveAll(filepath.Join(dir, paceDir))
	args := []string{"--config", cfgPath, "--report-dir", dir, "--worker-info", infoPath}
	for _, s := range specs {
		abs, _ := filepath.Abs(s)
		args = append(args, "--spec", abs)
	}
	if expected != "" {
		abs, _ := filepath.Abs(expected)
		args = append(args, "--expected-failures", abs)
	}
	if showSecrets {
		args = append(args, "--show-secrets")
	}
	if verbose {
		args = append(args, "-v")
	}
	out, err := runWorkers(dir, ginkgo, args)
	if err != nil {
		return exitUsage, err
	}
	fmt.Print(out.Summary)
	if out.Code == exitUsage && !strings.Contains(out.Summary, "writing reports") {
		return exitUsage, usagef("no spec matched the filters")
	}
	return out.Code, nil
}

// writeUndecided writes every report for a run that stopped before its specs (the
// target unreachable, the preflight found a wrong setting): a dashboard that reads
// them shows why nothing was checked. The run is INCONCLUSIVE.
func writeUndecided(dir string, fw *harness.Framework, info report.Run, expected map[string]string, extra []spec.ExtraDoc, why string) (int, error) {
	now := time.Now()
	r := types.Report{
		SuitePath: dir, SuiteDescription: "My Account API conformance: " + fw.Target.Name,
		StartTime: info.Started, EndTime: now, RunTime: now.Sub(info.Started),
		SpecialSuiteFailureReasons: []string{verdict.InconclusivePrefix + why},
		SpecReports: types.SpecReports{{
			LeafNodeType: types.NodeTypeIt, LeafNodeText: "the target can be tested (nothing else ran)",
			State: types.SpecStateFailed, StartTime: info.Started, EndTime: now, RunTime: now.Sub(info.Started),
			Failure: types.Failure{Message: verdict.InconclusivePrefix + why},
		}},
	}
	w := &reportWriter{dir: dir, fw: fw, info: info, expected: expected, extra: extra}
	w.write(r)
	if w.err != nil {
		return exitInconclusive, fmt.Errorf("writing reports: %w", w.err)
	}
	fmt.Fprintf(os.Stderr, "reports (INCONCLUSIVE: nothing was checked): %s, %s, %s in %s\n", report.CertificationFile, report.HTMLFile, junitReport, dir)
	return exitInconclusive, nil
}

// suiteBuild is the sha256 of the running binary, or "" when it cannot be read.
func suiteBuild() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(self)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
