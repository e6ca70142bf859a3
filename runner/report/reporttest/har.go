package reporttest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
)

// harSchemaJSON is HAR 1.2 as its specification states it (Jan Odvarko's "HTTP
// Archive 1.2"), written for these tests apart from the Go types that produce
// report.har: required fields and their types, custom fields only with a leading
// underscore.
//
//go:embed har-1.2.schema.json
var harSchemaJSON string

// HARSchema is the compiled HAR 1.2 schema.
func HARSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(harSchemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("har-1.2.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("har-1.2.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// CheckHAR validates a report.har against HAR 1.2 (the schema) and the rules a
// schema cannot say: every pageref names a page, an entry's time is the sum of its
// timings, a response's content size is that of its text; and that each entry names
// its spec and requirements. It returns the archive, read strictly into report.HAR.
func CheckHAR(t testing.TB, data []byte) report.HAR {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("report.har is no JSON: %v", err)
	}
	if err := HARSchema(t).Validate(doc); err != nil {
		t.Fatalf("report.har is no HAR 1.2: %v", err)
	}
	var h report.HAR
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatal(err)
	}
	pages := map[string]bool{}
	for _, p := range h.Log.Pages {
		pages[p.ID] = true
	}
	for i, e := range h.Log.Entries {
		if e.PageRef != "" && !pages[e.PageRef] {
			t.Errorf("entry %d: pageref %q names no page", i, e.PageRef)
		}
		if sum := e.Timings.Send + e.Timings.Wait + e.Timings.Receive; fmt.Sprintf("%.3f", sum) != fmt.Sprintf("%.3f", e.Time) {
			t.Errorf("entry %d: time %v, timings add up to %v", i, e.Time, sum)
		}
		if c := e.Response.Content; c.Size != len(c.Text) {
			t.Errorf("entry %d: content size %d, text of %d bytes", i, c.Size, len(c.Text))
		}
		if e.Comment == "" || e.PageRef == "" {
			t.Errorf("entry %d names no spec: %+v", i, e)
		}
	}
	return h
}
