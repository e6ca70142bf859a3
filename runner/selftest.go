package runner

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// selftestOutcome is one run of the suite in the self test.
type selftestOutcome struct {
	Fault  string   // "" for the clean run
	Dir    string   // its report dir
	Code   int      // the run's exit code
	Failed []string // failed specs, "[IDs] text"
	Err    error
	Took   time.Duration
}

// timingLabel marks the specs that measure time (rate-limit bursts). They run alone,
// so that other runs cannot slow the machine under them.
const timingLabel = "ratelimit"

// cmdSelftest runs the suite against the clean reference tenant and against each
// named fault, each run in its own process (Ginkgo runs one suite per process).
//
// The clean run is the whole suite, alone: every spec must pass. A fault's runs only
// ask whether the suite detects it, so each stops at its first failed spec
// (--ginkgo.fail-fast), and they go in up to three steps, each only for the faults
// the step before missed:
//  1. the specs of the requirements known to catch the fault (faultDetectors), several
//     faults at a time;
//  2. every spec that does not measure time, several faults at a time;
//  3. the specs that measure time (rate-limit bursts), one fault at a time, so that
//     no other run slows the machine under them.
//
// Step 1 is only a shortcut: a fault it misses is still looked for by the whole
// suite, and reported as a stale entry of faultDetectors. A fault no step catches is
// NOT DETECTED. The self test passes when the clean run passes and every fault is
// caught.
func cmdSelftest(args []string) (int, error) {
	st, err := parseSelftestFlags(args)
	if st == nil || err != nil {
		return exitCodeOf(err), err
	}
	start := time.Now()
	if err := st.cleanRun(); err != nil {
		return exitUsage, err
	}
	stale := st.faultRuns()
	if !st.print(start, stale) {
		return exitFailures, nil
	}
	return exitConformant, nil
}

// selftest is a self test's settings and, as it goes, its outcomes.
type selftest struct {
	self       string // this binary
	dir        string // the absolute report dir
	parallel   int
	runTimeout time.Duration
	baseline   string
	full       bool
	faults     []reftenant.Fault

	clean    selftestOutcome
	outcomes []selftestOutcome // per fault
}

// parseSelftestFlags parses selftest's command line. It returns nil and no error
// for --help.
func parseSelftestFlags(args []string) (*selftest, error) {
	fs := flag.NewFlagSet("myaccount-conformance selftest", flag.ContinueOnError)
	reportDir := fs.String("report-dir", "reports/selftest", "directory for each run's reports")
	parallel := fs.Int("parallel", 2*runtime.NumCPU(), "fault runs at a time (runs of the timing specs always go alone)")
	runTimeout := fs.Duration("run-timeout", 5*time.Minute, "bound on one run")
	baseline := fs.String("baseline", "", "report dir of a clean run of the whole suite against the default reference tenant, made by this build (make test's suite run): used instead of running the clean run again")
	full := fs.Bool("full", false, "run the whole suite against each fault (every spec that catches it is listed), not only until the first detection")
	var only multiFlag
	fs.Var(&only, "fault", "check only this fault (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, usageError{err}
	}
	faults, err := selectFaults(only)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(*reportDir)
	if err != nil {
		return nil, err
	}
	return &selftest{self: self, dir: dir, parallel: *parallel, runTimeout: *runTimeout, baseline: *baseline, full: *full,
		faults: faults, outcomes: make([]selftestOutcome, len(faults))}, nil
}

// selectFaults is every fault of the reference tenant, or only the named ones.
func selectFaults(only []string) ([]reftenant.Fault, error) {
	faults := reftenant.Faults()
	if len(only) == 0 {
		return faults, nil
	}
	known := map[string]bool{}
	for _, f := range faults {
		known[f.Name] = true
	}
	for _, o := range only {
		if !known[o] {
			return nil, usagef("selftest: unknown fault %q", o)
		}
	}
	faults = faults[:0:0]
	for _, f := range reftenant.Faults() {
		for _, o := range only {
			if f.Name == o {
				faults = append(faults, f)
			}
		}
	}
	return faults, nil
}

// cleanRun runs the whole suite against the clean tenant, or reads that run from
// --baseline.
func (st *selftest) cleanRun() error {
	if st.baseline != "" {
		clean, err := readBaseline(st.baseline)
		if err != nil {
			return usagef("selftest --baseline: %v", err)
		}
		st.clean = clean
		printRun("(clean, from "+st.baseline+")", clean)
		return nil
	}
	// The clean run alone, in as many processes as a user's run.
	st.clean = runOnce(st.self, st.dir, "", "clean", "", []string{"--procs", strconv.Itoa(runtime.NumCPU())}, st.runTimeout)
	printRun("(clean)", st.clean)
	return nil
}

