package runner

import (
	"cmp"
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

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/all"
	"github.com/myaccount-conformance/myaccount-conformance/suites/framework"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
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

// runOptions are run's flags. Ginkgo registers its own (--ginkgo.*) on the same
// flag set, which run sets from these and forwards to the workers of a parallel run.
type runOptions struct {
	fs          *flag.FlagSet
	config      string
	reportDir   string
	labelFilter string
	focus       string
	skip        string
	verbose     bool
	showSecrets bool
	timeout     time.Duration
	expectedArg string
	noPreflight bool
	procs       int
	har         string
	workerInfo  string
	specs       multiFlag
	ref         reference
}

// runState is what the phases of a run hand on to each other.
type runState struct {
	*runOptions
	worker   bool   // a worker process of a parallel run
	dir      string // the absolute report dir
	info     report.Run
	expected map[string]string
	extra    []spec.ExtraDoc
	cfgPath  string
	tenant   *reftenant.Tenant // the embedded reference tenant, if this process started it
	target   *config.Target
	fw       *harness.Framework
}

// cmdRun runs the suite once, in phases: flags, the run's record, the target (a
// config file, or the embedded reference tenant on loopback), the preflight, the
// specs (in this process, or in worker processes), then the reports and exit code.
// Ginkgo registers its flags (--ginkgo.*) on the default flag set, so run parses
// that set: every Ginkgo flag works as documented by Ginkgo.
func cmdRun(args []string) (int, error) {
	started := time.Now()
	o, err := parseRunFlags(args)
	if o == nil || err != nil {
		return exitCodeOf(err), err
	}
	r, err := newRunState(o, args, started)
	if err != nil {
		return exitUsage, err
	}
	defer r.close()
	if err := r.openTarget(); err != nil {
		return exitUsage, err
	}
	if stop, code, err := r.preflight(); stop {
		return code, err
	}
	if sc, _ := GinkgoConfiguration(); sc.DryRun {
		r.procs = 1 // Ginkgo walks the specs of a dry run in one process
	}
	var code int
	if !r.worker && r.procs > 1 {
		code, err = r.runWorkers()
	} else {
		code, err = r.exit(r.runInProcess())
	}
	if r.tenant != nil && err == nil {
		fmt.Println(seenLine(r.tenant.Seen()))
		fmt.Println(refusedLine(r.tenant.Refused()))
	}
	return code, err
}

// exitCodeOf is the exit code of an error of the flags phase: none is a success
// (--help), any other a usage error.
func exitCodeOf(err error) int {
	if err == nil {
		return exitConformant
	}
	return exitUsage
}

// parseRunFlags parses run's command line. It returns nil options and no error
// for --help.
func parseRunFlags(args []string) (*runOptions, error) {
	testing.Init() // Ginkgo's reporters read the testing flags
	fs := flag.CommandLine
	fs.Init("myaccount-conformance run", flag.ContinueOnError)
	o := &runOptions{fs: fs}
	fs.StringVar(&o.config, "config", "", "target config (YAML); without it the embedded reference tenant is started on loopback")
	fs.StringVar(&o.reportDir, "report-dir", "reports", "directory for the reports: certification.yaml, report.html, report.md, report.har, junit.xml, report.json")
	fs.StringVar(&o.labelFilter, "label-filter", "", "run only specs whose labels (areas or requirement IDs) match, e.g. 'enroll && !RS256'")
	fs.StringVar(&o.focus, "focus", "", "run only specs whose text matches this regular expression")
	fs.StringVar(&o.skip, "skip", "", "skip specs whose text matches this regular expression")
	fs.BoolVar(&o.verbose, "v", false, "verbose: print every spec and the exchanges of failures as they happen")
	fs.BoolVar(&o.showSecrets, "show-secrets", false, "do not redact secrets (client secrets, tokens, codes, auth_session) in reports")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "stop the whole run after this long")
	fs.StringVar(&o.expectedArg, "expected-failures", "", "YAML file of requirement IDs expected to fail, each with a reason: the run passes while they fail, and fails if one passes or goes untested")
	fs.BoolVar(&o.noPreflight, "no-preflight", false, "skip the quick check of the tenant's set-up (passkey signup and login, one Universal Login) that stops the run INCONCLUSIVE naming a wrong setting")
	fs.IntVar(&o.procs, "procs", runtime.NumCPU(), "run the specs in this many worker processes (the rate-limit specs run alone, after the others); the limits of the target are shared among them")
	fs.StringVar(&o.workerInfo, "worker-info", "", "internal: the run's record, for a worker process of a parallel run")
	fs.StringVar(&o.har, "har", report.HARFailed, "which specs' redacted exchanges report.har holds: failed (the failed and inconclusive ones) or all")
	fs.Var(&o.specs, "spec", "also validate responses against this OpenAPI document (repeatable); operations it does not describe are left to ours")
	o.ref.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("run: unexpected argument %q", fs.Arg(0))
	case o.procs < 1:
		return nil, usagef("run: --procs must be at least 1")
	case o.har != report.HARFailed && o.har != report.HARAll:
		return nil, usagef("run: --har is %q or %q, not %q", report.HARFailed, report.HARAll, o.har)
	case o.config != "" && o.ref.set():
		return nil, usagef("run: --fault, --misconfig, --plan, --refusals, --prompts, --dpop and --dpop-nonce apply to the embedded reference tenant, not to --config")
	}
	return o, nil
}

