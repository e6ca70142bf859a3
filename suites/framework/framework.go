// Package framework is what every area of the suite stands on: the run's framework
// (F, set with Use before Ginkgo runs), the one set of suite-wide hooks, labels
// (AreaOf and Req, the only ways a spec gets them), one user Pool and Budget,
// INCONCLUSIVE (Undecided), and the shared steps, each in the file named for it:
// users, logins, enrollment, refusals, tokens, connected accounts, waiting.
package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// F is the framework of the current run.
var F *harness.Framework

// Use sets the framework the specs run with. Call it before RunSpecs.
func Use(f *harness.Framework) { F = f }

var _ = BeforeEach(func() {
	if F == nil {
		Fail("framework.Use was not called: no target")
	}
	F.Recorder.Reset()
})

// After the last spec: delete the users the run signed up (when the target config
// gives a Management API client), and leave the run's traffic, its users and what
// it could not remove in the report.
var _ = AfterSuite(func(ctx SpecContext) {
	if F == nil {
		return
	}
	for i := len(runCleanups) - 1; i >= 0; i-- {
		runCleanups[i](ctx)
	}
	var ids []string
	for _, line := range F.Users.Lines() {
		id, _, _ := strings.Cut(line, " ")
		ids = append(ids, id)
	}
	deleted := "not deleted (no management client in the target config)"
	if F.Target.Management.ClientID != "" {
		deleted = "deleted through the Management API"
		for _, err := range F.DeleteUsers(ctx, ids) {
			F.Leftovers.Add(err.Error())
		}
	}
	// The model goes along with the figures: a run in several processes attaches one
	// entry per process, and the report recomputes the floor over their sum. For the
	// report only: the runner's summary says what they hold.
	AddReportEntry(verdict.Traffic, string(F.Client.Pacer.Entry()), ReportEntryVisibilityNever)
	// The first worker of a parallel run attaches the parent's too (its probe and
	// preflight drew on the same limits).
	if dir := F.Client.Pacer.SharedDir(); dir != "" && GinkgoParallelProcess() == 1 {
		if data, err := os.ReadFile(filepath.Join(dir, pace.ParentTrafficFile)); err == nil {
			AddReportEntry(verdict.Traffic, string(data), ReportEntryVisibilityNever)
		}
	}
	users, _ := json.Marshal(map[string]any{"users": F.Users.Lines(), "users_were": deleted, "leftovers": F.Leftovers.Lines()})
	AddReportEntry(verdict.Users, string(users), ReportEntryVisibilityNever)
})

// AllExchanges attaches the exchanges of every spec as exchange records, not only
// those of a failed one (the runner's `run --har all`).
var AllExchanges bool

// ExchangeRecords names the report entry holding a spec's redacted exchanges as JSON
// (the runner's report.har is built from it; runner/report reads the same name).
const ExchangeRecords = "exchange_records"

// On failure, attach the redacted exchanges and a curl line for the last request, so
// the report alone is enough to reproduce and fix; and the same exchanges as JSON
// records, for report.har.
var _ = AfterEach(func() {
	if F == nil {
		return
	}
	failed := CurrentSpecReport().Failed()
	if !failed && !AllExchanges {
		return
	}
	ex := F.Recorder.Exchanges()
	if len(ex) == 0 {
		return
	}
	var records bytes.Buffer
	enc := json.NewEncoder(&records)
	enc.SetEscapeHTML(false) // the text as the redactor sees it: no \u0026 hiding a secret
	if enc.Encode(ex) == nil {
		AddReportEntry(ExchangeRecords, strings.TrimSpace(records.String()), ReportEntryVisibilityNever)
	}
	if !failed {
		return
	}
	var b strings.Builder
	for i, e := range ex {
		fmt.Fprintf(&b, "--- exchange %d of %d\n%s", i+1, len(ex), evidence.FormatExchange(e))
	}
	AddReportEntry(verdict.Exchanges, b.String(), ReportEntryVisibilityFailureOrVerbose)
	AddReportEntry(verdict.Curl, evidence.CurlLine(ex[len(ex)-1], F.Target.Resolve, F.Target.CAFile), ReportEntryVisibilityFailureOrVerbose)
})

// runCleanups are what shared fixtures of this process (a contract user pool) left
// to remove, newest first, when its last spec is done.
var runCleanups []func(ctx context.Context)

// AfterRun registers a cleanup for the end of this process's specs: for fixtures
// shared by specs of several containers, which no one container's DeferCleanup fits.
func AfterRun(f func(ctx context.Context)) { runCleanups = append(runCleanups, f) }
