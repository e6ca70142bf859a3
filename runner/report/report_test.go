package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

func it(text string, state types.SpecState, msg string, ids ...string) types.SpecReport {
	return types.SpecReport{
		ContainerHierarchyTexts: []string{"Area"},
		LeafNodeType:            types.NodeTypeIt,
		LeafNodeText:            text,
		LeafNodeLabels:          ids,
		State:                   state,
		Failure:                 types.Failure{Message: msg},
	}
}

// The catalogue's real IDs: AUTH-PK-005 is a SHOULD, the others MUSTs.
func fixture() types.Report {
	failed := it("fails", types.SpecStateFailed, "answered 200, want 202", "MA-ENR-001", "MA-ENR-008")
	failed.ReportEntries = types.ReportEntries{
		{Name: verdict.Exchanges, Value: types.WrapEntryValue("> POST https://x/me/v1/authentication-methods\n< 200 OK")},
		{Name: verdict.Curl, Value: types.WrapEntryValue("curl -sS -X POST 'https://x/me/v1/authentication-methods'")},
	}
	return types.Report{SpecReports: types.SpecReports{
		it("passes", types.SpecStatePassed, "", "AUTH-PK-001"),
		failed,
		it("passes too", types.SpecStatePassed, "", "MA-ENR-002"),
		it("skipped after an ordered failure", types.SpecStateSkipped, "Spec skipped because an earlier spec in an ordered container failed", "MA-ENR-002"),
		it("warns", types.SpecStateFailed, "counter not checked", "AUTH-PK-005"),
		it("cannot decide", types.SpecStateFailed, verdict.InconclusivePrefix+"unreachable", "MA-AUTHZ-001"),
		it("filtered out", types.SpecStateSkipped, "", "MA-AUTHZ-002"),
		it("uses an ID the catalogue lacks", types.SpecStateFailed, "boom", "ZZ-NEW-001"),
		{LeafNodeType: types.NodeTypeReportAfterSuite, State: types.SpecStatePassed},
	}}
}

func TestRequirementResults(t *testing.T) {
	catalogue, err := spec.Requirements()
	if err != nil {
		t.Fatal(err)
	}
	o := Build(Input{Report: fixture(), Catalogue: catalogue, Expected: map[string]string{
		"MA-ENR-001": "known bug", "AUTH-PK-001": "thought broken", "MA-AUTHZ-001": "flaky", "MA-AUTHZ-002": "not run",
	}, Run: Run{Finished: time.Now()}})
	got := map[string]Requirement{}
	for _, r := range o.Requirements {
		got[r.ID] = r
	}
	for id, want := range map[string]Result{
		"AUTH-PK-001": Pass, "MA-ENR-001": Fail, "MA-ENR-008": Fail, "MA-ENR-002": Skip, "AUTH-PK-005": Fail,
		"MA-AUTHZ-001": Inconclusive, "MA-AUTHZ-002": Skip, "MA-API-001": Skip, "ZZ-NEW-001": Fail,
	} {
		if got[id].Result != want {
			t.Errorf("%s: %s, want %s (%s)", id, got[id].Result, want, got[id].Reason)
		}
	}
	if r := got["MA-ENR-002"]; !strings.Contains(r.Reason, "1 of 2 specs skipped") || !strings.Contains(r.Reason, "ordered container") {
		t.Errorf("MA-ENR-002 reason: %q", r.Reason)
	}
	if r := got["MA-API-001"]; r.Reason != NoSpec {
		t.Errorf("MA-API-001 reason: %q", r.Reason)
	}
	if !got["MA-AUTHZ-002"].NotSelected || got["MA-AUTHZ-002"].Reason != NotSelected {
		t.Errorf("MA-AUTHZ-002: %+v", got["MA-AUTHZ-002"])
	}
	if !got["AUTH-PK-005"].Warning || got["MA-ENR-001"].Warning {
		t.Error("a failed SHOULD is a warning, a failed MUST is not")
	}
	if got["ZZ-NEW-001"].Profile != Uncatalogued {
		t.Errorf("unknown ID: %+v", got["ZZ-NEW-001"])
	}

	c := o.Certification
	profiles := map[string]Profile{}
	for _, p := range c.Profiles {
		profiles[p.Name] = p
	}
	if p := profiles["core"]; p.Result != ProfileFailure || p.Warnings != 1 || p.Inconclusive != 1 {
		t.Errorf("core: %+v", p)
	}
	if c.Result != ProfileFailure {
		t.Errorf("overall %s", c.Result)
	}
	if s := c.Statistics.Specs; s.Total != 8 || s.Ran != 6 || s.Passed != 2 || s.Failed != 3 || s.Warnings != 1 || s.Inconclusive != 1 || s.Skipped != 1 || s.NotSelected != 1 {
		t.Errorf("spec statistics %+v", s)
	}

	outcomes := map[string]ExpectedOutcome{}
	for _, e := range c.ExpectedFailures {
		outcomes[e.ID] = e
	}
	for id, want := range map[string]struct {
		outcome string
		ok      bool
	}{
		"MA-ENR-001": {ExpectedFailed, true}, "AUTH-PK-001": {ExpectedPassed, false},
		"MA-AUTHZ-001": {ExpectedUntested, false}, "MA-AUTHZ-002": {ExpectedNotSelected, true},
	} {
		if e := outcomes[id]; !strings.HasPrefix(e.Outcome, want.outcome) || e.OK != want.ok {
			t.Errorf("expected failure %s: %+v, want %s ok=%v", id, e, want.outcome, want.ok)
		}
	}
	if len(o.Broken()) != 2 {
		t.Errorf("broken expectations: %+v", o.Broken())
	}
	failedSpec := o.Specs[1]
	if !Excused(failedSpec, map[string]string{"MA-ENR-001": "x", "MA-ENR-008": "y"}) || Excused(failedSpec, map[string]string{"MA-ENR-001": "x"}) {
		t.Error("a failed spec is excused only when every MUST it checks is expected to fail")
	}
	if failedSpec.Exchanges == "" || failedSpec.Curl == "" {
		t.Errorf("exchanges and curl line not read from the report entries: %+v", failedSpec)
	}
}

