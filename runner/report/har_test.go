package report_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report/reporttest"
)

// The schema refuses what HAR 1.2 refuses: it is no rubber stamp.
func TestHARSchemaRefuses(t *testing.T) {
	schema := reporttest.HARSchema(t)
	for name, doc := range map[string]string{
		"no log":        `{}`,
		"version 1.1":   `{"log":{"version":"1.1","creator":{"name":"x","version":"1"},"entries":[]}}`,
		"no creator":    `{"log":{"version":"1.2","entries":[]}}`,
		"no entries":    `{"log":{"version":"1.2","creator":{"name":"x","version":"1"}}}`,
		"unknown field": `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[],"extra":1}}`,
		"entry without timings": `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"2026-05-01T12:00:00.000Z","time":1,` +
			`"request":{"method":"GET","url":"https://a.test/","httpVersion":"","cookies":[],"headers":[],"queryString":[],"headersSize":-1,"bodySize":0},` +
			`"response":{"status":200,"statusText":"OK","httpVersion":"","cookies":[],"headers":[],"content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":0},"cache":{}}]}}`,
		"date without zone": `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"pages":[{"startedDateTime":"2026-05-01 12:00","id":"p","title":"t","pageTimings":{}}],"entries":[]}}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(v) == nil {
			t.Errorf("%s: the schema took %s", name, doc)
		}
	}
}

// report.har of the synthetic run is HAR 1.2 and matches its golden file: the
// exchanges of the failed and the inconclusive spec, one page each, named with
// their requirement IDs; --har all adds the passed spec's.
func TestHARGolden(t *testing.T) {
	render := func(which string) []byte {
		dir := t.TempDir()
		if err := report.Build(reporttest.Input()).WriteHAR(dir, which); err != nil {
			t.Fatal(err)
		}
		return readFile(t, filepath.Join(dir, report.HARFile))
	}
	failed := render(report.HARFailed)
	if !bytes.Equal(failed, render(report.HARFailed)) {
		t.Error("two renderings of one run differ")
	}
	reporttest.Golden(t, filepath.Join("testdata", "report.har.golden"), failed, *update)

	h := reporttest.CheckHAR(t, failed)
	var titles []string
	for _, p := range h.Log.Pages {
		titles = append(titles, p.Comment+" "+p.Title)
	}
	want := []string{
		"FAIL enroll start answers 202 with the creation options [MA-ENR-008]",
		"INCONCLUSIVE authz a request without a token is refused [MA-AUTHZ-001]",
	}
	if !slices.Equal(titles, want) || len(h.Log.Entries) != 3 {
		t.Errorf("pages %q, %d entries; want %q and 3", titles, len(h.Log.Entries), want)
	}
	e := h.Log.Entries[1]
	if e.Request.PostData == nil || e.Request.PostData.Text != `{"type":"passkey"}` || len(e.Request.Cookies) != 1 ||
		len(e.Response.Cookies) != 1 || !e.Response.Cookies[0].HTTPOnly || e.Violation == "" || e.Response.Status != 200 {
		t.Errorf("the POST entry: %+v", e)
	}
	if q := h.Log.Entries[0].Request.QueryString; len(q) != 2 || q[0] != (report.HARNameValue{Name: "type", Value: "passkey"}) {
		t.Errorf("query string %+v", q)
	}
	if e := h.Log.Entries[2]; e.Response.Status != 0 || e.Error == "" || e.Time != 10000 {
		t.Errorf("the entry of a request that drew no answer: %+v", e)
	}

	all := reporttest.CheckHAR(t, render(report.HARAll))
	if len(all.Log.Pages) != 3 || all.Log.Pages[0].Comment != "PASS" || len(all.Log.Entries) != 4 {
		t.Errorf("--har all: %d pages (first %+v), %d entries", len(all.Log.Pages), all.Log.Pages[0], len(all.Log.Entries))
	}
}

// A run that checked nothing still has its report.har: valid, with no entry, and
// saying why.
func TestHARUndecided(t *testing.T) {
	in := reporttest.Input()
	in.Report.SpecReports = nil
	in.Report.SpecialSuiteFailureReasons = []string{"INCONCLUSIVE: the target could not be reached"}
	dir := t.TempDir()
	if err := report.Build(in).WriteHAR(dir, report.HARFailed); err != nil {
		t.Fatal(err)
	}
	h := reporttest.CheckHAR(t, readFile(t, filepath.Join(dir, report.HARFile)))
	if len(h.Log.Entries) != 0 || !strings.Contains(h.Log.Comment, "the target could not be reached") {
		t.Errorf("%+v", h.Log)
	}
}
