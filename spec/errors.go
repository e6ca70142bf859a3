package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// leaf is one failing check of a value against a schema.
type leaf struct {
	pointer string // JSON pointer of the failing value ("" = the whole value)
	message string
	keyword string   // the failing schema keyword, e.g. "required", "const"
	want    []string // for const and enum: the allowed values, as JSON
	got     string   // for const and enum: ", got <value>" or ""
}

// schemaLeaves flattens a kin-openapi schema error into its failing checks.
//
// kin-openapi produces two shapes: its own validator's SchemaErrors (OpenAPI
// 3.0, and 3.1 schemas without 2020-12 keywords) and SchemaErrors converted from
// the JSON Schema 2020-12 validator, whose leaves unwrap to a
// jsonschema.ValidationError. Both nest through Origin. For oneOf and anyOf
// only the alternative the value was meant to be is reported (see
// chooseBranch), so a passkey missing key_id reads "/key_id: property
// "key_id" is missing" rather than nine failed alternatives.
func schemaLeaves(err error) []leaf {
	var out []leaf
	switch e := err.(type) {
	case nil:
		return nil
	case openapi3.MultiError:
		for _, x := range e {
			out = append(out, schemaLeaves(x)...)
		}
	case *openapi3.SchemaError:
		out = schemaErrorLeaves(e)
	default:
		var se *openapi3.SchemaError
		var me openapi3.MultiError
		switch {
		case errors.As(err, &me):
			return schemaLeaves(me)
		case errors.As(err, &se):
			return schemaLeaves(se)
		}
		return nil
	}
	return dedupe(out)
}

func schemaErrorLeaves(e *openapi3.SchemaError) []leaf {
	base := pointerOf(e.JSONPointer())
	children := childErrors(e.Origin)
	if len(children) == 0 {
		var verr *jsonschema.ValidationError
		if e.Origin == nil && errors.As(e, &verr) {
			return verrLeaves(verr)
		}
		if e.SchemaField == "anyOf" && e.Schema != nil && len(e.Schema.AnyOf) > 0 {
			// kin-openapi's own validator gives no detail for anyOf: check each
			// alternative again to find out why the value fits none.
			return revisitAlternatives(base, e.Schema.AnyOf, e.Value)
		}
		if m := legacyUnsupported.FindStringSubmatch(e.Reason); m != nil {
			return []leaf{{pointer: base + pointerOf([]string{m[1]}), message: fmt.Sprintf("property %q is not allowed", m[1]), keyword: "additionalProperties"}}
		}
		msg := e.Reason
		if msg == "" {
			msg = fmt.Sprintf("does not match the schema's %q", e.SchemaField)
		}
		return []leaf{{pointer: base, message: msg, keyword: e.SchemaField}}
	}
	if e.SchemaField == "oneOf" || e.SchemaField == "anyOf" {
		var alts openapi3.SchemaRefs // the alternatives, to name them by their titles
		if e.Schema != nil {
			alts = e.Schema.OneOf
			if e.SchemaField == "anyOf" {
				alts = e.Schema.AnyOf
			}
		}
		branches := make([][]leaf, len(children))
		titles := make([]string, len(children))
		for i, c := range children {
			branches[i] = schemaLeaves(c)
			var se *openapi3.SchemaError
			switch {
			case len(alts) == len(children) && alts[i] != nil && alts[i].Value != nil:
				titles[i] = alts[i].Value.Title
			case errors.As(c, &se) && se.Schema != nil:
				titles[i] = se.Schema.Title
			}
		}
		return chooseBranch(base, branches, titles)
	}
	var out []leaf
	for _, c := range children {
		out = append(out, schemaLeaves(c)...)
	}
	return out
}

// legacyUnsupported is how kin-openapi's own validator reports a member that
// additionalProperties forbids, without putting the member in the path.
var legacyUnsupported = regexp.MustCompile(`^property "(.*)" is unsupported$`)

// childErrors finds the errors an Origin groups, through any wrapping.
func childErrors(origin error) []error {
	for e := origin; e != nil; e = errors.Unwrap(e) {
		if me, ok := e.(openapi3.MultiError); ok {
			return me
		}
	}
	return nil
}

func revisitAlternatives(base string, alts openapi3.SchemaRefs, value any) []leaf {
	opts := append([]openapi3.SchemaValidationOption{openapi3.MultiErrors()}, formatOptions...)
	branches := make([][]leaf, 0, len(alts))
	titles := make([]string, 0, len(alts))
	for _, alt := range alts {
		if alt == nil || alt.Value == nil {
			continue
		}
		err := alt.Value.VisitJSON(value, opts...)
		if err == nil {
			return []leaf{{pointer: base, message: "matches an alternative only when checked on its own; report this to the suite's authors", keyword: "anyOf"}}
		}
		ls := schemaLeaves(err)
		for i := range ls {
			ls[i].pointer = base + ls[i].pointer
		}
		branches = append(branches, ls)
		titles = append(titles, alt.Value.Title)
	}
	return chooseBranch(base, branches, titles)
}

