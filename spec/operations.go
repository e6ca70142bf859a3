package spec

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// Operation is one operation of our My Account description, as the suite needs it:
// the description is the index of the suite, so contract checks, the reference
// tenant's routes and the error catalogue are all tied to this list.
type Operation struct {
	ID     string // operationId, e.g. "listAuthenticationMethods"
	Method string // upper case, e.g. "GET"
	// Path is the template relative to /me/v1, e.g.
	// "/authentication-methods/{authentication_method_id}".
	Path string
	// Scopes are the scopes each security scheme requires ("bearer", "dpop").
	Scopes map[string][]string
	// Statuses are the documented response statuses, ascending.
	Statuses []int
	// Lifecycle is the x-status mark: "" (generally available), "early-access" or
	// "planned" (announced, not served: no suite requires it).
	Lifecycle string
	// PathParams and QueryParams are the documented parameters.
	PathParams, QueryParams []Param
	// Body is the request body's JSON schema; nil when the operation takes none.
	Body *openapi3.Schema
	// BodyRequired says a body must be sent.
	BodyRequired bool
}

// Param is one documented parameter.
type Param struct {
	Name     string
	Required bool
	Schema   *openapi3.Schema
	// Explode is set for array query parameters sent as repeated name=value pairs.
	Explode bool
}

// Lifecycle marks (x-status).
const (
	LifecyclePlanned     = "planned"
	LifecycleEarlyAccess = "early-access"
)

// Name is "METHOD /path", as reports and the catalogue show it.
func (o Operation) Name() string { return o.Method + " " + o.Path }

// Planned says the vendor announced the operation but does not serve it.
func (o Operation) Planned() bool { return o.Lifecycle == LifecyclePlanned }

// Scope is the scope the bearer scheme requires (every operation needs exactly one).
func (o Operation) Scope() string {
	if s := o.Scopes["bearer"]; len(s) > 0 {
		return s[0]
	}
	for _, s := range o.Scopes {
		if len(s) > 0 {
			return s[0]
		}
	}
	return ""
}

// Documents says whether status is a documented answer.
func (o Operation) Documents(status int) bool { return slices.Contains(o.Statuses, status) }

// Reads says the operation is a read for the rate limits (GET); writes are POST,
// PUT, PATCH and DELETE (PROTOCOL §6).
func (o Operation) Reads() bool { return o.Method == http.MethodGet || o.Method == http.MethodHead }

