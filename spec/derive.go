package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// The description says which requests an operation takes; from it and one request
// the target accepts, the suite derives the requests a conforming server refuses.
// Each derived request differs from the valid one in one thing, so that thing is
// the only reason to refuse it.

// Requirements the derived requests check (spec/requirements.yaml).
const (
	ReqMissingMember  = "MA-ERR-002" // a required member dropped
	ReqUnknownMember  = "MA-ERR-003" // a member additionalProperties forbids
	ReqWrongType      = "MA-ERR-004" // a member of the wrong JSON type
	ReqOutOfBounds    = "MA-ERR-005" // enum, const, pattern, length, items or bounds broken
	ReqNotAnObject    = "MA-ERR-006" // invalid JSON, empty, an array, null
	ReqOversize       = "MA-ERR-007" // far larger than any operation needs
	ReqNotUTF8        = "MA-ERR-008" // not UTF-8
	ReqQueryValue     = "MA-CON-002" // a documented query parameter with a value its schema forbids
	ReqQueryUnknown   = "MA-CON-003" // a query parameter the operation does not document
	UnknownMemberName = "contract_unknown_member"
	UnknownQueryName  = "contract_unknown_parameter"
)

// Oversize is the size of the oversized body: far beyond what any My Account body
// needs (the largest, an attestation, is a few KiB).
const Oversize = 1 << 20

// maxDepth bounds how deep the derivation follows nested objects and arrays.
const maxDepth = 8

// BadBody is a request body that breaks an operation's body schema in one way.
type BadBody struct {
	Name    string // what is wrong, e.g. "connection longer than 128 characters"
	Pointer string // JSON pointer (RFC 6901) of what it breaks; "" for the body as a whole
	Req     string // the requirement a refusal of it checks
	Body    []byte
}

// DeriveBodies derives, from one branch of an operation's body schema and a body
// valid for it, the bodies that break the branch in exactly one way: each required
// member dropped, an unknown member where additionalProperties is false, each
// member with a value of the wrong JSON type, outside its enum or const, not
// matching its pattern, shorter or longer than its bounds, below or above its
// minimum or maximum, with too few, too many or repeated items; nested objects and
// array items likewise. Optional members absent from base are added with the bad
// value. A derived body that the branch would accept after all is dropped, so that
// the suite never demands the refusal of a valid body.
func DeriveBodies(branch *openapi3.Schema, base map[string]any) []BadBody {
	if branch == nil {
		return nil
	}
	d := &deriver{}
	d.object(flatten(branch), clone(base), nil, 0)
	return keepInvalid(branch, d.out)
}

// GenericBodies are the bad bodies any operation taking a JSON object refuses,
// whatever its schema: invalid JSON, an empty body, an array, null, a body of
// Oversize bytes (the valid body padded with white space) and a body that is not
// UTF-8 (an invalid byte in a string member of base, a free-text one when there is
// one).
func GenericBodies(branch *openapi3.Schema, base map[string]any) []BadBody {
	valid, _ := json.Marshal(base)
	out := []BadBody{
		{Name: "invalid JSON (the body cut short)", Req: ReqNotAnObject, Body: valid[:len(valid)-1]},
		{Name: "an empty body", Req: ReqNotAnObject, Body: []byte{}},
		{Name: "a JSON array", Req: ReqNotAnObject, Body: append(append([]byte("["), valid...), ']')},
		{Name: "JSON null", Req: ReqNotAnObject, Body: []byte("null")},
		{Name: fmt.Sprintf("a body of %d bytes (the valid one padded with white space)", Oversize), Req: ReqOversize,
			Body: append(valid, bytes.Repeat([]byte(" "), Oversize-len(valid))...)},
	}
	if name := textMember(branch, base); name != "" {
		const mark = "@@contract-non-utf8@@"
		b := clone(base)
		b[name] = b[name].(string) + mark
		raw, _ := json.Marshal(b)
		out = append(out, BadBody{Name: name + " with a byte that is not UTF-8 (0xE9)", Pointer: pointer([]string{name}), Req: ReqNotUTF8,
			Body: bytes.Replace(raw, []byte(mark), []byte{0xe9}, 1)})
	}
	return out
}

