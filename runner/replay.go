package runner

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// cmdReplay runs again the specs of a report that failed (or that check the named
// requirements), on the target of that run or on another one.
//
// The target: --config if given; else what the certification beside the report
// recorded — the config file the run used (re-read now, so secrets come from the
// environment as they did then), or the embedded reference tenant with the same
// faults (its old config died with its process and is not kept).
func cmdReplay(args []string) (int, error) {
	o, err := parseReplayFlags(args)
	if o == nil || err != nil {
		return exitCodeOf(err), err
	}
	r, err := report.LoadJSON(o.reportPath)
	if err != nil {
		return exitUsage, usagef("replay: %v", err)
	}
	chosen, err := chooseSpecs(report.Specs(r), o.ids, o.reportPath)
	if err != nil {
		return exitUsage, err
	}
	if len(chosen) == 0 {
		fmt.Printf("replay: nothing failed in %s; name requirements with --id to run them again\n", o.reportPath)
		return exitConformant, nil
	}
	runArgs, err := o.runArgs(chosen)
	if err != nil {
		return exitUsage, err
	}
	var names []string
	for _, s := range chosen {
		names = append(names, fmt.Sprintf("[%s] %s", strings.Join(s.IDs, ","), s.Text))
	}
	fmt.Printf("replay: %d spec(s) of %s:\n  %s\n", len(chosen), o.reportPath, strings.Join(names, "\n  "))
	fmt.Printf("replay: myaccount-conformance run %s\n\n", shellJoin(runArgs))
	return cmdRun(runArgs)
}

// replayOptions are replay's flags and its one argument.
type replayOptions struct {
	reportPath  string
	ids, faults multiFlag
	config      string
	reportDir   string
	verbose     bool
	showSecrets bool
	expectedArg string
}

// parseReplayFlags parses replay's command line. It returns nil and no error for
// --help.
func parseReplayFlags(args []string) (*replayOptions, error) {
	fs := flag.NewFlagSet("myaccount-conformance replay", flag.ContinueOnError)
	o := &replayOptions{}
	fs.Var(&o.ids, "id", "replay the specs of this requirement (repeatable); default: the specs that failed")
	fs.StringVar(&o.config, "config", "", "target config; default: the target of the original run")
	fs.StringVar(&o.reportDir, "report-dir", "", "report dir of the replay; default: replay/ beside REPORT.json")
	fs.BoolVar(&o.verbose, "v", false, "verbose: print every spec and the exchanges of failures as they happen")
	fs.BoolVar(&o.showSecrets, "show-secrets", false, "do not redact secrets in reports")
	fs.StringVar(&o.expectedArg, "expected-failures", "", "expected-failures file, as for run")
	fs.Var(&o.faults, "fault", "start the embedded reference tenant with this fault instead of the recorded ones (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: myaccount-conformance replay REPORT.json [--id ID]... [--config FILE] [--report-dir DIR] [-v]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, usageError{err}
	}
	if len(positional) != 1 {
		return nil, usagef("replay: name one report.json (from a run's report dir)")
	}
	o.reportPath = positional[0]
	return o, nil
}

// chooseSpecs picks the specs of a report to run again: those of the requirements
// ids, or, without ids, those that failed or could not decide (none: nothing failed).
func chooseSpecs(specs []report.Spec, ids []string, reportPath string) ([]report.Spec, error) {
	var chosen []report.Spec
	if len(ids) == 0 {
		for _, s := range specs {
			if !s.Suite && (s.Result == report.Fail || s.Result == report.Inconclusive) {
				chosen = append(chosen, s)
			}
		}
		return chosen, nil
	}
	for _, id := range ids {
		if _, ok := spec.RequirementByID(id); !ok {
			return nil, usagef("replay: --id %s is not a requirement of the catalogue ('myaccount-conformance list')", id)
		}
		n := 0
		for _, s := range specs {
			if slices.Contains(s.IDs, id) {
				n++
				if !slices.ContainsFunc(chosen, func(c report.Spec) bool { return c.Text == s.Text }) {
					chosen = append(chosen, s)
				}
			}
		}
		if n == 0 {
			return nil, usagef("replay: no spec of %s checks %s", reportPath, id)
		}
	}
	return chosen, nil
}