// chooseBranch picks what to report when a value at base fits none of the
// alternatives of a oneOf or anyOf:
//   - alternatives whose tag disagrees (a one-valued const or enum on a direct member,
//     e.g. "type": "passkey" against the password alternative) are not what the
//     value meant to be; when one alternative is left, its problems are the answer;
//   - otherwise the problems every remaining alternative shares, when there are
//     any (e.g. a missing discriminator);
//   - otherwise those of the alternative(s) the value got furthest into (whose
//     shallowest problem is deepest), then with the fewest problems, each
//     marked with the alternative's title.
func chooseBranch(base string, branches [][]leaf, titles []string) []leaf {
	switch len(branches) {
	case 0:
		return []leaf{{pointer: base, message: "matches none of the alternatives"}}
	case 1:
		return branches[0]
	}
	var survivors []int
	for i, b := range branches {
		if !disagreesOnTag(base, b) {
			survivors = append(survivors, i)
		}
	}
	if len(survivors) == 1 {
		return branches[survivors[0]]
	}
	if len(survivors) == 0 {
		if l, ok := unknownTag(base, branches); ok {
			return []leaf{l}
		}
		for i := range branches {
			survivors = append(survivors, i)
		}
	}
	if common := sharedLeaves(branches, survivors); len(common) > 0 {
		return common
	}
	type rank struct{ depth, count int }
	better := func(a, b rank) bool { return a.depth > b.depth || (a.depth == b.depth && a.count < b.count) }
	ranks := make(map[int]rank, len(survivors))
	var best rank
	first := true
	for _, i := range survivors {
		if len(branches[i]) == 0 {
			continue
		}
		r := rank{depth: shallowest(branches[i]), count: len(branches[i])}
		ranks[i] = r
		if first || better(r, best) {
			best, first = r, false
		}
	}
	var out []leaf
	for _, i := range survivors {
		if r, ok := ranks[i]; !ok || r != best {
			continue
		}
		name := fmt.Sprintf("alternative %d", i+1)
		if titles[i] != "" {
			name = strconv.Quote(titles[i])
		}
		for _, l := range branches[i] {
			l.message += " (if this is meant to be " + name + ")"
			out = append(out, l)
		}
	}
	return out
}

// shallowest is the depth of the branch's least deep problem.
func shallowest(branch []leaf) int {
	d := -1
	for _, l := range branch {
		if n := strings.Count(l.pointer, "/"); d < 0 || n < d {
			d = n
		}
	}
	return d
}

func disagreesOnTag(base string, branch []leaf) bool {
	_, ok := tagLeaf(base, branch)
	return ok
}

// tagLeaf is the branch's failure on a tag: a direct member of base that must
// have one value, such as "type": "password" in the password alternative.
func tagLeaf(base string, branch []leaf) (leaf, bool) {
	for _, l := range branch {
		// A tag admits one value per alternative: a const, or an enum of one.
		if (l.keyword != "const" && l.keyword != "enum") || len(l.want) != 1 {
			continue
		}
		if rest, ok := strings.CutPrefix(l.pointer, base+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
			return l, true
		}
	}
	return leaf{}, false
}

// unknownTag merges the tag failures of alternatives that all disagree on the
// same member into one: `/type: must be one of "password", "passkey", …`.
func unknownTag(base string, branches [][]leaf) (leaf, bool) {
	var merged leaf
	for i, b := range branches {
		l, ok := tagLeaf(base, b)
		if !ok || len(l.want) == 0 || (i > 0 && l.pointer != merged.pointer) {
			return leaf{}, false
		}
		if i == 0 {
			merged = leaf{pointer: l.pointer, keyword: "enum", got: l.got}
		}
		for _, w := range l.want {
			if !slices.Contains(merged.want, w) {
				merged.want = append(merged.want, w)
			}
		}
	}
	merged.message = fmt.Sprintf("must be one of %s%s", strings.Join(merged.want, ", "), merged.got)
	return merged, true
}

func sharedLeaves(branches [][]leaf, idx []int) []leaf {
	if len(idx) < 2 {
		return nil
	}
	var out []leaf
	for _, l := range branches[idx[0]] {
		shared := true
		for _, j := range idx[1:] {
			if !slices.ContainsFunc(branches[j], func(m leaf) bool { return m.pointer == l.pointer && m.message == l.message }) {
				shared = false
				break
			}
		}
		if shared {
			out = append(out, l)
		}
	}
	return out
}