// textMember is the top-level string member of base to spoil: a free-text one (no
// enum, const or pattern) when there is one, in name order.
func textMember(branch *openapi3.Schema, base map[string]any) string {
	names := make([]string, 0, len(base))
	for k, v := range base {
		if _, ok := v.(string); ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	props := openapi3.Schemas{}
	if branch != nil {
		props = flatten(branch).Properties
	}
	for _, n := range names {
		if p := props[n]; p != nil && p.Value != nil {
			if s := flatten(p.Value); len(s.Enum) == 0 && s.Const == nil && s.Pattern == "" {
				return n
			}
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// BadQuery is a query string that breaks an operation's documented parameters in
// one way (or names one it does not document).
type BadQuery struct {
	Name  string // e.g. "take=0 (below its minimum 1)"
	Param string
	Req   string
	Query url.Values
}

// DeriveQueries derives the bad query strings of an operation: an unknown
// parameter, and each documented parameter with a value its schema forbids (a
// value that is not of its type, not in its enum, not matching its pattern, below
// its minimum or above its maximum, too long, or repeated more often than its
// maxItems allows).
func DeriveQueries(op Operation) []BadQuery {
	out := []BadQuery{{Name: "an unknown query parameter " + UnknownQueryName, Param: UnknownQueryName, Req: ReqQueryUnknown,
		Query: url.Values{UnknownQueryName: {"1"}}}}
	for _, p := range op.QueryParams {
		if p.Schema == nil {
			continue
		}
		s := flatten(p.Schema)
		add := func(what string, values ...string) {
			shown := strings.Join(values, "&"+p.Name+"=")
			if len(shown) > 40 {
				shown = shown[:37] + "..."
			}
			out = append(out, BadQuery{Name: fmt.Sprintf("%s=%s (%s)", p.Name, shown, what), Param: p.Name, Req: ReqQueryValue,
				Query: url.Values{p.Name: values}})
		}
		if s.Type.Is("array") && s.Items != nil && s.Items.Value != nil {
			item := flatten(s.Items.Value)
			if s.MaxItems != nil {
				n := int(*s.MaxItems) + 1
				vs := make([]string, n)
				for i := range vs {
					vs[i] = "c" + strconv.Itoa(i)
				}
				add(fmt.Sprintf("given %d times, more than its maxItems %d", n, *s.MaxItems), vs...)
			}
			for _, v := range badScalars(item) {
				add(v.what, v.value)
			}
			continue
		}
		for _, v := range badScalars(s) {
			add(v.what, v.value)
		}
	}
	return out
}

type badScalar struct{ what, value string }

// badScalars are query values a scalar schema forbids. An empty value is never
// one: servers may read it as the parameter's absence.
func badScalars(s *openapi3.Schema) []badScalar {
	var out []badScalar
	switch {
	case s.Type.Is("integer") || s.Type.Is("number"):
		out = append(out, badScalar{"not a number", "abc"})
		if s.Min != nil {
			out = append(out, badScalar{"below its minimum " + num(*s.Min), strconv.FormatFloat(math.Floor(*s.Min)-1, 'f', -1, 64)})
		}
		if s.Max != nil {
			out = append(out, badScalar{"above its maximum " + num(*s.Max), strconv.FormatFloat(math.Ceil(*s.Max)+1, 'f', -1, 64)})
		}
	case s.Type.Is("boolean"):
		out = append(out, badScalar{"not a boolean", "maybe"})
	default:
		if v, ok := notInEnum(s); ok {
			out = append(out, badScalar{"not one of its values", v.(string)})
		}
		if v, ok := notMatching(s); ok && v != "" {
			out = append(out, badScalar{"not matching " + s.Pattern, v})
		}
		if s.MaxLength != nil {
			out = append(out, badScalar{"longer than " + chars(*s.MaxLength), strings.Repeat("a", int(*s.MaxLength)+1)})
		}
		if s.MinLength > 1 {
			out = append(out, badScalar{"shorter than " + chars(s.MinLength), strings.Repeat("a", int(s.MinLength)-1)})
		}
	}
	return out
}

// deriver collects the bad bodies of one branch.
type deriver struct{ out []BadBody }

func (d *deriver) add(body map[string]any, path []string, req, what string) {
	raw, err := json.Marshal(body)
	if err != nil {
		return
	}
	p := pointer(path)
	name := what
	if p != "" {
		name = p[1:] + " " + what
	}
	d.out = append(d.out, BadBody{Name: name, Pointer: p, Req: req, Body: raw})
}

// object derives the cases of the object at path in base (present there).
func (d *deriver) object(s *openapi3.Schema, base map[string]any, path []string, depth int) {
	if depth > maxDepth {
		return
	}
	obj, ok := get(base, path).(map[string]any)
	if !ok {
		return
	}
	for _, name := range sortedCopy(s.Required) {
		if _, present := obj[name]; present {
			d.add(dropped(base, append(slices.Clone(path), name)), append(slices.Clone(path), name), ReqMissingMember, "dropped (required)")
		}
	}
	if closed(s) {
		p := append(slices.Clone(path), UnknownMemberName)
		d.add(with(base, p, "x"), p, ReqUnknownMember, "added (a member the schema does not allow)")
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		ref := s.Properties[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		_, present := obj[name]
		if !present && len(s.DependentRequired[name]) > 0 {
			continue // adding it alone would also leave out what it requires
		}
		d.member(flatten(ref.Value), base, append(slices.Clone(path), name), present, depth+1)
	}
}

// member derives the cases of the member at path, present in base or not.
func (d *deriver) member(s *openapi3.Schema, base map[string]any, path []string, present bool, depth int) {
	if depth > maxDepth {
		return
	}
	var cur any
	if present {
		cur = get(base, path)
	}
	if v, ok := wrongType(s); ok {
		d.add(with(base, path, v), path, ReqWrongType, "of the wrong JSON type ("+jsonType(v)+")")
	}
	if v, ok := notInEnum(s); ok {
		d.add(with(base, path, v), path, ReqOutOfBounds, "not one of its values")
	}
	switch {
	case s.Type.Is("string"):
		d.stringBounds(s, base, path, cur)
	case s.Type.Is("integer") || s.Type.Is("number"):
		if s.Min != nil {
			d.add(with(base, path, math.Floor(*s.Min)-1), path, ReqOutOfBounds, "below its minimum "+num(*s.Min))
		}
		if s.Max != nil {
			d.add(with(base, path, math.Ceil(*s.Max)+1), path, ReqOutOfBounds, "above its maximum "+num(*s.Max))
		}
	case s.Type.Is("array"):
		d.array(s, base, path, cur, depth)
	case s.Type.Is("object") || len(s.Properties) > 0:
		if !present {
			o, ok := sample(s).(map[string]any)
			if !ok {
				return
			}
			base = with(base, path, o)
		}
		d.object(s, base, path, depth)
	}
}

func (d *deriver) stringBounds(s *openapi3.Schema, base map[string]any, path []string, cur any) {
	str, _ := cur.(string)
	if v, ok := notMatching(s); ok {
		d.add(with(base, path, v), path, ReqOutOfBounds, "not matching "+s.Pattern)
	}
	if s.MinLength > 0 {
		short := strings.Repeat("a", int(s.MinLength)-1)
		if r := []rune(str); len(r) >= int(s.MinLength) {
			short = string(r[:s.MinLength-1])
		}
		d.add(with(base, path, short), path, ReqOutOfBounds, "shorter than "+chars(s.MinLength))
	}
	if s.MaxLength != nil {
		long := str
		if long == "" {
			long = "a"
		}
		fill := string([]rune(long)[len([]rune(long))-1:])
		if n := utf8.RuneCountInString(long); n <= int(*s.MaxLength) {
			long += strings.Repeat(fill, int(*s.MaxLength)+1-n)
		}
		d.add(with(base, path, long), path, ReqOutOfBounds, "longer than "+chars(*s.MaxLength))
	}
}

func (d *deriver) array(s *openapi3.Schema, base map[string]any, path []string, cur any, depth int) {
	var item *openapi3.Schema
	if s.Items != nil && s.Items.Value != nil {
		item = flatten(s.Items.Value)
	}
	arr, _ := cur.([]any)
	// Valid items to build arrays of: those of base, then samples.
	items := func(n int, distinct bool) ([]any, bool) {
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			var v any
			switch {
			case i < len(arr) && !distinct:
				v = arr[i]
			case item == nil:
				v = "item" + strconv.Itoa(i)
			default:
				v = sampleN(item, i)
			}
			if v == nil {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	}
	if s.MinItems > 0 {
		if few, ok := items(int(s.MinItems)-1, false); ok {
			d.add(with(base, path, few), path, ReqOutOfBounds, fmt.Sprintf("with fewer than %d items", s.MinItems))
		}
	}
	if s.MaxItems != nil {
		if many, ok := items(int(*s.MaxItems)+1, true); ok && distinctItems(many) {
			d.add(with(base, path, many), path, ReqOutOfBounds, fmt.Sprintf("with more than %d items", *s.MaxItems))
		}
	}
	if s.UniqueItems {
		if one, ok := items(1, false); ok {
			d.add(with(base, path, []any{one[0], one[0]}), path, ReqOutOfBounds, "with an item twice (uniqueItems)")
		}
	}
	if item == nil {
		return
	}
	if len(arr) == 0 {
		// Derive the items' cases in an array of valid samples.
		n := max(1, int(s.MinItems))
		filled, ok := items(n, true)
		if !ok {
			return
		}
		base = with(base, path, filled)
	}
	d.member(item, base, append(slices.Clone(path), "0"), true, depth+1)
}

func distinctItems(vs []any) bool {
	seen := map[string]bool{}
	for _, v := range vs {
		k, _ := json.Marshal(v)
		if seen[string(k)] {
			return false
		}
		seen[string(k)] = true
	}
	return true
}

// keepInvalid drops the derived bodies the branch accepts after all, and repeats.
func keepInvalid(branch *openapi3.Schema, in []BadBody) []BadBody {
	seen := map[string]bool{}
	var out []BadBody
	for _, b := range in {
		var v any
		if json.Unmarshal(b.Body, &v) != nil || seen[string(b.Body)] {
			continue
		}
		if derivationSchemas().fits(branch, v, formatOptions...) {
			continue
		}
		seen[string(b.Body)] = true
		out = append(out, b)
	}
	return out
}

// flatten merges a schema with its allOf parts, as far as derivation needs: types,
// bounds, patterns, enums, members and whether the object is closed.
func flatten(s *openapi3.Schema) *openapi3.Schema {
	if len(s.AllOf) == 0 {
		return s
	}
	out := *s
	out.AllOf = nil
	out.Properties = openapi3.Schemas{}
	for k, v := range s.Properties {
		out.Properties[k] = v
	}
	out.Required = slices.Clone(s.Required)
	for _, ref := range s.AllOf {
		if ref == nil || ref.Value == nil {
			continue
		}
		p := flatten(ref.Value)
		if out.Type == nil || out.Type.IsEmpty() {
			out.Type = p.Type
		}
		if out.Pattern == "" {
			out.Pattern = p.Pattern
		}
		if len(out.Enum) == 0 {
			out.Enum = p.Enum
		}
		if out.Const == nil {
			out.Const = p.Const
		}
		out.MinLength = max(out.MinLength, p.MinLength)
		if p.MaxLength != nil && (out.MaxLength == nil || *p.MaxLength < *out.MaxLength) {
			out.MaxLength = p.MaxLength
		}
		if out.Min == nil {
			out.Min = p.Min
		}
		if out.Max == nil {
			out.Max = p.Max
		}
		out.MinItems = max(out.MinItems, p.MinItems)
		if out.MaxItems == nil {
			out.MaxItems = p.MaxItems
		}
		if out.Items == nil {
			out.Items = p.Items
		}
		for k, v := range p.Properties {
			if _, ok := out.Properties[k]; !ok {
				out.Properties[k] = v
			}
		}
		out.Required = append(out.Required, p.Required...)
		if closed(p) {
			out.AdditionalProperties = p.AdditionalProperties
		}
	}
	return &out
}

func closed(s *openapi3.Schema) bool {
	return s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
}

// wrongType is a value of a JSON type the schema does not allow: a number for a
// string, a string for a number, a boolean or an object or array. Schemas without
// a type (an enum alone) get none: notInEnum covers them.
func wrongType(s *openapi3.Schema) (any, bool) {
	if s.Type == nil || s.Type.IsEmpty() {
		return nil, false
	}
	preferred := map[string]any{"string": 123, "integer": "1", "number": "1", "boolean": "true", "object": "x", "array": "x"}
	candidates := []any{preferred[s.Type.Slice()[0]], 123, "x", true, []any{}, map[string]any{}}
	for _, c := range candidates {
		if c != nil && !s.Type.Permits(jsonType(c)) && !(jsonType(c) == "integer" && s.Type.Permits("number")) {
			return c, true
		}
	}
	return nil, false
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int:
		return "integer"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// notInEnum is a value of the schema's type outside its enum or const.
func notInEnum(s *openapi3.Schema) (any, bool) {
	allowed := slices.Clone(s.Enum)
	if s.Const != nil {
		allowed = append(allowed, s.Const)
	}
	if len(allowed) == 0 {
		return nil, false
	}
	if s.Type.Is("integer") || s.Type.Is("number") {
		m := 0.0
		for _, a := range allowed {
			if f, ok := a.(float64); ok && f > m {
				m = f
			}
		}
		return m + 1, true
	}
	for _, c := range []string{"bogus", "not-a-value", "zzz"} {
		if !slices.Contains(allowed, any(c)) {
			return c, true
		}
	}
	return nil, false
}

// notMatching is a string the schema's pattern cannot match, within its length
// bounds so that the pattern is what it breaks.
func notMatching(s *openapi3.Schema) (string, bool) {
	if s.Pattern == "" {
		return "", false
	}
	re, err := regexp.Compile(s.Pattern)
	if err != nil {
		return "", false
	}
	for _, c := range []string{"a b", "not valid!", " ", "!", "\u0001", "é", "-", "a", "0", "aa", "A1"} {
		if n := utf8.RuneCountInString(c); uint64(n) < s.MinLength || (s.MaxLength != nil && uint64(n) > *s.MaxLength) {
			continue
		}
		if !re.MatchString(c) {
			return c, true
		}
	}
	return "", false
}

// sample is a small value the schema accepts, or nil when the derivation cannot
// make one.
func sample(s *openapi3.Schema) any { return sampleN(s, 0) }

// sampleN is the i-th of distinct samples (for arrays of unique items).
func sampleN(s *openapi3.Schema, i int) any {
	s = flatten(s)
	var v any
	switch {
	case s.Const != nil:
		v = s.Const
	case len(s.Enum) > 0:
		v = s.Enum[i%len(s.Enum)]
	case s.Type.Is("string"):
		v = sampleString(s, i)
	case s.Type.Is("integer") || s.Type.Is("number"):
		f := float64(i)
		if s.Min != nil {
			f += *s.Min
		}
		v = f
	case s.Type.Is("boolean"):
		v = i%2 == 0
	case s.Type.Is("array"):
		var arr []any
		if s.Items != nil && s.Items.Value != nil {
			for j := 0; j < int(s.MinItems); j++ {
				arr = append(arr, sampleN(s.Items.Value, j))
			}
		}
		v = append([]any{}, arr...)
	case s.Type.Is("object") || len(s.Properties) > 0:
		o := map[string]any{}
		for _, r := range s.Required {
			p := s.Properties[r]
			if p == nil || p.Value == nil {
				return nil
			}
			o[r] = sample(p.Value)
		}
		v = o
	default:
		return nil
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}, formatOptions...)
	if s.VisitJSON(v, opts...) != nil {
		return nil
	}
	return v
}

func sampleString(s *openapi3.Schema, i int) string {
	base := "s" + strconv.Itoa(i)
	if s.Format == "uri" {
		base = "https://example.com/" + base
	}
	for uint64(utf8.RuneCountInString(base)) < s.MinLength {
		base += "a"
	}
	if s.MaxLength != nil && uint64(len(base)) > *s.MaxLength {
		base = base[:*s.MaxLength]
	}
	return base
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func chars(n uint64) string {
	if n == 1 {
		return "1 character"
	}
	return strconv.FormatUint(n, 10) + " characters"
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// pointer is the JSON pointer (RFC 6901) of a path.
func pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// clone deep-copies a JSON value.
func clone(m map[string]any) map[string]any {
	raw, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// get is the value at path in v (nil when absent).
func get(v any, path []string) any {
	for _, p := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// with is a copy of base with the value at path set (its parents exist).
func with(base map[string]any, path []string, value any) map[string]any {
	out := clone(base)
	parent := get(out, path[:len(path)-1])
	last := path[len(path)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = value
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(c) {
			c[i] = value
		}
	}
	return out
}

// dropped is a copy of base with the member at path removed.
func dropped(base map[string]any, path []string) map[string]any {
	out := clone(base)
	if parent, ok := get(out, path[:len(path)-1]).(map[string]any); ok {
		delete(parent, path[len(path)-1])
	}
	return out
}
