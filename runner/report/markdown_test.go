package report_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report/reporttest"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// report.md stays short enough for a CI job summary whatever the run: it lists the
// first failures only, says how many more there are, and cuts long messages and curl
// lines; a message holding a code fence cannot close its block.
func TestMarkdownCapped(t *testing.T) {
	in := reporttest.Input()
	long := strings.Repeat("x", 50_000)
	for i := range report.MarkdownFailures + 5 {
		s := types.SpecReport{
			ContainerHierarchyTexts: []string{"contract"}, LeafNodeType: types.NodeTypeIt,
			LeafNodeText: fmt.Sprintf("operation %02d answers as described", i), LeafNodeLabels: []string{"contract", "MA-API-001"},
			State:         types.SpecStateFailed,
			Failure:       types.Failure{Message: "```\nbody: " + long},
			ReportEntries: types.ReportEntries{{Name: verdict.Curl, Value: types.WrapEntryValue("curl -sS 'https://t.example/me/v1/factors' --data-raw \"" + long + "\"")}},
		}
		in.Report.SpecReports = append(in.Report.SpecReports, s)
	}
	md := string(report.Build(in).Markdown())
	if len(md) > 200_000 {
		t.Errorf("report.md is %d bytes", len(md))
	}
	if n := strings.Count(md, "\n#### "); n != report.MarkdownFailures {
		t.Errorf("%d failures listed, want %d", n, report.MarkdownFailures)
	}
	if !strings.Contains(md, "… and 9 more: see report.html.") { // 4 of the fixture, 25 here
		t.Errorf("no word of the failures left out:\n%s", md[len(md)-600:])
	}
	if !strings.Contains(md, "| contract | 0 | **25** |") {
		t.Errorf("the contract area's row is missing")
	}
	if !strings.Contains(md, "````\n```\nbody: xxx") || !strings.Contains(md, "(cut: the whole line is in report.html)") {
		t.Errorf("a message with a fence is not fenced longer, or a curl line is not cut")
	}
}

// A run that checked nothing says so in report.md too.
func TestMarkdownUndecided(t *testing.T) {
	in := reporttest.Input()
	in.Report.SpecReports = nil
	in.Report.SpecialSuiteFailureReasons = []string{verdict.InconclusivePrefix + "the target could not be reached: dial tcp 127.0.0.1:1: connection refused"}
	md := string(report.Build(in).Markdown())
	for _, want := range []string{"❔ **inconclusive**", "**INCONCLUSIVE: nothing was checked.** the target could not be reached", "### Failures\n\nNone."} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}