// newRunState makes the report dir and the run's record: what the certification
// records about this run (paths, filters and faults, never a secret; `replay` reads
// it back to run on the same kind of target), the expected failures and the extra
// OpenAPI documents.
func newRunState(o *runOptions, args []string, started time.Time) (*runState, error) {
	r := &runState{runOptions: o, worker: o.workerInfo != ""}
	dir, err := filepath.Abs(o.reportDir)
	if err != nil {
		return nil, usageError{err}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, usagef("report dir: %v", err)
	}
	r.dir = dir
	r.info = report.Run{Started: started.UTC(), Command: append([]string{"myaccount-conformance", "run"}, args...),
		LabelFilter: o.labelFilter, Focus: o.focus, Skip: o.skip, ShowSecrets: o.showSecrets}
	if o.expectedArg != "" {
		if r.expected, err = loadExpected(o.expectedArg); err != nil {
			return nil, err
		}
		r.info.ExpectedFailures, _ = filepath.Abs(o.expectedArg)
	}
	for _, s := range o.specs {
		data, err := os.ReadFile(s)
		if err != nil {
			return nil, usagef("--spec: %v", err)
		}
		r.extra = append(r.extra, spec.ExtraDoc{Name: filepath.Base(s), Data: data})
		abs, _ := filepath.Abs(s)
		r.info.Specs = append(r.info.Specs, abs)
	}
	return r, nil
}

// close stops the embedded reference tenant, if this process started it.
func (r *runState) close() {
	if r.tenant != nil {
		r.tenant.Close()
	}
}

// openTarget finds the target: the config file of --config, the embedded reference
// tenant started now, or, in a worker, the parent's (which the parent started,
// probed and checked), and makes the framework the specs use.
func (r *runState) openTarget() error {
	r.cfgPath = r.config
	if r.worker {
		info, err := readInfo(r.workerInfo)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		r.info = info
	} else if r.cfgPath == "" {
		t, cfg, err := startReference(r.dir, "127.0.0.1:0", r.ref)
		if err != nil {
			return err
		}
		r.tenant, r.cfgPath = t, cfg
		r.info.ReferenceTenant = r.ref.record(t)
	} else {
		r.info.Config, _ = filepath.Abs(r.cfgPath)
	}
	target, err := loadTarget(r.cfgPath)
	if r.info.ReferenceTenant != nil && !r.worker && r.procs == 1 {
		// The embedded tenant's config holds its client secret and is useless once this
		// process ends: keep it out of the report dir (its CA stays, for curl lines).
		os.Remove(r.cfgPath)
	}
	if err != nil {
		return err
	}
	r.target = target
	r.fw, err = harness.NewFramework(target, harness.Options{ExtraSpecs: r.extra, ShowSecrets: r.showSecrets, ReportDir: r.dir})
	if err != nil {
		return usagef("%v", err)
	}
	return nil
}

