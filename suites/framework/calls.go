package framework

// Steps every spec uses to send requests and judge the answers.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

// Deliver fails the spec on transport failures only; a target that cannot be reached,
// or that keeps answering 429 after the client waited as told, makes the spec
// inconclusive. Error-case specs judge the response themselves (refusalProblems);
// call adds the OpenAPI verdicts.
func Deliver(resp *harness.Response, err error) *harness.Response {
	GinkgoHelper()
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			AddReportEntry(verdict.Inconclusive, ue.Error())
			Fail(verdict.InconclusivePrefix + ue.Error())
		}
		Fail("request failed: " + err.Error())
	}
	if resp.Status == http.StatusTooManyRequests {
		// The client retried after retry-after already: a limit decided, not the check.
		Undecided(fmt.Sprintf("%s %s kept answering 429 (retry-after %q) after the suite waited as asked; a rate limit, not the behaviour under test, decided. The suite paces itself under rate_limit (%s): if the target's limits are lower, say so in the target config",
			resp.Exchange.Method, resp.Exchange.URL, resp.Header.Get("Retry-After"), F.Client.Pacer.Limits()))
	}
	return resp
}

// Call sends a request and fails the spec when the target cannot be reached or when
// the exchange breaks the API description (naming the field).
func Call(resp *harness.Response, err error) *harness.Response {
	GinkgoHelper()
	resp = Deliver(resp, err)
	if resp.RequestViolation != nil {
		Fail("suite bug: the suite's own request breaks the API description: " + resp.RequestViolation.Error())
	}
	if resp.Violation != nil {
		Fail(fmt.Sprintf("%s %s answered %d, which breaks the API description:\n%s", resp.Exchange.Method, resp.Exchange.URL, resp.Status, resp.Violation))
	}
	return resp
}

// Send is call for a plain request.
func Send(ctx context.Context, r *harness.Request) *harness.Response {
	GinkgoHelper()
	return Call(F.Client.Do(ctx, r))
}

// RequireCustomDomain skips when the target has no custom domain.
func RequireCustomDomain() string {
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

// Undecided ends the spec as INCONCLUSIVE: neither pass nor fail.
func Undecided(msg string) {
	GinkgoHelper()
	AddReportEntry(verdict.Inconclusive, msg)
	Fail(verdict.InconclusivePrefix + msg)
}

func Pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
