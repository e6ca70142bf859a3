package main

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
	fs := flag.NewFlagSet("myaccount-conformance replay", flag.ContinueOnError)
	var ids, faults multiFlag
	fs.Var(&ids, "id", "replay the specs of this requirement (repeatable); default: the specs that failed")
	config := fs.String("config", "", "target config; default: the target of the original run")
	reportDir := fs.String("report-dir", "", "report dir of the replay; default: replay/ beside REPORT.json")
	verbose := fs.Bool("v", false, "verbose: print every spec and the exchanges of failures as they happen")
	showSecrets := fs.Bool("show-secrets", false, "do not redact secrets in reports")
	expectedArg := fs.String("expected-failures", "", "expected-failures file, as for run")
	fs.Var(&faults, "fault", "start the embedded reference tenant with this fault instead of the recorded ones (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: myaccount-conformance replay REPORT.json [--id ID]... [--config FILE] [--report-dir DIR] [-v]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	if len(positional) != 1 {
		return exitUsage, usagef("replay: name one report.json (from a run's report dir)")
	}
	reportPath := positional[0]
	r, err := report.LoadJSON(reportPath)
	if err != nil {
		return exitUsage, usagef("replay: %v", err)
	}
	specs := report.Specs(r)

	var chosen []report.Spec
	if len(ids) > 0 {
		for _, id := range ids {
			if _, ok := spec.RequirementByID(id); !ok {
				return exitUsage, usagef("replay: --id %s is not a requirement of the catalogue ('myaccount-conformance list')", id)
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
				return exitUsage, usagef("replay: no spec of %s checks %s", reportPath, id)
			}
		}
	} else {
		for _, s := range specs {
			if !s.Suite && (s.Result == report.Fail || s.Result == report.Inconclusive) {
				chosen = append(chosen, s)
			}
		}
		if len(chosen) == 0 {
			fmt.Printf("replay: nothing failed in %s; name requirements with --id to run them again\n", reportPath)
			return exitConformant, nil
		}
	}

	dir := *reportDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(reportPath), "replay")
	}
	runArgs := []string{"--report-dir", dir, "--focus", focusFor(chosen)}
	if *verbose {
		runArgs = append(runArgs, "-v")
	}
	if *showSecrets {
		runArgs = append(runArgs, "--show-secrets")
	}
	if *expectedArg != "" {
		runArgs = append(runArgs, "--expected-failures", *expectedArg)
	}

	cert, certErr := report.ReadCertification(filepath.Join(filepath.Dir(reportPath), report.CertificationFile))
	switch {
	case *config != "" && len(faults) > 0:
		return exitUsage, usagef("replay: --fault applies to the embedded reference tenant, not to --config")
	case *config != "":
		runArgs = append(runArgs, "--config", *config)
	case len(faults) > 0:
		for _, f := range faults {
			runArgs = append(runArgs, "--fault", f)
		}
	case certErr != nil:
		return exitUsage, usagef("replay: the original target is unknown (%v): name one with --config", certErr)
	case cert.Run.Config != "":
		runArgs = append(runArgs, "--config", cert.Run.Config)
	case cert.Run.ReferenceTenant != nil:
		runArgs = append(runArgs, fromRecord(cert.Run.ReferenceTenant).args()...)
	default:
		return exitUsage, usagef("replay: %s records no target: name one with --config", report.CertificationFile)
	}
	if certErr == nil {
		// The original run's filters and files: the same specs in scope (an Ordered
		// container runs again only with the specs the original run selected), the
		// same documents, the same expected failures.
		for _, s := range cert.Run.Specs {
			runArgs = append(runArgs, "--spec", s)
		}
		if cert.Run.LabelFilter != "" {
			runArgs = append(runArgs, "--label-filter", cert.Run.LabelFilter)
		}
		if cert.Run.Skip != "" {
			runArgs = append(runArgs, "--skip", cert.Run.Skip)
		}
		if *expectedArg == "" && cert.Run.ExpectedFailures != "" {
			runArgs = append(runArgs, "--expected-failures", cert.Run.ExpectedFailures)
		}
		if cert.Run.ShowSecrets && !*showSecrets {
			fmt.Println("replay: the original run showed secrets (--show-secrets); this one redacts them unless asked again")
		}
	}

	var names []string
	for _, s := range chosen {
		names = append(names, fmt.Sprintf("[%s] %s", strings.Join(s.IDs, ","), s.Text))
	}
	fmt.Printf("replay: %d spec(s) of %s:\n  %s\n", len(chosen), reportPath, strings.Join(names, "\n  "))
	fmt.Printf("replay: myaccount-conformance run %s\n\n", shellJoin(runArgs))
	return cmdRun(runArgs)
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