// preflight probes the target and checks its set-up (a worker instead joins the
// parent's pacing). stop says the run ends here, INCONCLUSIVE, with code and err.
func (r *runState) preflight() (stop bool, code int, err error) {
	if r.worker {
		// The workers draw on the tenant's buckets, the login prompts', the signups'
		// and the login user's together, through files in a directory the parent made
		// beside the run's record (each signed-up user's buckets are its worker's).
		r.fw.Client.Pacer = pace.NewPacer(r.target.RateLimit.Limits())
		r.fw.Client.Pacer.ShareBucketsIn(filepath.Join(filepath.Dir(r.workerInfo), paceDir))
		return false, 0, nil
	}
	if r.procs > 1 {
		// Every request of the run draws on the buckets the workers will share, the
		// preflight's too (its login and signup come first, and its login's session
		// is the one the workers log in with).
		shared := filepath.Join(r.dir, paceDir)
		if err := os.RemoveAll(shared); err != nil {
			return true, exitUsage, err
		}
		if err := os.MkdirAll(shared, 0o700); err != nil {
			return true, exitUsage, err
		}
		r.fw.Client.Pacer.ShareBucketsIn(shared)
	}
	timeouts := r.target.Timeouts
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeouts.Connect)*2+time.Duration(timeouts.Request))
	err = r.fw.Client.Probe(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "INCONCLUSIVE: %v\n", err)
		code, err = writeUndecided(r.dir, r.fw, r.info, r.expected, r.extra, "the target could not be reached: "+err.Error())
		return true, code, err
	}
	// A reference tenant with faults is defective on purpose: the specs judge it.
	if r.noPreflight || len(r.ref.Faults) > 0 {
		return false, 0, nil
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	var why strings.Builder
	stopped := preflight(ctx, r.fw, io.MultiWriter(os.Stderr, &why))
	cancel()
	if !stopped {
		return false, 0, nil
	}
	code, err = writeUndecided(r.dir, r.fw, r.info, r.expected, r.extra, strings.TrimPrefix(why.String(), "INCONCLUSIVE: "))
	return true, code, err
}

// runWorkers runs the specs in worker processes (see parallel.go).
func (r *runState) runWorkers() (int, error) {
	// What this process sent (the probe, the preflight) is part of the run's traffic.
	if dir := r.fw.Client.Pacer.SharedDir(); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, pace.ParentTrafficFile), r.fw.Client.Pacer.Entry(), 0o600); err != nil {
			return exitUsage, err
		}
	}
	ginkgo := ginkgoArgs(r.procs, r.labelFilter, r.focus, r.skip, r.timeout.String(), r.verbose, !isTerminal(os.Stdout))
	// Ginkgo flags given as --ginkgo.NAME go to the workers as the CLI's --NAME.
	r.fs.Visit(func(f *flag.Flag) {
		if name, ok := strings.CutPrefix(f.Name, "ginkgo."); ok {
			ginkgo = append(ginkgo, "--"+name+"="+f.Value.String())
		}
	})
	code, err := runParallel(r.dir, r.cfgPath, r.info, ginkgo, r.runOptions)
	if r.info.ReferenceTenant != nil {
		os.Remove(r.cfgPath)
	}
	return code, err
}

