package runner

import (
	"encoding/xml"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
)

// junitCases counts the specs (It) of a junit.xml by their status.
func junitCases(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name   string `xml:"name,attr"`
				Status string `xml:"status,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]int{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if strings.HasPrefix(c.Name, "[It]") { // suite nodes run once per process
				out[c.Status]++
			}
		}
	}
	return out
}

// A run in worker processes keeps one result per spec in every report, as a run in
// one process does, and its exit code and summary come from the specs' results.
func TestParallelRunKeepsOneResultPerSpec(t *testing.T) {
	t.Parallel()
	// A few specs of several areas, one of them Serial (the expired-token spec is,
	// as the rate-limit specs are), with a token lifetime it need not wait long for.
	filter := "MA-MTH-012 || MA-AUTHZ-007 || AUTH-DOM-001 || MA-AUTHZ-009"
	serialDir, parallelDir := t.TempDir(), t.TempDir()
	code, out, stderr := runCmd(t, "run", "--procs", "1", "--token-ttl", "5s", "--label-filter", filter, "--report-dir", serialDir)
	if code != exitConformant {
		t.Fatalf("--procs 1: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = runCmd(t, "run", "--procs", "2", "--token-ttl", "5s", "--label-filter", filter, "--report-dir", parallelDir)
	if code != exitConformant {
		t.Fatalf("--procs 2: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "profile core") || !strings.Contains(out, "traffic:") {
		t.Errorf("the parallel run's summary lacks the profiles or the traffic line:\n%s", out)
	}
	serial, parallel := junitCases(t, filepath.Join(serialDir, junitReport)), junitCases(t, filepath.Join(parallelDir, junitReport))
	if serial["passed"] == 0 || serial["passed"] != parallel["passed"] || serial["failed"] != parallel["failed"] {
		t.Errorf("junit.xml: --procs 1 gave %v, --procs 2 gave %v", serial, parallel)
	}
	// report.json: the same specs passed, each once, from both processes.
	passed := func(dir string) (map[string]int, map[int]bool) {
		r, err := report.LoadJSON(filepath.Join(dir, jsonReport))
		if err != nil {
			t.Fatal(err)
		}
		seen, procs := map[string]int{}, map[int]bool{}
		for _, s := range r.SpecReports {
			if s.LeafNodeType == types.NodeTypeIt && s.State == types.SpecStatePassed {
				seen[s.FullText()]++
				procs[s.ParallelProcess] = true
			}
		}
		return seen, procs
	}
	want, _ := passed(serialDir)
	got, procs := passed(parallelDir)
	if !maps.Equal(want, got) || len(procs) != 2 {
		t.Errorf("report.json: --procs 1 passed %v;\n--procs 2 passed %v, from processes %v", want, got, procs)
	}
	for name, n := range got {
		if n != 1 {
			t.Errorf("report.json holds %d results for %s", n, name)
		}
	}
	cert, err := os.ReadFile(filepath.Join(parallelDir, "certification.yaml"))
	// Both workers' traffic (the first brings the parent's, its probe and preflight).
	if err != nil || !strings.Contains(string(cert), "processes: 2") {
		t.Errorf("certification.yaml does not merge the traffic of both workers (%v)", err)
	}

	// A fault is caught in a parallel run as in a serial one: exit 1, naming it.
	code, out, _ = runCmd(t, "run", "--procs", "2", "--token-ttl", "5s", "--label-filter", filter, "--fault", "auth-session-reusable", "--report-dir", t.TempDir())
	if code != exitFailures || !strings.Contains(out, "MA-MTH-012") {
		t.Errorf("--procs 2 with a fault: exit %d, want %d naming MA-MTH-012:\n%s", code, exitFailures, out)
	}
}

// The run's own count of its traffic is what the target saw: the reference, every
// limit enforced, counts the same login prompt posts, signups, Authentication API and
// Management API requests as the run's certification, the parent's preflight
// included, and refuses none of them.
func TestRunTrafficIsWhatTheTargetSaw(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Logins through the session on both domains, signups, token requests and the
	// users' deletion (no browser: Chromium's own requests are not the suite's).
	filter := "AUTH-UL-015 || AUTH-DOM-007 || MA-MTH-012 || AUTH-PK-001 || AUTH-PK-002"
	code, out, stderr := runCmd(t, "run", "--procs", "2", "--waive", "none", "--label-filter", filter, "--report-dir", dir)
	if code != exitConformant {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	tr := certTraffic(t, dir)
	if len(tr.BudgetOverruns) > 0 {
		t.Errorf("specs took more from a user's buckets than they asked for:\n%s", strings.Join(tr.BudgetOverruns, "\n"))
	}
	want := fmt.Sprintf("the reference saw %d login prompt posts, %d signups, %d Authentication API and %d Management API requests",
		tr.LoginPosts, tr.Signups, tr.AuthenticationAPI, tr.ManagementAPI)
	if !strings.Contains(out, want) || tr.LoginPosts == 0 || tr.Signups == 0 || tr.ManagementAPI == 0 {
		t.Errorf("the run counted %q;\nthe summary says:\n%s", want, out)
	}
	// The reference refused nothing: neither the limits counted above nor the My
	// Account API's (no rate-limit spec runs here, so a My Account 429 would be an
	// unplanned one).
	for _, line := range strings.Split(out, "\n") {
		if refused, ok := strings.CutPrefix(line, "the reference refused (429): "); ok {
			for _, limit := range []string{"login-prompts", "signups", "authentication-api", "management-api", "my-account-tenant", "my-account-user"} {
				if strings.Contains(refused, limit+" ") {
					t.Errorf("the reference refused %s of the run's requests:\n%s", limit, out)
				}
			}
		}
	}
}
