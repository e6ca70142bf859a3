package spec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ErrNoOperation is returned (wrapped; test with errors.Is) when no document
// describes the request's method and path on one of the target's hosts.
var ErrNoOperation = errors.New("no OpenAPI document describes this operation")

// ExtraDoc is an additional OpenAPI document to validate against, such as the
// vendor's own. Operations it describes are validated against it as well as
// against ours; operations it does not describe are left to ours.
type ExtraDoc struct {
	Name     string // cited in error messages, e.g. "vendor.json"
	Data     []byte // JSON or YAML, OpenAPI 3.0 or 3.1
	BasePath string // e.g. "/me/v1"; "" takes the path of the doc's first server URL
}

// Validator checks requests and responses against our documents and any extra
// ones. It is safe for concurrent use.
type Validator struct {
	hosts []hostPort
	docs  []*routedDoc // ours first, then the extra ones in the given order
}

type hostPort struct{ host, port string } // port "" matches any port

// routedDoc is one loaded document with a router for the target.
type routedDoc struct {
	file   string // name in messages
	base   string // path prefix the document's paths live under
	ours   bool
	doc    *openapi3.T
	router routers.Router
	// headers holds the response headers the document describes. They are moved
	// out of the document so that kin-openapi, which stops at the first bad
	// header, checks only content type and body; we check every header ourselves.
	headers map[*openapi3.Response]openapi3.Headers
	schemas *schemaCache // nil for a document before OpenAPI 3.1 (kin-openapi compiles nothing there)
}

// NewValidator loads our documents and the extra ones and builds their routers
// for the given hosts (port-less, or host:port when the target listens on a
// non-default port). The My Account document is routed at https://{host}/me/v1,
// the Authentication document at https://{host}.
func NewValidator(hosts []string, extra ...ExtraDoc) (*Validator, error) {
	if len(hosts) == 0 {
		return nil, errors.New("spec: NewValidator needs at least one host")
	}
	v := &Validator{}
	for _, h := range hosts {
		hp, err := parseHost(h)
		if err != nil {
			return nil, err
		}
		v.hosts = append(v.hosts, hp)
	}
	for _, d := range Documents() {
		base := ""
		if d.Name == MyAccountDoc {
			base = "/me/v1"
		}
		rd, err := loadRouted(d.File, d.Data, base, true)
		if err != nil {
			return nil, err
		}
		v.docs = append(v.docs, rd)
	}
	for i, x := range extra {
		name := x.Name
		if name == "" {
			name = fmt.Sprintf("extra document %d", i+1)
		}
		rd, err := loadRouted(name, x.Data, x.BasePath, false)
		if err != nil {
			return nil, err
		}
		v.docs = append(v.docs, rd)
	}
	return v, nil
}

func parseHost(h string) (hostPort, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" || strings.ContainsAny(h, "/?#@") {
		return hostPort{}, fmt.Errorf("spec: host %q: want a host name or host:port", h)
	}
	if host, port, err := net.SplitHostPort(h); err == nil {
		if port == "443" { // the default for https, which the URLs leave out
			port = ""
		}
		return hostPort{host, port}, nil
	}
	return hostPort{h, ""}, nil
}

// loadDocument loads and checks one OpenAPI document.
func loadDocument(name string, data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false // documents must be self-contained; nothing is fetched
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("spec: %s: cannot load: %w", name, err)
	}
	rewriteECMAPatterns(doc)
	// Examples are documentation; a wrong one must not stop the suite from
	// using an otherwise sound (vendor) document.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("spec: %s: not a valid OpenAPI document: %w", name, err)
	}
	return doc, nil
}

func loadRouted(name string, data []byte, base string, ours bool) (*routedDoc, error) {
	doc, err := loadDocument(name, data)
	if err != nil {
		return nil, err
	}
	if base == "" && !ours {
		base = serverBasePath(doc)
	}
	base = strings.TrimRight(base, "/")
	if base != "" && !strings.HasPrefix(base, "/") {
		return nil, fmt.Errorf("spec: %s: base path %q must start with /", name, base)
	}
	// gorillamux cannot route server URLs whose host is a variable holding
	// dots, so route on the path only; hosts are checked separately.
	serverURL := base
	if serverURL == "" {
		serverURL = "/"
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	for _, item := range doc.Paths.Map() {
		item.Servers = nil // a path-level server would route elsewhere
		for _, op := range item.Operations() {
			op.Servers = nil
		}
	}
	rd := &routedDoc{file: name, base: base, ours: ours, doc: doc, headers: map[*openapi3.Response]openapi3.Headers{}}
	if doc.IsOpenAPI31OrLater() {
		rd.schemas = newSchemaCache(doc)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Responses == nil {
				continue
			}
			for _, ref := range op.Responses.Map() {
				if r := ref.Value; r != nil && len(r.Headers) > 0 {
					rd.headers[r] = r.Headers
					r.Headers = nil
				}
			}
		}
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("spec: %s: cannot build a router: %w", name, err)
	}
	rd.router = router
	return rd, nil
}