// faultRuns runs the suite against each fault in the steps cmdSelftest describes.
// stale are the faults whose known detectors (step 1) missed them.
func (st *selftest) faultRuns() (stale []int) {
	var shortcut, timing, rest []int
	for i, f := range st.faults {
		switch ids := faultDetectors[f.Name]; {
		case st.full || len(ids) == 0:
			rest = append(rest, i)
		case timingOnly(ids):
			timing = append(timing, i)
		default:
			shortcut = append(shortcut, i)
		}
	}
	untimed := func(int) string { return "!" + timingLabel }
	timed := func(int) string { return timingLabel }
	// Step 1: the known detectors (the timing ones alone).
	st.runAll(shortcut, st.detectors, "", st.parallel)
	st.runAll(timing, st.detectors, "", 1)
	stale = append(st.missed(shortcut), st.missed(timing)...)
	// Steps 2 and 3: the whole suite for what is left.
	st.runAll(append(slices.Clone(rest), stale...), untimed, "-untimed", st.parallel)
	st.runAll(st.missed(append(slices.Clone(rest), stale...)), timed, "-"+timingLabel, 1)
	return stale
}

// detectors is the label filter of the specs known to catch fault i.
func (st *selftest) detectors(i int) string {
	return strings.Join(faultDetectors[st.faults[i].Name], " || ")
}

// runAll runs the suite against the faults idx, parallel at a time, each with the
// label filter filter gives it; suffix names the runs' report dirs.
func (st *selftest) runAll(idx []int, filter func(int) string, suffix string, parallel int) {
	stop := []string{"--ginkgo.fail-fast"}
	if st.full {
		stop = nil
	}
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := st.faults[i].Name
			o := runOnce(st.self, st.dir, name, name+suffix, filter(i), append(faultSetup[name], stop...), st.runTimeout)
			printRun(name+suffix, o)
			st.outcomes[i] = o
		}()
	}
	wg.Wait()
}

// missed are the faults of idx whose last run failed no spec.
func (st *selftest) missed(idx []int) []int {
	var out []int
	for _, i := range idx {
		// exit 2 with nothing failed: the filter selected no spec that could run
		// (a shortcut naming a spec that needs the specs before it).
		if o := st.outcomes[i]; o.Err == nil && (o.Code == exitFailures || o.Code == exitConformant || o.Code == exitUsage) && len(o.Failed) == 0 {
			out = append(out, i)
		}
	}
	return out
}

// print prints what caught each fault and says whether the self test passed: the
// clean run passed and every fault was caught.
func (st *selftest) print(start time.Time, stale []int) bool {
	fmt.Printf("\nfault → specs that caught it (%s)\n", time.Since(start).Round(time.Second))
	ok := true
	clean := st.clean
	if clean.Err != nil || clean.Code != exitConformant {
		ok = false
		fmt.Printf("  CLEAN RUN FAILED (exit %d): %v\n", clean.Code, clean.Err)
		for _, f := range clean.Failed {
			fmt.Printf("    %s\n", f)
		}
	} else {
		fmt.Printf("  (clean)                      passed\n")
	}
	caught := 0
	for i, f := range st.faults {
		o := st.outcomes[i]
		switch {
		case o.Err != nil || (o.Code != exitFailures && o.Code != exitConformant):
			ok = false
			fmt.Printf("  %-28s ERROR (exit %d): %v — see %s\n", f.Name, o.Code, o.Err, filepath.Join(o.Dir, "output.txt"))
		case len(o.Failed) == 0:
			ok = false
			fmt.Printf("  %-28s NOT DETECTED — %s\n", f.Name, f.Description)
		default:
			caught++
			fmt.Printf("  %-28s caught by %d spec(s):\n", f.Name, len(o.Failed))
			for _, line := range countSame(o.Failed) {
				fmt.Printf("  %-28s   %s\n", "", line)
			}
		}
	}
	for _, i := range stale {
		fmt.Printf("note: faultDetectors[%q] (%s) did not catch it; update runner/selftest_plan.go\n", st.faults[i].Name, st.detectors(i))
	}
	fmt.Printf("\n%d of %d faults detected; clean run %s\n", caught, len(st.faults), map[bool]string{true: "passed", false: "FAILED"}[clean.Err == nil && clean.Code == 0])
	return ok
}