var printer = message.NewPrinter(language.English)

// verrLeaves describes one failing check of the JSON Schema 2020-12 validator.
// Values are left out of messages except short enum/const mismatches: bodies
// can hold secrets.
func verrLeaves(v *jsonschema.ValidationError) []leaf {
	base := v.InstanceLocation
	at := func(extra ...string) string { return pointerOf(append(slices.Clone(base), extra...)) }
	one := func(keyword, msg string) []leaf { return []leaf{{pointer: at(), message: msg, keyword: keyword}} }
	switch k := v.ErrorKind.(type) {
	case *kind.Required:
		out := make([]leaf, len(k.Missing))
		for i, p := range k.Missing {
			out[i] = leaf{pointer: at(p), message: fmt.Sprintf("property %q is missing", p), keyword: "required"}
		}
		return out
	case *kind.DependentRequired:
		out := make([]leaf, len(k.Missing))
		for i, p := range k.Missing {
			out[i] = leaf{pointer: at(p), message: fmt.Sprintf("property %q is missing (required when %q is present)", p, k.Prop), keyword: "dependentRequired"}
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]leaf, len(k.Properties))
		for i, p := range k.Properties {
			out[i] = leaf{pointer: at(p), message: fmt.Sprintf("property %q is not allowed", p), keyword: "additionalProperties"}
		}
		return out
	case *kind.Type:
		return one("type", fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got))
	case *kind.Const:
		want := jsonText(k.Want)
		return []leaf{{pointer: at(), message: fmt.Sprintf("must be %s%s", want, got(k.Got)), keyword: "const", want: []string{want}, got: got(k.Got)}}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = jsonText(w)
		}
		return []leaf{{pointer: at(), message: fmt.Sprintf("must be one of %s%s", strings.Join(want, ", "), got(k.Got)), keyword: "enum", want: want, got: got(k.Got)}}
	case *kind.Pattern:
		return one("pattern", fmt.Sprintf("does not match the pattern %s", k.Want))
	case *kind.Format:
		msg := fmt.Sprintf("is not a valid %s", k.Want)
		if k.Err != nil && !strings.Contains(k.Err.Error(), "pattern") { // a pattern says less than the format's name
			msg += ": " + k.Err.Error()
		}
		return one("format", msg)
	case *kind.MinLength:
		return one("minLength", fmt.Sprintf("is %d characters long, the minimum is %d", k.Got, k.Want))
	case *kind.MaxLength:
		return one("maxLength", fmt.Sprintf("is %d characters long, the maximum is %d", k.Got, k.Want))
	case *kind.MinItems:
		return one("minItems", fmt.Sprintf("has %d items, the minimum is %d", k.Got, k.Want))
	case *kind.MaxItems:
		return one("maxItems", fmt.Sprintf("has %d items, the maximum is %d", k.Got, k.Want))
	case *kind.FalseSchema, *kind.Not:
		return one("not", "must not be present")
	case *kind.Minimum:
		return one("minimum", fmt.Sprintf("is %s, the minimum is %s", k.Got.RatString(), k.Want.RatString()))
	case *kind.Maximum:
		return one("maximum", fmt.Sprintf("is %s, the maximum is %s", k.Got.RatString(), k.Want.RatString()))
	case *kind.OneOf:
		return one("oneOf", fmt.Sprintf("matches more than one alternative (%v) where exactly one is allowed", k.Subschemas))
	case *kind.UniqueItems:
		return one("uniqueItems", fmt.Sprintf("items %d and %d are equal; items must be unique", k.Duplicates[0], k.Duplicates[1]))
	}
	keyword := ""
	if kp := v.ErrorKind.KeywordPath(); len(kp) > 0 {
		keyword = kp[len(kp)-1]
	}
	return one(keyword, v.ErrorKind.LocalizedString(printer))
}

func got(v any) string {
	switch v.(type) {
	case string, float64, json.Number, bool, nil, int, int64:
		return ", got " + clip(jsonText(v))
	}
	return ""
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// pointerOf renders unescaped tokens as an RFC 6901 JSON pointer.
func pointerOf(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

func dedupe(ls []leaf) []leaf {
	out := ls[:0:0]
	for _, l := range ls {
		if !slices.ContainsFunc(out, func(m leaf) bool { return m.pointer == l.pointer && m.message == l.message }) {
			out = append(out, l)
		}
	}
	return out
}

// sortedLeaves orders leaves by pointer, so that messages do not depend on the
// validator's traversal order.
func sortedLeaves(ls []leaf) []leaf {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b leaf) int { return strings.Compare(a.pointer, b.pointer) })
	return out
}