// Query returns the documented query parameter of that name.
func (o Operation) Query(name string) (Param, bool) {
	for _, p := range o.QueryParams {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// BodyBranches are the alternatives of the request body: for a oneOf with a
// discriminator, one per discriminator value (keyed by it); for an anyOf or oneOf
// without one, one per alternative keyed by its title; otherwise the body itself
// under "". Every branch is a resolved object schema.
func (o Operation) BodyBranches() map[string]*openapi3.Schema {
	if o.Body == nil {
		return nil
	}
	return Branches(o.Body)
}

// Branches splits a schema into its alternatives, as BodyBranches describes.
func Branches(s *openapi3.Schema) map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	alts := s.OneOf
	if len(alts) == 0 {
		alts = s.AnyOf
	}
	if len(alts) == 0 {
		out[""] = s
		return out
	}
	if d := s.Discriminator; d != nil && len(d.Mapping) > 0 {
		for value, ref := range d.Mapping {
			for _, a := range alts {
				if a.Ref == ref.Ref || strings.HasSuffix(ref.Ref, "/"+refName(a.Ref)) {
					out[value] = a.Value
				}
			}
		}
		return out
	}
	for i, a := range alts {
		key := a.Value.Title
		if key == "" {
			key = refName(a.Ref)
		}
		if key == "" {
			key = strconv.Itoa(i)
		}
		out[key] = a.Value
	}
	return out
}

func refName(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// parsedOperations reads the embedded My Account description once.
var parsedOperations = sync.OnceValues(func() ([]Operation, error) {
	doc, err := loadDocument("myaccount.yaml", myAccountYAML)
	if err != nil {
		return nil, err
	}
	operationSchemas = newSchemaCache(doc)
	return operationsOf(doc)
})

// operationSchemas checks values against the schemas of Operations (the
// derivation's own checks), set with them: read it through derivationSchemas.
var operationSchemas *schemaCache

func derivationSchemas() *schemaCache {
	_, _ = parsedOperations()
	return operationSchemas
}

// Operations lists the operations of our My Account description, in path and
// method order. The schemas are shared: callers must not change them.
func Operations() ([]Operation, error) {
	ops, err := parsedOperations()
	if err != nil {
		return nil, err
	}
	return slices.Clone(ops), nil
}

// OperationByID looks an operation up by operationId.
func OperationByID(id string) (Operation, bool) {
	ops, err := parsedOperations()
	if err != nil {
		return Operation{}, false
	}
	for _, o := range ops {
		if o.ID == id {
			return o, true
		}
	}
	return Operation{}, false
}

// MustOperation is OperationByID for IDs written in code: an unknown ID is a suite bug.
func MustOperation(id string) Operation {
	o, ok := OperationByID(id)
	if !ok {
		panic("spec: no operation " + id + " in myaccount.yaml")
	}
	return o
}

// FindOperation resolves a method and a concrete path below /me/v1 (ids filled in,
// decoded or not) to its operation.
func FindOperation(method, path string) (Operation, bool) {
	ops, err := parsedOperations()
	if err != nil {
		return Operation{}, false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, o := range ops {
		if o.Method != strings.ToUpper(method) {
			continue
		}
		tmpl := strings.Split(strings.Trim(o.Path, "/"), "/")
		if len(tmpl) != len(segs) {
			continue
		}
		match := true
		for i, t := range tmpl {
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				match = match && segs[i] != ""
			} else {
				match = match && t == segs[i]
			}
		}
		if match {
			return o, true
		}
	}
	return Operation{}, false
}

// Fill puts values into the path template, each percent-encoded as a path segment.
func (o Operation) Fill(values map[string]string) (string, error) {
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(o.Path, "/"), "/") {
		b.WriteByte('/')
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			v, ok := values[name]
			if !ok || v == "" {
				return "", fmt.Errorf("spec: %s needs the path parameter %s", o.Name(), name)
			}
			b.WriteString(pathEscape(v))
			continue
		}
		b.WriteString(seg)
	}
	return b.String(), nil
}

// pathEscape escapes a path segment as clients do with a method id:
// passkey|dev_x → passkey%7Cdev_x.
func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func operationsOf(doc *openapi3.T) ([]Operation, error) {
	var out []Operation
	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	for _, p := range paths {
		item := doc.Paths.Value(p)
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			o := Operation{ID: op.OperationID, Method: method, Path: p, Scopes: map[string][]string{}}
			if o.ID == "" {
				return nil, fmt.Errorf("spec: myaccount.yaml: %s %s has no operationId", method, p)
			}
			if op.Security != nil {
				for _, req := range *op.Security {
					for scheme, scopes := range req {
						o.Scopes[scheme] = append([]string(nil), scopes...)
					}
				}
			}
			for code := range op.Responses.Map() {
				n, err := strconv.Atoi(code)
				if err != nil {
					return nil, fmt.Errorf("spec: myaccount.yaml: %s: response %q is not a status code", o.Name(), code)
				}
				o.Statuses = append(o.Statuses, n)
			}
			slices.Sort(o.Statuses)
			if s, ok := op.Extensions["x-status"].(string); ok {
				o.Lifecycle = s
			}
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, pr := range params {
				v := pr.Value
				param := Param{Name: v.Name, Required: v.Required}
				if v.Schema != nil {
					param.Schema = v.Schema.Value
				}
				switch v.In {
				case openapi3.ParameterInPath:
					o.PathParams = append(o.PathParams, param)
				case openapi3.ParameterInQuery:
					param.Explode = v.Explode != nil && *v.Explode
					o.QueryParams = append(o.QueryParams, param)
				}
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				o.BodyRequired = rb.Value.Required
				if mt := rb.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					o.Body = mt.Schema.Value
				}
			}
			out = append(out, o)
		}
	}
	return out, nil
}
