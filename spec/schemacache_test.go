package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestSchemaCacheAgreesWithKinOpenAPI: for every body and header schema of our
// documents, and values that fit them and values that break them one way each,
// the schema cache accepts exactly what kin-openapi accepts. (A value the cache
// does not accept is checked by kin-openapi anyway; accepting one that
// kin-openapi refuses would hide a defect.)
func TestSchemaCacheAgreesWithKinOpenAPI(t *testing.T) {
	v := newValidator(t)
	var accepted, refused int
	for _, d := range v.docs {
		if d.schemas == nil {
			t.Fatalf("%s: no schema cache for an OpenAPI 3.1 document", d.file)
		}
		for _, c := range schemasOf(d) {
			for i, value := range valuesFor(c.schema) {
				kin := c.schema.VisitJSON(value, append(slices.Clone(c.opts), openapi3.EnableJSONSchema2020())...)
				got := d.schemas.fits(c.schema, value, c.opts...)
				if got != (kin == nil) {
					raw, _ := json.Marshal(value)
					t.Errorf("%s %s, value %d %s: cache accepts=%v, kin-openapi: %v", d.file, c.where, i, raw, got, kin)
				}
				if kin == nil {
					accepted++
				} else {
					refused++
				}
			}
		}
	}
	// Both answers must have been compared many times, or the test proves nothing.
	t.Logf("accepted %d, refused %d", accepted, refused)
	if accepted < 100 || refused < 500 {
		t.Fatalf("compared %d accepted and %d refused values; want many of each", accepted, refused)
	}
}

type namedSchema struct {
	where  string
	schema *openapi3.Schema
	opts   []openapi3.SchemaValidationOption // as a request's or a response's
}

// schemasOf lists the schemas a document checks bodies and headers against.
func schemasOf(d *routedDoc) []namedSchema {
	var out []namedSchema
	seen := map[*openapi3.Schema]bool{}
	keep := func(where string, s *openapi3.Schema, opts []openapi3.SchemaValidationOption) {
		if !seen[s] {
			seen[s] = true
			out = append(out, namedSchema{where, s, opts})
		}
	}
	for path, item := range d.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				for ct, mt := range rb.Value.Content {
					if mt.Schema != nil && mt.Schema.Value != nil {
						keep(fmt.Sprintf("%s %s request %s", method, path, ct), mt.Schema.Value, requestBodyOptions)
					}
				}
			}
			for code, r := range op.Responses.Map() {
				if r.Value == nil {
					continue
				}
				for ct, mt := range r.Value.Content {
					if mt.Schema != nil && mt.Schema.Value != nil {
						keep(fmt.Sprintf("%s %s %s %s", method, path, code, ct), mt.Schema.Value, responseBodyOptions)
					}
				}
				for name, h := range d.headers[r.Value] {
					if h.Value != nil && h.Value.Schema != nil && h.Value.Schema.Value != nil {
						keep(fmt.Sprintf("%s %s %s header %s", method, path, code, name), h.Value.Schema.Value, headerOptions)
					}
				}
			}
		}
	}
	return out
}

// valuesFor is a value each branch of s accepts (where the derivation can make
// one), that value broken one way at a time, and values of every JSON type, all
// as kin-openapi decodes a body (numbers as json.Number).
func valuesFor(s *openapi3.Schema) []any {
	var raws [][]byte
	add := func(v any) {
		if raw, err := json.Marshal(v); err == nil {
			raws = append(raws, raw)
		}
	}
	branches := []*openapi3.Schema{s}
	for _, alts := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		for _, r := range alts {
			if r.Value != nil {
				branches = append(branches, r.Value)
			}
		}
	}
	for _, b := range branches {
		base := sample(b)
		if base == nil {
			continue
		}
		add(base)
		if m, ok := base.(map[string]any); ok {
			for _, bad := range DeriveBodies(b, m) {
				raws = append(raws, bad.Body)
			}
			// Optional members, with a sample value each, the way a server fills them.
			full := clone(m)
			for name, p := range flatten(b).Properties {
				if _, ok := full[name]; !ok && p.Value != nil {
					if v := sample(p.Value); v != nil {
						full[name] = v
					}
				}
			}
			add(full)
		}
	}
	for _, raw := range []string{`null`, `{}`, `[]`, `"x"`, `1`, `1.5`, `-1`, `true`, `{"type": "passkey"}`, `{"x": 1}`,
		passkeyMethod, passkeyEnrollment, problem, `{"authentication_methods": [` + passkeyMethod + `]}`} {
		raws = append(raws, []byte(raw))
	}
	var out []any
	for _, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			out = append(out, v)
		}
	}
	return out
}
