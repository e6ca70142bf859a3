package runner

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// An expected-failures file lists requirements an implementation is known to fail,
// each with the reason (OpenID Foundation style): the run passes while they fail,
// and fails when one of them passes unexpectedly or goes untested — so the file
// never hides a fix or a lost check.
//
//	expected_failures:
//	  - id: MA-ENR-001
//	    reason: "enrollment start answers 200; fixed in 2.4 (ticket 1234)"
type expectedFile struct {
	ExpectedFailures []struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"expected_failures"`
}

// loadExpected reads an expected-failures file: requirement ID → reason. Unknown
// fields, unknown or repeated IDs and empty reasons are errors naming the entry.
func loadExpected(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--expected-failures: %v", err)
	}
	var f expectedFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, usagef("--expected-failures %s: %v", path, err)
	}
	out := map[string]string{}
	var problems []string
	for i, e := range f.ExpectedFailures {
		where := fmt.Sprintf("entry %d", i+1)
		switch _, known := spec.RequirementByID(e.ID); {
		case e.ID == "":
			problems = append(problems, where+": id is empty")
		case !known:
			problems = append(problems, fmt.Sprintf("%s: %s is not a requirement of the catalogue ('myaccount-conformance list')", where, e.ID))
		case out[e.ID] != "":
			problems = append(problems, fmt.Sprintf("%s: %s is listed twice", where, e.ID))
		case strings.TrimSpace(e.Reason) == "":
			problems = append(problems, fmt.Sprintf("%s (%s): reason is empty: say why it is expected to fail", where, e.ID))
		default:
			out[e.ID] = strings.TrimSpace(e.Reason)
		}
	}
	if len(problems) > 0 {
		return nil, usagef("--expected-failures %s:\n  %s", path, strings.Join(problems, "\n  "))
	}
	if len(out) == 0 {
		return nil, usagef("--expected-failures %s: no entries under expected_failures", path)
	}
	return out, nil
}
