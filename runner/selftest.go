package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
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
// named fault, each in its own process (Ginkgo runs one suite per process). The clean
// run is the whole suite, alone. Faults are then checked in two phases: every fault
// against the specs that do not measure time, several at a time (they mostly wait on
// the network); then each fault still undetected against the timing specs, one at a
// time. A fault caught by part of the suite is caught by the suite; one caught by
// neither part is reported NOT DETECTED. It passes when the clean run passes and
// every fault is caught.
func cmdSelftest(args []string) (int, error) {
	fs := flag.NewFlagSet("myaccount-conformance selftest", flag.ContinueOnError)
	reportDir := fs.String("report-dir", "reports/selftest", "directory for each run's reports")
	parallel := fs.Int("parallel", 6, "runs at a time in the first phase (the timing specs always run alone)")
	runTimeout := fs.Duration("run-timeout", 5*time.Minute, "bound on one run")
	var only multiFlag
	fs.Var(&only, "fault", "check only this fault (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	faults := reftenant.Faults()
	if len(only) > 0 {
		known := map[string]bool{}
		for _, f := range faults {
			known[f.Name] = true
		}
		for _, o := range only {
			if !known[o] {
				return exitUsage, usagef("selftest: unknown fault %q", o)
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
	}
	self, err := os.Executable()
	if err != nil {
		return exitUsage, err
	}
	dir, err := filepath.Abs(*reportDir)
	if err != nil {
		return exitUsage, err
	}
	start := time.Now()

	clean := runOnce(self, dir, "", "clean", "", *runTimeout)
	printRun("(clean)", clean)

	outcomes := make([]selftestOutcome, len(faults))
	runAll := func(idx []int, filter, suffix string, parallel int) {
		sem := make(chan struct{}, max(1, parallel))
		var wg sync.WaitGroup
		for _, i := range idx {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				o := runOnce(self, dir, faults[i].Name, faults[i].Name+suffix, filter, *runTimeout)
				printRun(faults[i].Name+suffix, o)
				outcomes[i] = o
			}()
		}
		wg.Wait()
	}
	all := make([]int, len(faults))
	for i := range faults {
		all[i] = i
	}
	runAll(all, "!"+timingLabel, "", *parallel)
	var undetected []int
	for i, o := range outcomes {
		if o.Err == nil && (o.Code == exitFailures || o.Code == exitConformant) && len(o.Failed) == 0 {
			undetected = append(undetected, i)
		}
	}
	runAll(undetected, timingLabel, "-"+timingLabel, 1)

	fmt.Printf("\nfault → specs that caught it (%s)\n", time.Since(start).Round(time.Second))
	ok := true
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
	for i, f := range faults {
		o := outcomes[i]
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
	fmt.Printf("\n%d of %d faults detected; clean run %s\n", caught, len(faults), map[bool]string{true: "passed", false: "FAILED"}[clean.Err == nil && clean.Code == 0])
	if !ok {
		return exitFailures, nil
	}
	return exitConformant, nil
}

func printRun(label string, o selftestOutcome) {
	fmt.Printf("selftest: %-36s exit %d, %d failed, %s\n", label, o.Code, len(o.Failed), o.Took.Round(time.Millisecond))
}

// runOnce runs the suite in a child process against the embedded reference tenant
// with one fault (or none) and reads its JSON report.
func runOnce(self, dir, fault, sub, labelFilter string, timeout time.Duration) selftestOutcome {
	o := selftestOutcome{Fault: fault}
	runDir := filepath.Join(dir, sub)
	o.Dir = runDir
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		o.Err = err
		return o
	}
	args := []string{"run", "--report-dir", runDir, "--ginkgo.no-color"}
	if fault != "" {
		args = append(args, "--fault", fault)
	}
	if labelFilter != "" {
		args = append(args, "--label-filter", labelFilter)
	}
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