// runInProcess runs the specs in this process; its reportWriter writes the reports
// once the suite is over (in a worker, only the first worker's does).
func (r *runState) runInProcess() *reportWriter {
	set := func(name, value string) {
		if value != "" {
			if err := r.fs.Set(name, value); err != nil {
				panic(fmt.Sprintf("ginkgo flag %s: %v", name, err))
			}
		}
	}
	set("ginkgo.label-filter", r.labelFilter)
	set("ginkgo.focus", r.focus)
	set("ginkgo.skip", r.skip)
	if !r.worker {
		set("ginkgo.timeout", r.timeout.String())
	}
	if r.verbose {
		set("ginkgo.v", "true")
	}
	if !isTerminal(os.Stdout) {
		set("ginkgo.no-color", "true")
	}

	all.Use(r.fw)
	if !r.worker {
		// A worker's output reaches the terminal only with its spec's (the parent's
		// Ginkgo prints the progress of a parallel run).
		newProgress(r.verbose).register()
	}
	framework.AllExchanges = r.har == report.HARAll
	w := &reportWriter{dir: r.dir, fw: r.fw, info: r.info, expected: r.expected, extra: r.extra, har: r.har}
	ReportAfterSuite("reports and exit code", w.write)
	// Matchers print what they compare, such as a response body holding a token:
	// failure messages pass through the run's redactor before Ginkgo sees them.
	fw := r.fw
	RegisterFailHandler(func(message string, callerSkip ...int) {
		skip := 0
		if len(callerSkip) > 0 {
			skip = callerSkip[0]
		}
		Fail(fw.Redactor.Text(message), skip+1)
	})
	RunSpecs(failRecorder{}, "My Account API conformance: "+r.target.Name)
	return w
}

// exit prints the summary of an in-process run and gives its exit code; a worker
// leaves both to the parent instead.
func (r *runState) exit(w *reportWriter) (int, error) {
	if r.worker {
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
		return w.code, writeOutcome(r.dir, workerOutcome{Code: w.code, Summary: b.String()})
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
	har      string // which specs' exchanges report.har holds (run --har)

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
		Target:   reportTarget(t),
		Suite:    report.Suite{Name: "myaccount-conformance", Version: suiteVersion(), Revision: suiteRevision(), Build: suiteBuild(), Documents: report.Documents(w.extra)},
		Run:      w.info,
		Expected: w.expected,
	}
	o := report.Build(in)
	w.judge(o)
	if err := o.WriteYAML(w.dir); err != nil {
		w.err = err
		return
	}
	if err := report.DrawTimelines(w.dir, r); err != nil {
		w.err = err
		return
	}
	pictures, err := report.Pictures(w.dir, w.info.Started)
	if err != nil {
		w.err = err
		return
	}
	if err := o.WriteHTML(w.dir, pictures); err != nil {
		w.err = err
		return
	}
	if err := o.WriteMarkdown(w.dir); err != nil {
		w.err = err
		return
	}
	w.err = o.WriteHAR(w.dir, w.har)
}

