package ratelimit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The oracle on recorded bursts (testdata/<name>/): what the rate-limit specs sent
// to the reference tenant, clean and under each of its rate-limit faults, written
// by the specs themselves with MC_RATELIMIT_RECORD (RecordEnv) set:
//
//	go build -o bin/mc ./runner
//	MC_RATELIMIT_RECORD=$PWD/suites/ratelimit/testdata/clean ./bin/mc run --label-filter ratelimit --report-dir /tmp/rl-clean
//	MC_RATELIMIT_RECORD=$PWD/suites/ratelimit/testdata/rate-limit-none ./bin/mc run --fault rate-limit-none --label-filter ratelimit --report-dir /tmp/rl-none
//
// bursts.json.gz holds the ordered Describe's bursts, operations.json.gz the
// every-operation spec's probes; each holds how its specs ended in that run
// (Observed). Judge must reach the same outcome with the same message for every
// spec, find no failure in the clean recording and, under each fault, fail the
// requirements the README's table lists for it.

// caughtBy is the README's table: the requirements whose specs fail under each
// rate-limit fault of the reference tenant (under --plan enterprise).
var caughtBy = map[string][]string{
	"clean":                          nil,
	"rate-limit-none":                {"MA-RL-002", "MA-RL-003", "MA-RL-007", "MA-RL-008", "MA-RL-011"},
	"rate-limit-doubled":             {"MA-RL-002", "MA-RL-007", "MA-RL-008", "MA-RL-010"},
	"rate-limit-per-user":            {"MA-RL-002", "MA-RL-007", "MA-RL-008"},
	"rate-limit-per-domain":          {"MA-RL-008"},
	"rate-limit-no-retry-after":      {"MA-RL-004"},
	"rate-limit-user-no-retry-after": {"MA-RL-004"},
	"rate-limit-wrong-remaining":     {"MA-RL-009"},
	"rate-limit-remaining-frozen":    {"MA-RL-009"},
	"rate-limit-user-missing":        {"MA-RL-011"},
	"rate-limit-user-shared":         {"MA-RL-012", "MA-RL-013", "MA-RL-001", "MA-RL-006"},
	"rate-limit-kinds-shared":        {"MA-RL-013", "MA-RL-001"},
	"rate-limit-filtered-as-read":    {"MA-RL-013", "MA-RL-012", "MA-RL-010", "MA-RL-001"},
}

// recorded reads testdata/name: both files, as one history.
func recorded(t *testing.T, name string) *History {
	t.Helper()
	dir := filepath.Join("testdata", name)
	h, err := ReadHistory(filepath.Join(dir, "bursts.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if ops, err := ReadHistory(filepath.Join(dir, "operations.json.gz")); err == nil {
		h.Drains, h.Observed = ops.Drains, append(h.Observed, ops.Observed...)
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return h
}

// specKey names a spec as Observed does: its kind's Context and its text.
func specKey(context, it string) string { return context + " :: " + it }

func verdictKey(v Verdict) string {
	if v.Spec == itDomains || v.Spec == itEveryOperation {
		return specKey("", v.Spec)
	}
	return specKey("on "+kindName(v.Kind), v.Spec)
}

func TestRecordedBursts(t *testing.T) {
	for name, want := range caughtBy {
		t.Run(name, func(t *testing.T) {
			h := recorded(t, name)
			verdicts := map[string]Verdict{}
			var failed []string
			for _, v := range Judge(h) {
				verdicts[verdictKey(v)] = v
				if v.Outcome == Failed {
					failed = append(failed, v.Req)
				}
			}
			// The oracle judges the recording as the specs judged the bursts.
			for _, o := range h.Observed {
				v, ok := verdicts[specKey(o.Context, o.Spec)]
				if !ok {
					t.Errorf("%s: the oracle gives no verdict", specKey(o.Context, o.Spec))
					continue
				}
				if v.Outcome != o.Outcome || v.Message != o.Message {
					t.Errorf("%s:\n the run: %s %q\n the oracle: %s %q", specKey(o.Context, o.Spec), o.Outcome, o.Message, v.Outcome, v.Message)
				}
			}
			t.Logf("%d specs observed, %d judged; failed: %s", len(h.Observed), len(verdicts), strings.Join(failed, ", "))
			if len(h.Observed) < len(verdicts) {
				t.Errorf("the recording observed %d specs, the oracle judged %d", len(h.Observed), len(verdicts))
			}
			for _, req := range want {
				if !slices.Contains(failed, req) {
					t.Errorf("%s is not failed (failed: %s)", req, strings.Join(failed, ", "))
				}
			}
			if want == nil && len(failed) > 0 {
				t.Errorf("the clean recording fails %s", strings.Join(failed, ", "))
			}
		})
	}
}

// A history survives its file.
func TestHistoryRoundTrip(t *testing.T) {
	h := recorded(t, "clean")
	path := filepath.Join(t.TempDir(), "h.json.gz")
	if err := WriteHistory(path, h); err != nil {
		t.Fatal(err)
	}
	back, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Judge(h), Judge(back)
	if len(a) != len(b) {
		t.Fatalf("%d verdicts, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Outcome != b[i].Outcome || a[i].Message != b[i].Message {
			t.Fatalf("%s: %s %q, then %s %q", a[i].Spec, a[i].Outcome, a[i].Message, b[i].Outcome, b[i].Message)
		}
	}
}
