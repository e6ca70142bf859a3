package spec

import (
	"bytes"
	"encoding/json"
	"math"
	"mime"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaCache answers "does kin-openapi accept this value?" for the schemas of
// one OpenAPI 3.1 document without compiling a schema per value. kin-openapi
// (v0.153) compiles a JSON Schema validator on every Schema.VisitJSON call under
// JSON Schema 2020, and for most of our schemas (those with $refs and no 2020
// keyword) then throws it away and uses its own validator: that compiling was
// about a third of a worker's CPU. The cache decides once per schema what
// kin-openapi would do, and does only that; a schema it cannot decide for is
// left to kin-openapi. Where the answer is no, callers ask kin-openapi again for
// its errors, which the reports show (TestSchemaCacheAgreesWithKinOpenAPI holds
// the two answers together on our documents).
type schemaCache struct {
	components map[string]any            // the document's component schemas, as JSON, for $refs
	owned      map[*openapi3.Schema]bool // the document's schemas: $refs in others may point elsewhere
	mu         sync.Mutex
	entries    map[*openapi3.Schema]*cachedSchema
}

// cachedSchema is how kin-openapi validates against one schema.
type cachedSchema struct {
	once sync.Once
	// legacy: kin-openapi's own validator (it falls back to it for a schema with
	// component $refs and no JSON Schema 2020 keyword); compiled: the JSON Schema
	// 2020 validator kin-openapi would build; neither: ask kin-openapi each time.
	legacy   bool
	compiled *jsonschema.Schema
}

func newSchemaCache(doc *openapi3.T) *schemaCache {
	c := &schemaCache{entries: map[*openapi3.Schema]*cachedSchema{}, owned: map[*openapi3.Schema]bool{}}
	_ = doc.WalkSchemas(func(_ string, ref *openapi3.SchemaRef) error {
		if ref.Value != nil {
			c.owned[ref.Value] = true
		}
		return nil
	})
	if doc.Components != nil && len(doc.Components.Schemas) > 0 {
		if raw, err := json.Marshal(doc.Components.Schemas); err == nil {
			_ = json.Unmarshal(raw, &c.components)
		}
	}
	return c
}

// fits says whether s.VisitJSON(value, opts..., EnableJSONSchema2020()) returns
// nil, without calling it where the cache knows the answer.
func (c *schemaCache) fits(s *openapi3.Schema, value any, opts ...openapi3.SchemaValidationOption) bool {
	if s == nil {
		return true
	}
	var e *cachedSchema
	if c != nil && c.owned[s] {
		c.mu.Lock()
		if e = c.entries[s]; e == nil {
			e = &cachedSchema{}
			c.entries[s] = e
		}
		c.mu.Unlock()
		e.once.Do(func() { c.build(e, s) })
	}
	switch {
	case e == nil:
	case e.legacy:
		// Without the 2020 option kin-openapi goes straight to its own validator;
		// the option changes nothing else there for a schema without nullable.
		return s.VisitJSON(value, opts...) == nil
	case e.compiled != nil:
		return e.compiled.Validate(value) == nil
	}
	return s.VisitJSON(value, append(slices.Clone(opts), openapi3.EnableJSONSchema2020())...) == nil
}

// build decides, as kin-openapi's useJSONSchema2020 does, how s is validated.
func (c *schemaCache) build(e *cachedSchema, s *openapi3.Schema) {
	if anyNullable(s) {
		return // the 2020 option makes kin-openapi ignore nullable: leave it to kin-openapi
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return
	}
	var document any
	if err := json.Unmarshal(raw, &document); err != nil {
		return
	}
	hasRefs := containsComponentRef(document)
	uses2020 := usesJSONSchema2020Features(s)
	if hasRefs && !uses2020 {
		e.legacy = true
		return
	}
	m, isObject := document.(map[string]any)
	if hasRefs {
		if !isObject || c.components == nil {
			return
		}
		// kin-openapi copies each referenced component into $defs; keeping the
		// components where the $refs point compiles the same schemas.
		m["components"] = map[string]any{"schemas": c.components}
	}
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	formats := map[string]bool{}
	collectFormats(document, formats)
	if len(formats) > 0 {
		for f := range formats {
			compiler.RegisterFormat(&jsonschema.Format{Name: f, Validate: formatCheck(f)})
		}
		compiler.AssertFormat()
	}
	const url = "https://example.com/schema.json"
	if err := compiler.AddResource(url, document); err != nil {
		return
	}
	compiled, err := compiler.Compile(url)
	if err != nil {
		return // kin-openapi would fall back or fail: ask it
	}
	e.compiled = compiled
}

// usesJSONSchema2020Features mirrors kin-openapi's schemaUsesJSONSchema2020Features
// (v0.153): the keywords whose presence keeps a schema with $refs on the JSON
// Schema 2020 validator.
func usesJSONSchema2020Features(s *openapi3.Schema) bool {
	found := false
	_ = openapi3.NewSchemaRef("", s).WalkSubtree(func(_ string, ref *openapi3.SchemaRef) error {
		x := ref.Value
		if x == nil {
			return nil
		}
		if x.Const != nil || len(x.PrefixItems) != 0 || x.Contains != nil ||
			len(x.PatternProperties) != 0 || len(x.DependentSchemas) != 0 || x.PropertyNames != nil ||
			x.UnevaluatedItems.Has != nil || x.UnevaluatedItems.Schema != nil ||
			x.UnevaluatedProperties.Has != nil || x.UnevaluatedProperties.Schema != nil ||
			x.If != nil || x.Then != nil || x.Else != nil ||
			len(x.DependentRequired) != 0 || len(x.Defs) != 0 || x.ContentSchema != nil {
			found = true
		}
		return nil
	})
	return found
}

func anyNullable(s *openapi3.Schema) bool {
	found := false
	_ = openapi3.NewSchemaRef("", s).WalkSubtree(func(_ string, ref *openapi3.SchemaRef) error {
		if ref.Value != nil && ref.Value.Nullable {
			found = true
		}
		return nil
	})
	return found
}

func containsComponentRef(node any) bool {
	switch node := node.(type) {
	case map[string]any:
		if ref, ok := node["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/schemas/") {
			return true
		}
		for _, v := range node {
			if containsComponentRef(v) {
				return true
			}
		}
	case []any:
		for _, v := range node {
			if containsComponentRef(v) {
				return true
			}
		}
	}
	return false
}

func collectFormats(node any, out map[string]bool) {
	switch node := node.(type) {
	case map[string]any:
		if f, ok := node["format"].(string); ok && f != "" {
			out[f] = true
		}
		for _, v := range node {
			collectFormats(v, out)
		}
	case []any:
		for _, v := range node {
			collectFormats(v, out)
		}
	}
}

// formatCheck checks a format as kin-openapi does with formatOptions: our string
// formats first, then kin-openapi's registered ones; numbers by its number and
// integer formats.
func formatCheck(format string) func(any) error {
	return func(value any) error {
		switch v := value.(type) {
		case string:
			f, ok := stringFormats[format]
			if !ok {
				if f, ok = openapi3.SchemaStringFormats[format]; !ok {
					return nil
				}
			}
			return f.Validate(v)
		case json.Number:
			if n, err := v.Float64(); err == nil {
				return numberFormatCheck(format, n)
			}
		case float64:
			return numberFormatCheck(format, v)
		case int:
			return numberFormatCheck(format, float64(v))
		case int64:
			return numberFormatCheck(format, float64(v))
		}
		return nil
	}
}

func numberFormatCheck(format string, v float64) error {
	if v == math.Trunc(v) && !math.IsInf(v, 0) {
		if f, ok := openapi3.SchemaIntegerFormats[format]; ok {
			return f.Validate(int64(v))
		}
	}
	if f, ok := openapi3.SchemaNumberFormats[format]; ok {
		return f.Validate(v)
	}
	return nil
}

// bodyAccepted says whether kin-openapi would accept body, of the given content
// type, against the content a request body or response describes (opts: as it
// validates a request or a response); false also when the cache cannot tell.
func (c *schemaCache) bodyAccepted(content openapi3.Content, contentType string, body []byte, opts ...openapi3.SchemaValidationOption) bool {
	if c == nil || len(body) == 0 { // before OpenAPI 3.1 kin-openapi compiles nothing: let it check
		return false
	}
	mt := content.Get(contentType)
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || len(mt.Encoding) > 0 {
		return false
	}
	s := mt.Schema.Value
	if s.Type.Is("string") && s.Format == "binary" {
		return false
	}
	value, ok := decodeJSONBody(contentType, body)
	return ok && c.fits(s, value, opts...)
}

// decodeJSONBody decodes a body as kin-openapi's JSON body decoder does, for the
// media types it decodes that way that our documents use; ok is false otherwise.
func decodeJSONBody(contentType string, body []byte) (value any, ok bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && mt != "application/problem+json") {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&value); err != nil {
		return nil, false
	}
	return value, true
}
