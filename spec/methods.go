package spec

import (
	"slices"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// What a method of each type has, read from the description: the branches of the
// AuthenticationMethod schema (its discriminator on type) and the members
// AuthenticationMethodUpdate takes. The drivers ask these rather than writing the
// vendor's schema a second time, so a fix to the description (a passkey has no
// name) reaches every check.

// methodSchemas are the AuthenticationMethod branches by type, and the PATCH body.
var methodSchemas = sync.OnceValues(func() (map[string]*openapi3.Schema, *openapi3.Schema) {
	doc, err := loadDocument("myaccount.yaml", myAccountYAML)
	if err != nil {
		return nil, nil
	}
	var update *openapi3.Schema
	if ref := doc.Components.Schemas["AuthenticationMethodUpdate"]; ref != nil {
		update = ref.Value
	}
	ref := doc.Components.Schemas["AuthenticationMethod"]
	if ref == nil || ref.Value == nil {
		return nil, update
	}
	return Branches(ref.Value), update
})

// MethodTypes are the method types the description's AuthenticationMethod names, sorted.
func MethodTypes() []string {
	branches, _ := methodSchemas()
	var out []string
	for t := range branches {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// MethodMembers are the members a method of typ has in the description (its
// AuthenticationMethod branch), sorted; nil for a type the description does not name.
func MethodMembers(typ string) []string {
	branches, _ := methodSchemas()
	s := branches[typ]
	if s == nil {
		return nil
	}
	var out []string
	for name := range s.Properties {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// MethodPatchable are the members PATCH may change on a method of typ: those of
// AuthenticationMethodUpdate that the type's methods have, sorted.
func MethodPatchable(typ string) []string {
	_, update := methodSchemas()
	if update == nil {
		return nil
	}
	var out []string
	for _, m := range MethodMembers(typ) {
		if _, ok := update.Properties[m]; ok {
			out = append(out, m)
		}
	}
	return out
}

// MethodMemberEnum are the values the description allows for member of a method of
// typ (its enum), nil when it lists none.
func MethodMemberEnum(typ, member string) []string {
	branches, _ := methodSchemas()
	s := branches[typ]
	if s == nil || s.Properties[member] == nil || s.Properties[member].Value == nil {
		return nil
	}
	var out []string
	for _, v := range s.Properties[member].Value.Enum {
		if str, ok := v.(string); ok {
			out = append(out, str)
		}
	}
	return out
}
