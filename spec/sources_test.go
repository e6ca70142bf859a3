package spec

import (
	"regexp"
	"testing"
)

// authority names the documents a requirement may rest on: the vendor's (its
// OpenAPI description, docs, Authentication API, SDKs) and standards (RFCs, W3C,
// OpenID, the OAuth BCP).
var authority = regexp.MustCompile(`My Account API OpenAPI|Auth0|RFC \d+|W3C |OpenID |OAuth 2\.0 Security Best Current Practice`)

// Every requirement cites where it comes from: a document and a section of it. A
// MUST must rest on a vendor or standards document (whether that sentence says MUST
// or describes what the service does is for review: no test reads the wording).
func TestEveryRequirementHasASource(t *testing.T) {
	reqs, err := Requirements()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Source == "" || r.Section == "" {
			t.Errorf("%s: source %q, section %q: both are needed", r.ID, r.Source, r.Section)
		}
		if r.Level == "MUST" && !authority.MatchString(r.Source) {
			t.Errorf("%s: a MUST whose source %q is neither the vendor's nor a standard", r.ID, r.Source)
		}
	}
}