// runArgs are the flags of the run that replays chosen: its filters and, from the
// certification beside the report, the original target and run settings.
func (o *replayOptions) runArgs(chosen []report.Spec) ([]string, error) {
	dir := o.reportDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(o.reportPath), "replay")
	}
	runArgs := []string{"--report-dir", dir, "--focus", focusFor(chosen)}
	if o.verbose {
		runArgs = append(runArgs, "-v")
	}
	if o.showSecrets {
		runArgs = append(runArgs, "--show-secrets")
	}
	if o.expectedArg != "" {
		runArgs = append(runArgs, "--expected-failures", o.expectedArg)
	}

	cert, certErr := report.ReadCertification(filepath.Join(filepath.Dir(o.reportPath), report.CertificationFile))
	switch {
	case o.config != "" && len(o.faults) > 0:
		return nil, usagef("replay: --fault applies to the embedded reference tenant, not to --config")
	case o.config != "":
		runArgs = append(runArgs, "--config", o.config)
	case len(o.faults) > 0:
		for _, f := range o.faults {
			runArgs = append(runArgs, "--fault", f)
		}
	case certErr != nil:
		return nil, usagef("replay: the original target is unknown (%v): name one with --config", certErr)
	case cert.Run.Config != "":
		runArgs = append(runArgs, "--config", cert.Run.Config)
	case cert.Run.ReferenceTenant != nil:
		runArgs = append(runArgs, fromRecord(cert.Run.ReferenceTenant).args()...)
	default:
		return nil, usagef("replay: %s records no target: name one with --config", report.CertificationFile)
	}
	if certErr == nil {
		runArgs = append(runArgs, o.originalSettings(cert.Run)...)
	}
	return runArgs, nil
}

// originalSettings are the original run's filters and files: the same specs in
// scope (an Ordered container runs again only with the specs the original run
// selected), the same documents, the same expected failures.
func (o *replayOptions) originalSettings(run report.Run) []string {
	var args []string
	for _, s := range run.Specs {
		args = append(args, "--spec", s)
	}
	if run.LabelFilter != "" {
		args = append(args, "--label-filter", run.LabelFilter)
	}
	if run.Skip != "" {
		args = append(args, "--skip", run.Skip)
	}
	if o.expectedArg == "" && run.ExpectedFailures != "" {
		args = append(args, "--expected-failures", run.ExpectedFailures)
	}
	if run.ShowSecrets && !o.showSecrets {
		fmt.Println("replay: the original run showed secrets (--show-secrets); this one redacts them unless asked again")
	}
	return args
}

// focusFor builds a --focus expression matching exactly the chosen specs. Ginkgo
// matches it against the suite description, a space and the spec's full text; the
// description names the target, so the expression is anchored at that space and
// the end, not at the start. A spec of an Ordered container depends on the specs
// before it, so the whole container runs again.
func focusFor(specs []report.Spec) string {
	var alts []string
	for _, s := range specs {
		var alt string
		if s.Ordered && len(s.Containers) > 0 {
			alt = " " + regexp.QuoteMeta(strings.Join(s.Containers, " ")) + " "
		} else {
			alt = " " + regexp.QuoteMeta(s.Text) + "$"
		}
		if !slices.Contains(alts, alt) {
			alts = append(alts, alt)
		}
	}
	return strings.Join(alts, "|")
}

// parseInterspersed parses flags that may come before or after positional
// arguments (`replay REPORT.json --id X`), which package flag stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// shellJoin quotes arguments for a POSIX shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;()<>*?[]{}!#~") {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
