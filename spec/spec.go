// Package spec holds what the suite checks servers against: our OpenAPI
// descriptions of the My Account API and of the Authentication API endpoints
// its flows use, the catalogue of requirements the suites cite, and a Validator
// that checks recorded HTTP exchanges against the descriptions.
//
// The documents are embedded so that a built runner needs no files at run time.
package spec

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// Names of our documents, as used in Document.Name.
const (
	MyAccountDoc      = "myaccount"
	AuthenticationDoc = "authentication"
)

var (
	//go:embed myaccount.yaml
	myAccountYAML []byte
	//go:embed authentication.yaml
	authenticationYAML []byte
	//go:embed requirements.yaml
	requirementsYAML []byte
)

// Document is one of our embedded OpenAPI documents.
type Document struct {
	Name string // MyAccountDoc or AuthenticationDoc
	File string // file name, e.g. "myaccount.yaml"; error messages cite it
	Data []byte // the YAML text
}

// Documents returns our embedded OpenAPI documents, My Account first.
// Each call returns fresh copies, so callers may keep or change them.
func Documents() []Document {
	return []Document{
		{Name: MyAccountDoc, File: "myaccount.yaml", Data: slices.Clone(myAccountYAML)},
		{Name: AuthenticationDoc, File: "authentication.yaml", Data: slices.Clone(authenticationYAML)},
	}
}

// SHA256 is the hex SHA-256 of the document's bytes; reports carry it so that a
// result can be tied to the exact description it was checked against.
func (d Document) SHA256() string {
	sum := sha256.Sum256(d.Data)
	return hex.EncodeToString(sum[:])
}

// Requirement is one entry of the catalogue in requirements.yaml.
type Requirement struct {
	ID        string `json:"id"`        // e.g. MA-ENR-001; stable, never reused
	Level     string `json:"level"`     // MUST | SHOULD | MAY (RFC 2119)
	Source    string `json:"source"`    // the document the requirement comes from
	Section   string `json:"section"`   // where in that document
	Statement string `json:"statement"` // what a conforming server does, one sentence
	Profile   string `json:"profile"`   // core | extended
	// Operation is the operationId of one of our documents the requirement is
	// about, or "*" for every My Account operation.
	Operation string `json:"operation"`
}

var (
	requirementIDPattern = regexp.MustCompile(`^[A-Z]+(-[A-Z]+)*-\d{3}$`)
	requirementLevels    = []string{"MUST", "SHOULD", "MAY"}
	requirementProfiles  = []string{"core", "extended"}
)

// parsedRequirements parses the embedded catalogue once; it cannot change at
// run time, so neither can the outcome.
var parsedRequirements = sync.OnceValues(func() ([]Requirement, error) {
	return parseRequirements(requirementsYAML)
})

// Requirements returns the catalogue, in file order, after checking it: known
// fields only, well-formed and unique IDs, known levels and profiles, and no
// empty field.
func Requirements() ([]Requirement, error) {
	reqs, err := parsedRequirements()
	if err != nil {
		return nil, err
	}
	return slices.Clone(reqs), nil
}

// RequirementByID looks a requirement up; false when the ID is unknown or the
// catalogue does not parse.
func RequirementByID(id string) (Requirement, bool) {
	reqs, err := parsedRequirements()
	if err != nil {
		return Requirement{}, false
	}
	for _, r := range reqs {
		if r.ID == id {
			return r, true
		}
	}
	return Requirement{}, false
}

// operationIDs are the operationIds of our two documents.
var operationIDs = sync.OnceValue(func() map[string]bool {
	ids := map[string]bool{}
	for _, d := range Documents() {
		var doc struct {
			Paths map[string]map[string]any `json:"paths"`
		}
		if yaml.Unmarshal(d.Data, &doc) != nil {
			continue
		}
		for _, item := range doc.Paths {
			for _, op := range item {
				if m, ok := op.(map[string]any); ok {
					if id, ok := m["operationId"].(string); ok {
						ids[id] = true
					}
				}
			}
		}
	}
	return ids
})

func knownOperationID(id string) bool { return operationIDs()[id] }

func parseRequirements(data []byte) ([]Requirement, error) {
	var file struct {
		Requirements []Requirement `json:"requirements"`
	}
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		return nil, fmt.Errorf("requirements.yaml: %w", err)
	}
	if len(file.Requirements) == 0 {
		return nil, fmt.Errorf("requirements.yaml: no requirements")
	}
	var problems []string
	seen := make(map[string]int, len(file.Requirements))
	for i, r := range file.Requirements {
		where := fmt.Sprintf("entry %d", i+1)
		if r.ID != "" {
			where += " (" + r.ID + ")"
		}
		if !requirementIDPattern.MatchString(r.ID) {
			problems = append(problems, fmt.Sprintf("%s: id %q does not match %s", where, r.ID, requirementIDPattern))
		} else if first, dup := seen[r.ID]; dup {
			problems = append(problems, fmt.Sprintf("%s: id %s is already used by entry %d", where, r.ID, first))
		} else {
			seen[r.ID] = i + 1
		}
		if !slices.Contains(requirementLevels, r.Level) {
			problems = append(problems, fmt.Sprintf("%s: level %q is not one of %s", where, r.Level, strings.Join(requirementLevels, ", ")))
		}
		if !slices.Contains(requirementProfiles, r.Profile) {
			problems = append(problems, fmt.Sprintf("%s: profile %q is not one of %s", where, r.Profile, strings.Join(requirementProfiles, ", ")))
		}
		if r.Operation != "*" && !knownOperationID(r.Operation) {
			problems = append(problems, fmt.Sprintf("%s: operation %q is not an operationId of our documents, nor \"*\"", where, r.Operation))
		}
		for _, f := range [...]struct{ name, value string }{{"source", r.Source}, {"section", r.Section}, {"statement", r.Statement}} {
			if strings.TrimSpace(f.value) == "" {
				problems = append(problems, fmt.Sprintf("%s: %s is empty", where, f.name))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("requirements.yaml:\n  %s", strings.Join(problems, "\n  "))
	}
	return file.Requirements, nil
}