// judge counts the outcome's specs and decides the exit code, which the
// certification records.
func (w *reportWriter) judge(o *report.Outcome) {
	w.outcome = o
	w.result = classify(o.Specs, w.expected)
	w.code = exitCode(w.result, o)
	o.Certification.Run.ExitCode = w.code
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
		fmt.Fprintf(out, "traffic: %d My Account requests (%d reads, %d writes, %d filtered reads) by %d users, %d signups, %d login prompt posts, %d Authentication API and %d Management API requests; %d unplanned 429s\n",
			t.MyAccountRequests["read"]+t.MyAccountRequests["write"]+t.MyAccountRequests["filtered_read"], t.MyAccountRequests["read"], t.MyAccountRequests["write"],
			t.MyAccountRequests["filtered_read"], t.RequestingUsers, t.Signups, t.LoginPosts, t.AuthenticationAPI, t.ManagementAPI, t.Unplanned429s)
		if t.Users.SignedUp > 0 {
			fmt.Fprintf(out, "users: %d signed up, %s\n", t.Users.SignedUp, cmp.Or(t.Users.Were, "kept"))
		}
		if len(t.FloorShares) > 1 {
			var parts []string
			for _, sh := range t.FloorShares[:min(len(t.FloorShares), 5)] {
				parts = append(parts, fmt.Sprintf("%s %s", sh.Limit, sh.Time.Round(100*time.Millisecond)))
			}
			fmt.Fprintf(out, "floor by limit: %s\n", strings.Join(parts, ", "))
		}
		if t.Floor > 0 {
			fmt.Fprintf(out, "time: %s of specs; the floor under %s is %s (%s): %.2f× the floor\n",
				t.WallTime.Round(100*time.Millisecond), t.Limits, t.Floor.Round(100*time.Millisecond), t.FloorReason, t.WallToFloor)
		} else {
			fmt.Fprintf(out, "time: %s of specs; no limit of %s sets a floor for this traffic\n", t.WallTime.Round(100*time.Millisecond), t.Limits)
		}
		if t.Unplanned429s > 0 {
			fmt.Fprintf(errOut, "WARNING: %d ordinary request(s) drew a 429 (retried): the target's limits are lower than its plan says, or another client shares them; see run.traffic in %s\n", t.Unplanned429s, report.CertificationFile)
		}
		if len(t.BudgetOverruns) > 0 {
			fmt.Fprintf(errOut, "WARNING: %d spec(s) took more from a user's rate-limit buckets than they asked for, so the run waited for refills (the suite's error, not the target's); see run.traffic.budget_overruns in %s\n", len(t.BudgetOverruns), report.CertificationFile)
		}
		if len(t.Leftovers) > 0 {
			fmt.Fprintf(errOut, "WARNING: the run could not remove %d thing(s) it created; see run.traffic.leftovers in %s\n", len(t.Leftovers), report.CertificationFile)
		}
	}
	fmt.Fprintf(out, "reports: %s, %s, %s, %s (and %s, %s) in %s\n", report.HTMLFile, report.MarkdownFile, report.HARFile, report.CertificationFile, jsonReport, junitReport, w.dir)
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
func runParallel(dir, cfgPath string, info report.Run, ginkgo []string, o *runOptions) (int, error) {
	infoPath, err := writeInfo(dir, info)
	if err != nil {
		return exitUsage, err
	}
	defer os.Remove(infoPath)
	if err := os.MkdirAll(filepath.Join(dir, paceDir), 0o700); err != nil {
		return exitUsage, err
	}
	defer os.RemoveAll(filepath.Join(dir, paceDir))
	args := []string{"--config", cfgPath, "--report-dir", dir, "--worker-info", infoPath, "--har", o.har}
	for _, s := range o.specs {
		abs, _ := filepath.Abs(s)
		args = append(args, "--spec", abs)
	}
	if o.expectedArg != "" {
		abs, _ := filepath.Abs(o.expectedArg)
		args = append(args, "--expected-failures", abs)
	}
	if o.showSecrets {
		args = append(args, "--show-secrets")
	}
	if o.verbose {
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
	w := &reportWriter{dir: dir, fw: fw, info: info, expected: expected, extra: extra, har: report.HARFailed}
	w.write(r)
	if w.err != nil {
		return exitInconclusive, fmt.Errorf("writing reports: %w", w.err)
	}
	fmt.Fprintf(os.Stderr, "reports (INCONCLUSIVE: nothing was checked): %s, %s, %s, %s, %s in %s\n", report.CertificationFile, report.HTMLFile, report.MarkdownFile, report.HARFile, junitReport, dir)
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

// reportTarget is what the certification says of the target: its domains (every
// custom domain when there are several).
func reportTarget(t *config.Target) report.Target {
	rt := report.Target{Name: t.Name, Domain: t.Domain, CustomDomain: t.CustomDomain}
	if cds := t.CustomDomainList(); len(cds) > 1 {
		rt.CustomDomains = cds
	}
	return rt
}