// timingOnly says whether every one of the filters selects rate-limit specs only.
func timingOnly(ids []string) bool {
	for _, id := range ids {
		if !strings.HasPrefix(id, "MA-RL-") && id != timingLabel {
			return false
		}
	}
	return len(ids) > 0
}

func printRun(label string, o selftestOutcome) {
	fmt.Printf("selftest: %-36s exit %d, %d failed, %s\n", label, o.Code, len(o.Failed), o.Took.Round(time.Millisecond))
}

// runOnce runs the suite in a child process against the embedded reference tenant
// with one fault (or none) and reads its JSON report.
func runOnce(self, dir, fault, sub, labelFilter string, extra []string, timeout time.Duration) selftestOutcome {
	o := selftestOutcome{Fault: fault}
	runDir := filepath.Join(dir, sub)
	o.Dir = runDir
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		o.Err = err
		return o
	}
	// One process per run: the self test runs several at a time itself. It asks
	// whether the suite detects a fault, not what the run costs under the login and
	// signup limits (the runner's traffic tests do): the reference waives them.
	args := []string{"run", "--report-dir", runDir, "--ginkgo.no-color", "--procs", "1", "--waive", "all"}
	if fault != "" {
		args = append(args, "--fault", fault)
	}
	if labelFilter != "" {
		args = append(args, "--label-filter", labelFilter)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	out, err := os.Create(filepath.Join(runDir, "output.txt"))
	if err != nil {
		o.Err = err
		return o
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	err = cmd.Run()
	o.Took = time.Since(started)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ctx.Err() == nil:
		o.Code = ee.ExitCode()
	case err != nil:
		o.Err = fmt.Errorf("%v (after %s)", err, o.Took.Round(time.Second))
		return o
	}
	failed, err := failedSpecs(filepath.Join(runDir, jsonReport))
	if err != nil && o.Code <= exitFailures {
		o.Err = err
	}
	o.Failed = failed
	return o
}

// failedSpecs reads a Ginkgo JSON report and names each failed spec by its
// requirement IDs and text.
func failedSpecs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if !s.State.Is(types.SpecStateFailureStates) {
				continue
			}
			ids := verdict.ReqIDs(s.Labels())
			name := s.FullText()
			if len(ids) > 0 {
				name = "[" + strings.Join(ids, ",") + "] " + s.LeafNodeText
			}
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// countSame folds repeated lines of a sorted list into "line (×n)".
func countSame(sorted []string) []string {
	var out []string
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s (×%d)", sorted[i], j-i))
		} else {
			out = append(out, sorted[i])
		}
		i = j
	}
	return out
}

// selftestReference says whether r is the reference the self test runs: the
// defaults, every limit group waived.
func selftestReference(r reference) bool {
	all := sameWaivers(r.Waive, reftenant.Waivers())
	r.Waive = nil
	return all && !r.set()
}

// readBaseline takes the clean run from the reports of an earlier run: it must be a
// whole-suite run of the default reference tenant, made by this very binary.
func readBaseline(dir string) (selftestOutcome, error) {
	o := selftestOutcome{Dir: dir}
	c, err := report.ReadCertification(filepath.Join(dir, report.CertificationFile))
	if err != nil {
		return o, err
	}
	r := c.Run
	switch {
	case r.ReferenceTenant == nil:
		return o, fmt.Errorf("%s is not a run against the embedded reference tenant", dir)
	case !selftestReference(fromRecord(r.ReferenceTenant)):
		return o, fmt.Errorf("%s ran the reference tenant with %v, not its defaults and --waive all", dir, fromRecord(r.ReferenceTenant).args())
	case r.LabelFilter != "" || r.Focus != "" || r.Skip != "" || r.ExpectedFailures != "":
		return o, fmt.Errorf("%s is a filtered run (label filter %q, focus %q, skip %q, expected failures %q)", dir, r.LabelFilter, r.Focus, r.Skip, r.ExpectedFailures)
	case c.Suite.Build == "" || c.Suite.Build != suiteBuild():
		return o, fmt.Errorf("%s was made by another build of the suite: run the suite again with this one", dir)
	}
	o.Code = r.ExitCode
	o.Took = r.Finished.Sub(r.Started)
	o.Failed, err = failedSpecs(filepath.Join(dir, jsonReport))
	if err != nil {
		o.Err = err
	}
	return o, nil
}