// serverBasePath is the path of the document's first server URL, with server
// variables replaced by their defaults ("https://{host}/me/v1" gives "/me/v1").
func serverBasePath(doc *openapi3.T) string {
	if len(doc.Servers) == 0 || doc.Servers[0] == nil {
		return ""
	}
	s := doc.Servers[0]
	u := s.URL
	for name, variable := range s.Variables {
		if variable != nil {
			u = strings.ReplaceAll(u, "{"+name+"}", variable.Default)
		}
	}
	if _, rest, ok := strings.Cut(u, "://"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			u = rest[i:]
		} else {
			u = ""
		}
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return strings.TrimRight(u, "/")
}

// ecmaUnicodeEscape finds \uXXXX escapes, which JSON Schema patterns (ECMA-262)
// allow and Go's regexp does not; kin-openapi rewrites only upper-case hex digits.
var ecmaUnicodeEscape = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)

// rewriteECMAPatterns turns ECMA-262 escapes in patterns into RE2 syntax so
// that patterns such as the vendor's `^[^\u0000-\u001f]*$` compile.
func rewriteECMAPatterns(doc *openapi3.T) {
	_ = doc.WalkSchemas(func(_ string, ref *openapi3.SchemaRef) error {
		if s := ref.Value; s != nil && strings.Contains(s.Pattern, `\u`) {
			s.Pattern = ecmaUnicodeEscape.ReplaceAllString(s.Pattern, `\x{$1}`)
		}
		return nil
	})
}

// match is an operation a request resolves to in one document.
type match struct {
	d      *routedDoc
	route  *routers.Route
	params map[string]string
}

func (m match) name() string { return m.route.Method + " " + m.route.Path }

// find resolves the request in every document: ours first, then the extra ones.
func (v *Validator) find(req *http.Request) ([]match, error) {
	if req == nil || req.URL == nil {
		return nil, fmt.Errorf("%w: no request", ErrNoOperation)
	}
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	if !v.knownHost(host) {
		return nil, fmt.Errorf("%w: %s %s: host %q is not one of the target's hosts (%s)",
			ErrNoOperation, req.Method, req.URL.Path, host, v.hostList())
	}
	var out []match
	for _, d := range v.docs {
		route, params, err := d.router.FindRoute(req)
		if err != nil || route == nil || route.Operation == nil {
			continue
		}
		out = append(out, match{d: d, route: route, params: params})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s %s on %s", ErrNoOperation, req.Method, req.URL.EscapedPath(), host)
	}
	return out, nil
}

func (v *Validator) knownHost(h string) bool {
	hp, err := parseHost(h)
	if err != nil {
		return false
	}
	for _, k := range v.hosts {
		if k.host == hp.host && (k.port == "" || k.port == hp.port) {
			return true
		}
	}
	return false
}

func (v *Validator) hostList() string {
	names := make([]string, len(v.hosts))
	for i, h := range v.hosts {
		names[i] = h.host
		if h.port != "" {
			names[i] += ":" + h.port
		}
	}
	return strings.Join(names, ", ")
}

// Operation returns "METHOD /path/template" of the operation the request
// resolves to (in our documents if they describe it), or "".
func (v *Validator) Operation(req *http.Request) string {
	ms, err := v.find(req)
	if err != nil {
		return ""
	}
	return ms[0].name()
}

// Problem is one way an exchange departs from a document.
type Problem struct {
	Document  string // file name of the document, e.g. "myaccount.yaml"
	Operation string // "METHOD /path/template"
	Status    int    // the response status; 0 for a request
	Where     string // "status", "content type", "header Location", "body", "query parameter type", …
	Pointer   string // JSON pointer into the body or parameter value; "" for the whole
	Message   string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Document)
	b.WriteString(" ")
	b.WriteString(p.Operation)
	if p.Status != 0 {
		fmt.Fprintf(&b, " → %d", p.Status)
	} else {
		b.WriteString(" request")
	}
	b.WriteString(": ")
	b.WriteString(p.Where)
	if p.Pointer != "" {
		b.WriteString(" ")
		b.WriteString(p.Pointer)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in one request or response; its
// text has one line per problem.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func problemsError(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// formatOptions check the string formats our documents use; kin-openapi checks
// only date and date-time unless told more.
var formatOptions = []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(stringFormats)}

var stringFormats = map[string]openapi3.StringFormatValidator{
	"uri":           openapi3.NewCallbackValidator(validateURI),
	"uri-reference": openapi3.NewCallbackValidator(validateURIReference),
	"email":         openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
}

