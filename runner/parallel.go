package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/ginkgo/command"
	ginkgorun "github.com/onsi/ginkgo/v2/ginkgo/run"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
)

// A parallel run is Ginkgo's own: the ginkgo CLI's run command, given this binary as
// a precompiled suite (a "*.test" link to it), starts N worker processes and the
// server that deals the specs out, runs Serial specs (the rate-limit bursts) on the
// first worker once the others are done, and hands the first worker's
// ReportAfterSuite the report of every process. So every report keeps one result per
// spec, exactly as a run in one process does.
//
// The parent process keeps what must happen once: the reference tenant, the probe
// and the preflight. Workers get the target config, the report dir and the run's
// record (workerInfo) on their command line; the first writes the reports and the
// outcome (outcomeFile) that the parent prints and exits with.

// outcomeFile is what the first worker leaves for the parent: the exit code and the
// summary it printed.
const outcomeFile = ".outcome.json"

// paceDir, in the report dir, holds the buckets the workers share (the login user's).
const paceDir = ".pace"

type workerOutcome struct {
	Code    int    `json:"code"`
	Summary string `json:"summary"`
}

// isWorker says whether args are a Ginkgo worker's command line (the ginkgo CLI
// starts a precompiled suite with --test.* and --ginkgo.* flags first).
func isWorker(args []string) bool {
	return len(args) > 0 && (strings.HasPrefix(args[0], "--test.") || strings.HasPrefix(args[0], "--ginkgo."))
}

// ginkgoArgs are the ginkgo CLI flags for a run of procs workers with these filters.
func ginkgoArgs(procs int, labelFilter, focus, skip, timeout string, verbose, noColor bool) []string {
	args := []string{fmt.Sprintf("--procs=%d", procs), "--timeout=" + timeout}
	for name, v := range map[string]string{"label-filter": labelFilter, "focus": focus, "skip": skip} {
		if v != "" {
			args = append(args, "--"+name+"="+v)
		}
	}
	if verbose {
		args = append(args, "-v")
	}
	if noColor {
		args = append(args, "--no-color")
	}
	return args
}

// runWorkers runs the suite in procs worker processes and returns the first worker's
// outcome. workerArgs are the run flags each worker gets (config, report dir, …).
func runWorkers(dir string, ginkgo, workerArgs []string) (out workerOutcome, err error) {
	self, err := os.Executable()
	if err != nil {
		return out, err
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return out, err
	}
	tmp, err := os.MkdirTemp("", "myaccount-conformance-workers-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(tmp)
	// The ginkgo CLI takes a "*.test" file as a compiled suite.
	suite := filepath.Join(tmp, "myaccount-conformance.test")
	if err := os.Symlink(self, suite); err != nil {
		return out, err
	}
	os.Remove(filepath.Join(dir, outcomeFile))
	func() {
		// The CLI ends by panicking with its exit details (command.Abort): the
		// outcome is the first worker's, read below.
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(command.AbortDetails); !ok {
					panic(r)
				}
			}
		}()
		ginkgorun.BuildRunCommand().Run(append(ginkgo, suite), workerArgs)
	}()
	data, err := os.ReadFile(filepath.Join(dir, outcomeFile))
	if err != nil {
		return out, fmt.Errorf("the workers wrote no outcome (a worker crashed before the reports were written; see the output above): %w", err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, fmt.Errorf("%s: %w", outcomeFile, err)
	}
	os.Remove(filepath.Join(dir, outcomeFile))
	return out, nil
}

// writeOutcome leaves the first worker's outcome for the parent.
func writeOutcome(dir string, o workerOutcome) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, outcomeFile), data, 0o600)
}

// writeInfo and readInfo carry the run's record from the parent to the workers.
func writeInfo(dir string, info report.Run) (string, error) {
	data, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, ".run-info.json")
	return path, os.WriteFile(path, data, 0o600)
}

func readInfo(path string) (report.Run, error) {
	var info report.Run
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(data, &info)
}
