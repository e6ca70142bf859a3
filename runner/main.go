// Package runner is the myaccount-conformance command (its main package is
// runner/myaccount-conformance, so that `go install` names the binary after it): it
// runs the My Account API conformance suite against a target (by default the
// embedded reference tenant), serves the reference tenant, checks the suite against
// the reference tenant's named faults, and lists the requirement catalogue.
package runner

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
)

// Exit codes.
const (
	exitConformant   = 0
	exitFailures     = 1
	exitUsage        = 2
	exitInconclusive = 3
)

// version is set with -ldflags "-X github.com/myaccount-conformance/myaccount-conformance/runner.version=…";
// otherwise it comes from the build info.
var version = ""

func suiteVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what `version` prints: the module version and the VCS revision
// the binary was built from, as its build info has them (`go install …@v1.2.3`
// stamps the version, and a pseudo-version names its revision; a build in a
// checkout stamps the revision).
func versionLine() string {
	rev := suiteRevision()
	if rev == "" {
		rev = pseudoRevision(suiteVersion())
	}
	if rev == "" {
		rev = "unknown (built without version control information)"
	}
	return fmt.Sprintf("myaccount-conformance %s, revision %s, %s", suiteVersion(), rev, runtime.Version())
}

// pseudoVersion is a Go pseudo-version's tail: a 14-digit time and a 12-digit
// revision prefix (v0.0.0-20261206224301-3a01a37c4f1e, v1.2.4-0.2026…-…).
var pseudoVersion = regexp.MustCompile(`[.-](\d{14})-([0-9a-f]{12})(\+incompatible)?$`)

// pseudoRevision is the revision a pseudo-version names ("" for a release).
func pseudoRevision(v string) string {
	if m := pseudoVersion.FindStringSubmatch(v); m != nil {
		return m[2]
	}
	return ""
}

const usage = `myaccount-conformance — the My Account API conformance suite

Usage:
  myaccount-conformance run      [--config FILE] [--report-dir DIR] [--spec FILE]... [--label-filter EXPR] [--focus RE] [--skip RE] [--expected-failures FILE] [--no-preflight] [-v]
  myaccount-conformance doctor   [--config FILE]
  myaccount-conformance serve    [--write-config FILE] [--fault NAME]... [--addr 127.0.0.1:0]
  myaccount-conformance selftest [--report-dir DIR] [--fault NAME]...
  myaccount-conformance list     [--format table|yaml]
  myaccount-conformance replay   REPORT.json [--id ID]... [--config FILE] [--report-dir DIR] [-v]
  myaccount-conformance diff     OLD.json NEW.json
  myaccount-conformance version

Without --config, run starts the embedded reference tenant on loopback and runs
against it. 'myaccount-conformance run --help' lists every flag, including Ginkgo's
(--ginkgo.*).

doctor checks the tenant's set-up (discovery, passkey signup and login, a
Universal Login per client, token audience and scopes, rate-limit plan) and names
the setting behind each failed check; run does its quick part first.

Exit codes: 0 conformant, 1 conformance failures, 2 usage or config error,
3 inconclusive (target unreachable or timed out, or a tenant setting stops the run).
`

// usageError is a bad command line or config: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Main runs the command with its arguments (without the program name) and returns
// its exit code.
func Main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	var code int
	var err error
	switch cmd := args[0]; {
	case isWorker(args):
		code, err = cmdRun(args)
	case cmd == "run":
		code, err = cmdRun(args[1:])
	case cmd == "doctor":
		code, err = cmdDoctor(args[1:])
	case cmd == "serve":
		code, err = cmdServe(args[1:])
	case cmd == "selftest":
		code, err = cmdSelftest(args[1:])
	case cmd == "list":
		code, err = cmdList(args[1:])
	case cmd == "replay":
		code, err = cmdReplay(args[1:])
	case cmd == "diff":
		code, err = cmdDiff(args[1:])
	case cmd == "version" || cmd == "--version":
		fmt.Println(versionLine())
		return exitConformant
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Print(usage)
		return exitConformant
	default:
		fmt.Fprintf(os.Stderr, "myaccount-conformance: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "myaccount-conformance: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		if code == 0 {
			code = exitUsage
		}
	}
	return code
}
