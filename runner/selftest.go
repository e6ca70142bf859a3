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
	"github.com/myaccount-conformance/myaccount-conformance/suites"
)

// selftestOutcome is one run of the suite in the self test.
type selftestOutcome struct {
	Fault  string   // "" for the clean run
	Code   int      // the run's exit code
	Failed []string // failed specs, "[IDs] text"
	Err    error
	Took   time.Duration
}

// cmdSelftest runs the suite against the clean reference tenant and against each
// named fault, each in its own process (Ginkgo runs one suite per process), two at a
// time. It passes when the clean run passes and every fault is caught.
func cmdSelftest(args []string) (int, error) {
	fs := flag.NewFlagSet("myaccount-conformance selftest", flag.ContinueOnError)
	reportDir := fs.String("report-dir", "reports/selftest", "directory for each run's reports")
	parallel := fs.Int("parallel", 2, "runs at a time")
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

	names := []string{""}
	for _, f := range faults {
		names = append(names, f.Name)
	}
	outcomes := make([]selftestOutcome, len(names))
	sem := make(chan struct{}, max(1, *parallel))
	var wg sync.WaitGroup
	start := time.Now()
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			outcomes[i] = runOnce(self, dir, name, *runTimeout)
			o := outcomes[i]
			label := name
			if label == "" {
				label = "(clean)"
			}
			fmt.Printf("selftest: %-28s exit %d, %d failed, %s\n", label, o.Code, len(o.Failed), o.Took.Round(time.Millisecond))
		}()
	}
	wg.Wait()

	fmt.Printf("\nfault → specs that caught it (%s)\n", time.Since(start).Round(time.Second))
	ok := true
	clean := outcomes[0]
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
		o := outcomes[i+1]
		switch {
		case o.Err != nil || (o.Code != exitFailures && o.Code != exitConformant):
			ok = false
			fmt.Printf("  %-28s ERROR (exit %d): %v — see %s\n", f.Name, o.Code, o.Err, filepath.Join(dir, f.Name, "output.txt"))
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

// runOnce runs the suite in a child process against the embedded reference tenant
// with one fault (or none) and reads its JSON report.
func runOnce(self, dir, fault string, timeout time.Duration) selftestOutcome {
	o := selftestOutcome{Fault: fault}
	sub := fault
	if sub == "" {
		sub = "clean"
	}
	runDir := filepath.Join(dir, sub)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		o.Err = err
		return o
	}
	args := []string{"run", "--report-dir", runDir, "--ginkgo.no-color"}
	if fault != "" {
		args = append(args, "--fault", fault)
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
			ids := suites.ReqIDs(s.Labels())
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