func TestProfileResults(t *testing.T) {
	for _, tc := range []struct {
		c    Counts
		want string
	}{
		{Counts{Requirements: 3, Passed: 3}, ProfileSuccess},
		{Counts{Requirements: 3, Passed: 2, Failed: 1, Warnings: 1}, ProfileSuccess},
		{Counts{Requirements: 3, Passed: 2, Skipped: 1}, ProfilePartial},
		{Counts{Requirements: 3, Passed: 2, Inconclusive: 1}, ProfilePartial},
		{Counts{Requirements: 3, Passed: 1, Skipped: 1, Failed: 1}, ProfileFailure},
	} {
		if got := tc.c.Result(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.c, got, tc.want)
		}
	}
}

func TestRedactReachesEveryText(t *testing.T) {
	const secret = "s3cr3t-token-value"
	r := fixture()
	r.SpecReports[1].Failure.Message = "body: {\"access_token\":\"" + secret + "\"}"
	r.SpecReports[1].CapturedGinkgoWriterOutput = secret
	r.SpecReports[1].ReportEntries = append(r.SpecReports[1].ReportEntries, types.ReportEntry{Name: "x", Value: types.WrapEntryValue(secret)})
	red := Redact(r, func(s string) string { return strings.ReplaceAll(s, secret, "$ACCESS_TOKEN") })
	dir := t.TempDir()
	catalogue, _ := spec.Requirements()
	o := Build(Input{Report: red, Catalogue: catalogue, Run: Run{Finished: time.Now()}})
	if err := o.WriteYAML(dir); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteHTML(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CertificationFile, HTMLFile} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		if strings.Contains(string(data), secret) {
			t.Errorf("%s holds the secret", f)
		}
	}
	if !strings.Contains(r.SpecReports[1].Failure.Message, secret) {
		t.Error("Redact changed the original report")
	}
	if strings.Contains(red.SpecReports[1].CapturedGinkgoWriterOutput, secret) || strings.Contains(EntryString(red.SpecReports[1].ReportEntries[2]), secret) {
		t.Error("captured output or report entry not redacted")
	}
}

func TestCertificationRoundTrip(t *testing.T) {
	catalogue, _ := spec.Requirements()
	dir := t.TempDir()
	o := Build(Input{Report: fixture(), Catalogue: catalogue, Run: Run{Finished: time.Now(), ReferenceTenant: &ReferenceTenant{Faults: []string{"enroll-start-200"}}}})
	if err := o.WriteYAML(dir); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCertification(filepath.Join(dir, CertificationFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.Run.ReferenceTenant == nil || c.Run.ReferenceTenant.Faults[0] != "enroll-start-200" || len(c.Failed) != len(o.Certification.Failed) {
		t.Errorf("round trip lost data: %+v", c.Run)
	}
}

func TestPicturesSkipsFilesFromEarlierRuns(t *testing.T) {
	dir := t.TempDir()
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`
	for _, n := range []string{"old.svg", "new.svg"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(svg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	old := start.Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "old.svg"), old, old); err != nil {
		t.Fatal(err)
	}
	pics, err := Pictures(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(pics) != 1 || pics[0].Name != "new.svg" || !strings.HasPrefix(string(pics[0].Src), "data:image/svg+xml;base64,") {
		t.Errorf("pictures: %+v", pics)
	}
}
