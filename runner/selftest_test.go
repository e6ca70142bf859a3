package runner

import "testing"

// The self test's clean run, and the baseline make test hands it, is the default
// reference with every limit group waived: not the default itself (which enforces
// them), nor a reference with anything else changed.
func TestSelftestReference(t *testing.T) {
	parse := func(args ...string) reference { return parseReference(t, args...) }
	if r := parse("--waive", "all"); !selftestReference(r) {
		t.Errorf("the default reference with --waive all: %v", r.args())
	}
	if r := parse(); selftestReference(r) {
		t.Error("the default reference, which enforces every limit, taken as the self test's")
	}
	if r := parse("--waive", "all", "--plan", "free"); selftestReference(r) {
		t.Error("a reference on another plan taken as the self test's")
	}
}
