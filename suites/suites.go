// Package suites holds the conformance specs, one file per area. The runner (or a
// test) hands them a harness.Framework with Use and then runs Ginkgo.
package suites

import (
	"context"
	"errors"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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

// deliver fails the spec on transport failures only (a target that cannot be
// reached makes the spec inconclusive). Error-case specs judge the response
// themselves (refusalProblems); call adds the OpenAPI verdicts.
func deliver(resp *harness.Response, err error) *harness.Response {
	GinkgoHelper()
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			AddReportEntry(verdict.Inconclusive, ue.Error())
			Fail(verdict.InconclusivePrefix + ue.Error())
		}
		Fail("request failed: " + err.Error())
	}
	return resp
}

// call sends a request and fails the spec when the target cannot be reached or when
// the exchange breaks the API description (naming the field).
func call(resp *harness.Response, err error) *harness.Response {
	GinkgoHelper()
	resp = deliver(resp, err)
	if resp.RequestViolation != nil {
		Fail("suite bug: the suite's own request breaks the API description: " + resp.RequestViolation.Error())
	}
	if resp.Violation != nil {
		Fail(fmt.Sprintf("%s %s answered %d, which breaks the API description:\n%s", resp.Exchange.Method, resp.Exchange.URL, resp.Status, resp.Violation))
	}
	return resp
}

// send is call for a plain request.
func send(ctx context.Context, r *harness.Request) *harness.Response {
	GinkgoHelper()
	return call(F.Client.Do(ctx, r))
}

// requireCustomDomain skips when the target has no custom domain.
func requireCustomDomain() string {
	GinkgoHelper()
	if F.Target.CustomDomain == "" {
		Skip("the target config has no custom_domain: native passkey login works only on a custom domain")
	}
	return F.Target.CustomDomain
}

// HaveStatus matches a response's status code and shows the body when it differs.
func HaveStatus(code int) OmegaMatcher {
	return WithTransform(func(r *harness.Response) statusAndBody {
		return statusAndBody{r.Status, string(r.Body)}
	}, HaveField("Status", code))
}

type statusAndBody struct {
	Status int
	Body   string
}
