package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
)

// The enroll area against a tenant whose enrollment start answers 200: the run
// fails; listing what failed as expected makes it pass; one more listed requirement
// that passes breaks it; replay runs exactly the failed specs again on a reference
// tenant with the same fault; diff compares the runs.
func TestExpectedFailuresReplayAndDiffAgainstAFault(t *testing.T) {
	const fault = "enroll-start-200"
	dir := t.TempDir()
	first := filepath.Join(dir, "first")
	code, stdout, stderr := runCmd(t, "run", "--fault", fault, "--label-filter", "enroll", "--report-dir", first)
	if code != exitFailures {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailures, stdout, stderr)
	}
	cert, err := report.ReadCertification(filepath.Join(first, report.CertificationFile))
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range cert.Failed {
		failed = append(failed, f.ID)
	}
	if !slices.Contains(failed, "MA-ENR-001") || cert.Result != report.ProfileFailure || cert.Run.ExitCode != exitFailures {
		t.Fatalf("certification: result %s, failed %v", cert.Result, failed)
	}
	if cert.Run.ReferenceTenant == nil || !slices.Equal(cert.Run.ReferenceTenant.Faults, []string{fault}) {
		t.Errorf("the certification does not record the fault: %+v", cert.Run)
	}
	if _, err := os.Stat(filepath.Join(first, "reference-tenant.yaml")); err == nil {
		t.Error("the reference tenant's config (with its client secret) is left in the report dir")
	}
	if !strings.Contains(stdout, "replay "+filepath.Join(first, jsonReport)) {
		t.Errorf("the output does not say how to reproduce:\n%s", stdout)
	}

	// Every failed requirement listed: the run passes.
	var b strings.Builder
	b.WriteString("expected_failures:\n")
	for _, id := range failed {
		fmt.Fprintf(&b, "  - id: %s\n    reason: enrollment start answers 200 (%s)\n", id, fault)
	}
	expected := writeFile(t, "expected.yaml", b.String())
	code, stdout, stderr = runCmd(t, "run", "--fault", fault, "--label-filter", "enroll", "--expected-failures", expected, "--report-dir", filepath.Join(dir, "expected"))
	if code != exitConformant {
		t.Fatalf("with every failure expected: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`expected failure MA-ENR-001 +ok: failed as expected`).MatchString(stdout) {
		t.Errorf("output does not report the expected failure:\n%s", stdout)
	}

	// A listed requirement that passes, or one that goes untested, fails the run.
	for _, tc := range []struct{ id, says string }{{"AUTH-PK-001", "passed unexpectedly"}, {"MA-ENR-002", "untested"}} {
		broken := writeFile(t, "broken.yaml", b.String()+"  - id: "+tc.id+"\n    reason: thought broken\n")
		code, stdout, stderr = runCmd(t, "run", "--fault", fault, "--label-filter", "enroll || AUTH-PK-001", "--expected-failures", broken, "--report-dir", filepath.Join(dir, "broken"))
		if code != exitFailures || !regexp.MustCompile(`expected failure `+tc.id+` +BROKEN: `+tc.says).MatchString(stdout) {
			t.Errorf("%s listed but %s: exit %d, want %d\n%s\n%s", tc.id, tc.says, code, exitFailures, stdout, stderr)
		}
	}

	// Replay: the failed specs only, on a reference tenant with the same fault.
	replayDir := filepath.Join(dir, "replay")
	code, stdout, stderr = runCmd(t, "replay", filepath.Join(first, jsonReport), "--report-dir", replayDir)
	if code != exitFailures {
		t.Fatalf("replay: exit %d, want %d\n%s\n%s", code, exitFailures, stdout, stderr)
	}
	if !strings.Contains(stdout, "--fault "+fault) || !strings.Contains(stdout, "--label-filter enroll") {
		t.Errorf("replay does not say it uses the fault and the original label filter:\n%s", stdout)
	}
	rr, err := report.LoadJSON(filepath.Join(replayDir, jsonReport))
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]report.Result{}
	for _, s := range report.Specs(rr) {
		if !s.NotRun {
			ran[s.Text] = s.Result
		}
	}
	fr, err := report.LoadJSON(filepath.Join(first, jsonReport))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range report.Specs(fr) {
		_, again := ran[s.Text]
		switch {
		case s.Result == report.Fail && ran[s.Text] != report.Fail:
			t.Errorf("replay did not fail %q again: %v", s.Text, ran[s.Text])
		case s.Result == report.Pass && again && !s.Ordered:
			t.Errorf("replay ran %q, which passed", s.Text)
		}
	}

	// Replay of one requirement of an ordered container runs the container.
	code, stdout, stderr = runCmd(t, "replay", filepath.Join(first, jsonReport), "--id", "MA-ENR-002", "--report-dir", filepath.Join(dir, "one"))
	if code != exitFailures || !strings.Contains(stdout, "MA-ENR-001") {
		t.Errorf("replay --id MA-ENR-002: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// diff: the same report is the same, and so is a run with the same results;
	// a run that also selected AUTH-PK-001 differs there.
	if code, stdout, _ := runCmd(t, "diff", filepath.Join(first, jsonReport), filepath.Join(first, jsonReport)); code != 0 || !strings.Contains(stdout, "same results") {
		t.Errorf("diff of a report with itself: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCmd(t, "diff", filepath.Join(first, jsonReport), filepath.Join(dir, "expected", jsonReport))
	if code != 0 {
		t.Errorf("diff of two runs with the same results: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCmd(t, "diff", filepath.Join(first, jsonReport), filepath.Join(dir, "broken", jsonReport))
	if code != exitFailures || !regexp.MustCompile(`NOT SELECTED → PASS +AUTH-PK-001`).MatchString(stdout) || !strings.Contains(stdout, "NOT SELECTED → PASS") {
		t.Errorf("diff of runs with different filters: exit %d\n%s", code, stdout)
	}
	if strings.Contains(stdout, "got worse") {
		t.Errorf("a requirement left out by the filters is not a regression:\n%s", stdout)
	}
	// From a clean run to the faulty one: MA-ENR-001 got worse.
	clean := filepath.Join(dir, "clean")
	if code, stdout, stderr := runCmd(t, "run", "--label-filter", "enroll", "--report-dir", clean); code != exitConformant {
		t.Fatalf("clean run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCmd(t, "diff", filepath.Join(clean, jsonReport), filepath.Join(first, jsonReport))
	if code != exitFailures || !regexp.MustCompile(`(?m)^! PASS +→ FAIL +MA-ENR-001 `).MatchString(stdout) || !strings.Contains(stdout, "got worse") {
		t.Errorf("diff of a clean and a faulty run: exit %d\n%s", code, stdout)
	}
}

func TestExpectedFailuresFileErrorsNameTheEntry(t *testing.T) {
	for content, want := range map[string]string{
		"expected_failures:\n  - id: MA-NOPE-999\n    reason: x\n":                                   "MA-NOPE-999 is not a requirement",
		"expected_failures:\n  - id: MA-ENR-001\n":                                                   "reason is empty",
		"expected_failures:\n  - id: MA-ENR-001\n    reason: a\n  - id: MA-ENR-001\n    reason: b\n": "listed twice",
		"expected_failures:\n  - id: MA-ENR-001\n    reason: a\n    reson: b\n":                      `"reson"`,
		"expected_failures: []\n": "no entries",
	} {
		f := writeFile(t, "expected.yaml", content)
		code, _, stderr := runCmd(t, "run", "--expected-failures", f, "--report-dir", t.TempDir())
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d, stderr does not say %q:\n%s", content, code, want, stderr)
		}
	}
}

func TestReplayUsage(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCmd(t, "replay"); code != exitUsage || !strings.Contains(stderr, "report.json") {
		t.Errorf("replay without a report: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "replay", filepath.Join(dir, "missing.json")); code != exitUsage {
		t.Errorf("replay of a missing report: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "diff", "one.json"); code != exitUsage {
		t.Errorf("diff of one report: exit %d\n%s", code, stderr)
	}
}
