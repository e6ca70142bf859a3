package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

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
	testing.Init() // Ginkgo's reporters read the testing flags
	fs := flag.CommandLine
	fs.Init("myaccount-conformance run", flag.ContinueOnError)
	var (
		config      = fs.String("config", "", "target config (YAML); without it the embedded reference tenant is started on loopback")
		reportDir   = fs.String("report-dir", "reports", "directory for junit.xml and report.json")
		labelFilter = fs.String("label-filter", "", "run only specs whose labels (areas or requirement IDs) match, e.g. 'enroll && !RS256'")
		focus       = fs.String("focus", "", "run only specs whose text matches this regular expression")
		skip        = fs.String("skip", "", "skip specs whose text matches this regular expression")
		verbose     = fs.Bool("v", false, "verbose: print every spec and the exchanges of failures as they happen")
		showSecrets = fs.Bool("show-secrets", false, "do not redact secrets (client secrets, tokens, codes, auth_session) in reports")
		timeout     = fs.Duration("timeout", 30*time.Minute, "stop the whole run after this long")
		specs       multiFlag
		faults      multiFlag
	)
	fs.Var(&specs, "spec", "also validate responses against this OpenAPI document (repeatable); operations it does not describe are left to ours")
	fs.Var(&faults, "fault", "start the embedded reference tenant with this named fault (repeatable; see 'serve --help')")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	if fs.NArg() > 0 {
		return exitUsage, usagef("run: unexpected argument %q", fs.Arg(0))
	}
	if *config != "" && len(faults) > 0 {
		return exitUsage, usagef("run: --fault applies to the embedded reference tenant, not to --config")
	}
	dir, err := filepath.Abs(*reportDir)
	if err != nil {
		return exitUsage, usageError{err}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return exitUsage, usagef("report dir: %v", err)
	}

	var extra []spec.ExtraDoc
	for _, s := range specs {
		data, err := os.ReadFile(s)
		if err != nil {
			return exitUsage, usagef("--spec: %v", err)
		}
		extra = append(extra, spec.ExtraDoc{Name: filepath.Base(s), Data: data})
	}

	cfgPath := *config
	if cfgPath == "" {
		t, cfg, err := startReference(dir, "127.0.0.1:0", faults)
		if err != nil {
			return exitUsage, err
		}
		defer t.Close()
		cfgPath = cfg
	}
	target, err := loadTarget(cfgPath)
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

	set := func(name, value string) {
		if value != "" {
			if err := fs.Set(name, value); err != nil {
				panic(fmt.Sprintf("ginkgo flag %s: %v", name, err))
			}
		}
	}
	set("ginkgo.junit-report", filepath.Join(dir, junitReport))
	set("ginkgo.json-report", filepath.Join(dir, jsonReport))
	set("ginkgo.label-filter", *labelFilter)
	set("ginkgo.focus", *focus)
	set("ginkgo.skip", *skip)
	set("ginkgo.timeout", timeout.String())
	if *verbose {
		set("ginkgo.v", "true")
	}
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		set("ginkgo.no-color", "true")
	}

	suites.Use(fw)
	var result runResult
	ReportAfterSuite("exit code", func(r Report) { result = classify(r) })
	RegisterFailHandler(Fail)
	RunSpecs(failRecorder{}, "My Account API conformance: "+target.Name)

	switch {
	case result.ran == 0:
		return exitUsage, usagef("no spec matched the filters")
	case result.failed > 0:
		return exitFailures, nil
	case result.inconclusive > 0:
		fmt.Fprintf(os.Stderr, "INCONCLUSIVE: %d spec(s) could not decide (target unreachable or too slow)\n", result.inconclusive)
		return exitInconclusive, nil
	}
	if result.warnings > 0 {
		fmt.Fprintf(os.Stderr, "WARNING: %d spec(s) of SHOULD requirements failed; the target is conformant to every MUST\n", result.warnings)
	}
	return exitConformant, nil
}

// failRecorder satisfies GinkgoTestingT; the result comes from the report.
type failRecorder struct{}

func (failRecorder) Fail() {}

type runResult struct{ ran, failed, warnings, inconclusive int }

// classify counts real failures apart from specs that could not decide.
func classify(r Report) runResult {
	var res runResult
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			if s.State.Is(types.SpecStateFailureStates) {
				res.failed++ // a failing BeforeSuite/AfterSuite is a failure too
			}
			continue
		}
		if s.State.Is(types.SpecStateSkipped | types.SpecStatePending) {
			continue
		}
		res.ran++
		if s.State.Is(types.SpecStateFailureStates) {
			switch {
			case strings.HasPrefix(s.Failure.Message, suites.InconclusivePrefix):
				res.inconclusive++
			case onlyRecommended(suites.ReqIDs(s.Labels())):
				res.warnings++
			default:
				res.failed++
			}
		}
	}
	return res
}

// onlyRecommended says whether every requirement a spec checks is a SHOULD or MAY:
// its failure is a warning, not a conformance failure.
func onlyRecommended(ids []string) bool {
	if len(ids) == 0 {
		return false
	}
	for _, id := range ids {
		if r, ok := spec.RequirementByID(id); !ok || r.Level == "MUST" {
			return false
		}
	}
	return true
}