// The options kin-openapi validates bodies with (filterOptions), less the JSON
// Schema 2020 one that the schema cache stands for.
var (
	requestBodyOptions  = append([]openapi3.SchemaValidationOption{openapi3.VisitAsRequest(), openapi3.MultiErrors()}, formatOptions...)
	responseBodyOptions = append([]openapi3.SchemaValidationOption{openapi3.MultiErrors()}, append(slices.Clone(formatOptions), openapi3.VisitAsResponse())...)
	headerOptions       = append([]openapi3.SchemaValidationOption{openapi3.MultiErrors()}, formatOptions...)
)

func validateURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme == "" {
		return errors.New("not an absolute URI (no scheme)")
	}
	return nil
}

func validateURIReference(s string) error {
	_, err := url.Parse(s)
	return err
}

func filterOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true, // never change the recorded exchange
		// The harness checks authentication itself; here a request only has to
		// have the right shape.
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: formatOptions,
	}
}

// ValidateRequest checks a request (its parameters and body) against every
// document describing it. It returns nil when valid, an error wrapping
// ErrNoOperation when no document describes it, and otherwise a
// *ValidationError whose text names the document, the operation and each
// failing field.
func (v *Validator) ValidateRequest(req *http.Request, body []byte) error {
	ms, err := v.find(req)
	if err != nil {
		return err
	}
	var problems []Problem
	for _, m := range ms {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if ct := r.Header.Get("Content-Type"); ct != "" {
			r.Header.Set("Content-Type", jsonAlias(ct, m.route.Operation.RequestBody))
		}
		opts := filterOptions()
		if rb := m.route.Operation.RequestBody; rb != nil && rb.Value != nil &&
			m.d.schemas.bodyAccepted(rb.Value.Content, r.Header.Get("Content-Type"), body, requestBodyOptions...) {
			opts.ExcludeRequestBody = true // the cache has checked it as kin-openapi would
		}
		input := &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: m.params,
			Route:      m.route,
			Options:    opts,
		}
		err := openapi3filter.ValidateRequest(r.Context(), input)
		problems = append(problems, requestProblems(m, err)...)
	}
	return problemsError(problems)
}

// jsonAlias maps a +json media type (application/problem+json, …) that the
// operation does not list to application/json when it lists that, so that such
// bodies are checked as JSON rather than refused for their media type.
func jsonAlias(contentType string, body *openapi3.RequestBodyRef) string {
	if body == nil || body.Value == nil {
		return contentType
	}
	return jsonAliasIn(contentType, body.Value.Content)
}

func jsonAliasIn(contentType string, content openapi3.Content) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasSuffix(mt, "+json") || content == nil {
		return contentType
	}
	if _, listed := content[mt]; listed {
		return contentType
	}
	if _, ok := content["application/json"]; ok {
		return "application/json"
	}
	return contentType
}

func requestProblems(m match, err error) []Problem {
	if err == nil {
		return nil
	}
	var out []Problem
	add := func(where, pointer, msg string) {
		out = append(out, Problem{Document: m.d.file, Operation: m.name(), Where: where, Pointer: pointer, Message: msg})
	}
	handle := func(re *openapi3filter.RequestError) {
		where := "request"
		switch {
		case re.Parameter != nil:
			where = re.Parameter.In + " parameter " + re.Parameter.Name
		case re.RequestBody != nil:
			where = "body"
		}
		if re.Err == nil {
			add(where, "", re.Reason)
			return
		}
		if leaves := schemaLeaves(re.Err); len(leaves) > 0 {
			for _, l := range sortedLeaves(leaves) {
				add(where, l.pointer, l.message)
			}
			return
		}
		msg := re.Err.Error()
		if re.Reason != "" && re.Reason != msg {
			msg = re.Reason + ": " + msg
		}
		add(where, "", msg)
	}
	var walk func(error)
	walk = func(err error) {
		var re *openapi3filter.RequestError
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, x := range e {
				walk(x)
			}
		case *openapi3filter.RequestError:
			handle(e)
		case *openapi3filter.SecurityRequirementsError:
			add("security", "", e.Error())
		default:
			if errors.As(err, &re) {
				handle(re)
			} else {
				add("request", "", err.Error())
			}
		}
	}
	walk(err)
	return out
}

// ValidateResponse checks a response against every document describing the
// request's operation: the status must be documented, documented required
// headers present, every documented header well-formed, and the content type
// and body as documented. Whether the request itself was valid does not matter
// (negative tests send invalid requests on purpose); reqBody is accepted for
// symmetry with ValidateRequest and is not needed by the current documents.
func (v *Validator) ValidateResponse(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	_ = reqBody
	ms, err := v.find(req)
	if err != nil {
		return err
	}
	var problems []Problem
	for _, m := range ms {
		problems = append(problems, v.responseProblems(m, req, status, header, body)...)
	}
	return problemsError(problems)
}

