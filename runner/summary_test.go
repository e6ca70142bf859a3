package runner

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the code prints now")

// The console summary of a fixed, synthetic run (the one whose certification and
// HTML page runner/report/testdata holds) matches testdata/summary.golden: its
// standard output, then its standard error. go test ./runner/ -run Golden -update
// rewrites it; review the diff.
func TestSummaryGolden(t *testing.T) {
	in := reporttest.Input()
	w := &reportWriter{dir: "/reports", info: in.Run, expected: in.Expected}
	w.judge(report.Build(in))
	if w.code != exitFailures || w.outcome.Certification.Run.ExitCode != in.Run.ExitCode {
		t.Errorf("exit code %d, certification says %d; the fixture says %d", w.code, w.outcome.Certification.Run.ExitCode, in.Run.ExitCode)
	}
	var out, errOut strings.Builder
	w.summary(&out, &errOut)
	got := "--- stdout\n" + out.String() + "--- stderr\n" + errOut.String()
	reporttest.Golden(t, filepath.Join("testdata", "summary.golden"), []byte(got), *update)
}
