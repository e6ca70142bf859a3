// Package suites holds the conformance specs, one file per area. The runner (or a
// test) hands them a harness.Framework with Use and then runs Ginkgo.
package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// F is the framework of the current run.
var F *harness.Framework

// Use sets the framework the specs run with. Call it before RunSpecs.
func Use(f *harness.Framework) { F = f }

// Req labels a spec with the requirement IDs it checks. Labels make them selectable
// with --label-filter; the report carries them for per-requirement results.
func Req(ids ...string) Labels {
	return Label(ids...)
}

var _ = BeforeEach(func() {
	if F == nil {
		Fail("suites.Use was not called: no target")
	}
	F.Recorder.Reset()
})

// On failure, attach the redacted exchanges and a curl line for the last request, so
// the report alone is enough to reproduce and fix.
var _ = AfterEach(func() {
	if F == nil || !CurrentSpecReport().Failed() {
		return
	}
	ex := F.Recorder.Exchanges()
	if len(ex) == 0 {
		return
	}
	var b strings.Builder
	for i, e := range ex {
		fmt.Fprintf(&b, "--- exchange %d of %d\n%s", i+1, len(ex), harness.FormatExchange(e))
	}
	AddReportEntry(verdict.Exchanges, b.String(), ReportEntryVisibilityFailureOrVerbose)
	AddReportEntry(verdict.Curl, harness.CurlLine(ex[len(ex)-1], F.Target.Resolve, F.Target.CAFile), ReportEntryVisibilityFailureOrVerbose)
})