func (v *Validator) responseProblems(m match, req *http.Request, status int, header http.Header, body []byte) []Problem {
	var out []Problem
	add := func(where, pointer, msg string) {
		out = append(out, Problem{Document: m.d.file, Operation: m.name(), Status: status, Where: where, Pointer: pointer, Message: msg})
	}
	op := m.route.Operation
	if op.Responses == nil || op.Responses.Len() == 0 {
		return nil // the document says nothing about responses
	}
	ref := op.Responses.Status(status)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		add("status", "", fmt.Sprintf("not documented for this operation (documented: %s)", documentedStatuses(op)))
		return out
	}
	resp := ref.Value
	if header == nil {
		header = http.Header{}
	}

	// Headers, all of them, in a stable order.
	hdrs := m.d.headers[resp]
	names := make([]string, 0, len(hdrs))
	for name := range hdrs {
		if !strings.EqualFold(name, "Content-Type") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, p := range m.d.checkHeader(name, hdrs[name], header) {
			add("header "+name, p.pointer, p.message)
		}
	}

	// Content type and body.
	if len(resp.Content) == 0 {
		if status == http.StatusNoContent && len(body) > 0 {
			add("body", "", fmt.Sprintf("a 204 response has no content, got %d bytes", len(body)))
		}
		return out
	}
	ct := header.Get("Content-Type")
	if ct == "" {
		add("content type", "", "missing; documented: "+documentedMediaTypes(resp.Content))
		return out
	}
	ct = jsonAliasIn(ct, resp.Content)
	if resp.Content.Get(ct) == nil {
		add("content type", "", fmt.Sprintf("%q is not documented for %d (documented: %s)", header.Get("Content-Type"), status, documentedMediaTypes(resp.Content)))
		return out
	}
	h := header.Clone()
	h.Set("Content-Type", ct)
	if m.d.schemas.bodyAccepted(resp.Content, ct, body, responseBodyOptions...) {
		return out
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: m.params,
			Route:      m.route,
			Options:    filterOptions(),
		},
		Status:  status,
		Header:  h,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: filterOptions(),
	}
	err := openapi3filter.ValidateResponse(req.Context(), input)
	if err == nil {
		return out
	}
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) && re.Err != nil {
		if leaves := schemaLeaves(re.Err); len(leaves) > 0 {
			for _, l := range sortedLeaves(leaves) {
				add("body", l.pointer, l.message)
			}
			return out
		}
		var pe *openapi3filter.ParseError
		if errors.As(re.Err, &pe) || strings.Contains(re.Reason, "decode") {
			mt, _, _ := mime.ParseMediaType(ct)
			if len(bytes.TrimSpace(body)) == 0 {
				add("body", "", fmt.Sprintf("is empty; the document describes %s content for %d", mt, status))
			} else {
				add("body", "", fmt.Sprintf("cannot be read as %s: %v", mt, re.Err))
			}
			return out
		}
		add("body", "", re.Error())
		return out
	}
	add("body", "", err.Error())
	return out
}

func documentedStatuses(op *openapi3.Operation) string {
	codes := make([]string, 0, op.Responses.Len())
	for code := range op.Responses.Map() {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return strings.Join(codes, ", ")
}

func documentedMediaTypes(c openapi3.Content) string {
	types := make([]string, 0, len(c))
	for t := range c {
		types = append(types, t)
	}
	slices.Sort(types)
	return strings.Join(types, ", ")
}

// checkHeader checks one documented response header.
func (d *routedDoc) checkHeader(name string, ref *openapi3.HeaderRef, header http.Header) []leaf {
	if ref == nil || ref.Value == nil {
		return nil
	}
	h := ref.Value
	values := header.Values(name)
	if len(values) == 0 {
		if h.Required {
			return []leaf{{message: "missing (the document requires it)"}}
		}
		return nil
	}
	if h.Schema == nil || h.Schema.Value == nil {
		return nil
	}
	s := h.Schema.Value
	raw := strings.TrimSpace(values[0])
	var value any = raw
	switch {
	case s.Type.Is("integer"), s.Type.Is("number"):
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return []leaf{{message: fmt.Sprintf("%q is not a number", clip(raw))}}
		}
		value = f
	case s.Type.Is("boolean"):
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return []leaf{{message: fmt.Sprintf("%q is not a boolean", clip(raw))}}
		}
		value = b
	}
	opts := slices.Clone(headerOptions)
	if d.schemas != nil && d.schemas.fits(s, value, opts...) {
		return nil
	}
	if d.doc.IsOpenAPI31OrLater() {
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	if err := s.VisitJSON(value, opts...); err != nil {
		if leaves := schemaLeaves(err); len(leaves) > 0 {
			return leaves
		}
		return []leaf{{message: err.Error()}}
	}
	return nil
}

// clip keeps quoted values short in messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
