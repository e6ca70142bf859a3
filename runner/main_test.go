package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report/reporttest"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

var binary string

// TestMain builds the command once: each test runs it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "myaccount-conformance-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "myaccount-conformance")
	if out, err := exec.Command("go", "build", "-o", binary, "./myaccount-conformance").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCmd runs the binary with a hang guard; a run that needs the guard fails the test.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish: it hung", args)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), o.String(), e.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, o.String(), e.String()
}

// readYAML decodes the YAML file at path into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// editConfig writes the target config at from, changed by edit, to to, and returns
// it as written.
func editConfig(t *testing.T, from, to string, edit func(target map[string]any)) map[string]any {
	t.Helper()
	var target map[string]any
	readYAML(t, from, &target)
	edit(target)
	data, err := yaml.Marshal(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return target
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunAgainstAClosedPortIsInconclusive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cfg := writeFile(t, "closed.yaml", `
domain: tenant.closed.test
resolve:
  "tenant.closed.test:443": "`+closed+`"
clients:
  native: {client_id: abc}
timeouts: {connect: 2s, request: 2s}
`)
	dir := t.TempDir()
	code, _, stderr := runCmd(t, "run", "--config", cfg, "--report-dir", dir)
	if code != exitInconclusive {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInconclusive, stderr)
	}
	for _, want := range []string{"unreachable", "https://tenant.closed.test/", closed} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	// CI dashboards read the reports: they say why nothing was checked.
	for file, want := range map[string]string{
		"certification.yaml": "result: inconclusive",
		"report.html":        "INCONCLUSIVE: nothing was checked",
		"junit.xml":          "INCONCLUSIVE: the target could not be reached",
		"report.md":          "**INCONCLUSIVE: nothing was checked.** the target could not be reached",
		"report.har":         "Nothing was checked: the target could not be reached",
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("an INCONCLUSIVE run wrote no %s: %v", file, err)
			continue
		}
		if !strings.Contains(string(data), want) || !strings.Contains(string(data), "unreachable") {
			t.Errorf("%s does not say %q and why:\n%.2000s", file, want, data)
		}
	}
	// report.har is an archive without entries, not an empty file.
	if data, err := os.ReadFile(filepath.Join(dir, report.HARFile)); err == nil {
		if h := reporttest.CheckHAR(t, data); len(h.Log.Entries) != 0 {
			t.Errorf("report.har of a run that sent nothing has %d entries", len(h.Log.Entries))
		}
	}
}

func TestRunWithABadConfigNamesTheField(t *testing.T) {
	cfg := writeFile(t, "bad.yaml", "domain: a.example\nclients: {native: {client_id: a}}\ncustom_domian: b.example\n")
	code, _, stderr := runCmd(t, "run", "--config", cfg, "--report-dir", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, `"custom_domian"`) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"run", "--fault", "no-such-fault", "--report-dir", t.TempDir()}, {"run", "--no-such-flag"}} {
		if code, _, stderr := runCmd(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr)
		}
	}
}

func TestListPrintsTheCatalogue(t *testing.T) {
	reqs, err := spec.Requirements()
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCmd(t, "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, r := range reqs {
		if !strings.Contains(stdout, r.ID) {
			t.Errorf("list lacks %s", r.ID)
		}
	}
}

// Every spec names known requirement IDs, and every MUST requirement has a spec: of
// the default reference, or of one with several custom domains (specs of a pair of
// custom domains exist only then).
func TestEverySpecNamesKnownRequirementsAndEveryMUSTHasASpec(t *testing.T) {
	var reports []types.Report
	for _, extra := range [][]string{nil, {"--custom-domains", "2"}} {
		dir := t.TempDir()
		code, stdout, stderr := runCmd(t, append([]string{"run", "--ginkgo.dry-run", "--report-dir", dir}, extra...)...)
		if code != 0 {
			t.Fatalf("dry run %v: exit %d\n%s\n%s", extra, code, stdout, stderr)
		}
		data, err := os.ReadFile(filepath.Join(dir, jsonReport))
		if err != nil {
			t.Fatal(err)
		}
		var more []types.Report
		if err := json.Unmarshal(data, &more); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, more...)
	}
	reqs, err := spec.Requirements()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]spec.Requirement{}
	for _, r := range reqs {
		known[r.ID] = r
	}
	covered := map[string]bool{}
	specs := 0
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			specs++
			ids := verdict.ReqIDs(s.Labels())
			if len(ids) == 0 {
				t.Errorf("spec %q names no requirement ID", s.FullText())
			}
			for _, id := range ids {
				if _, ok := known[id]; !ok {
					t.Errorf("spec %q names unknown requirement %s", s.FullText(), id)
				}
				covered[id] = true
			}
		}
	}
	if specs == 0 {
		t.Fatal("the dry run reported no spec")
	}
	for _, r := range reqs {
		if r.Level == "MUST" && !covered[r.ID] {
			t.Errorf("MUST requirement %s has no spec: %s", r.ID, r.Statement)
		}
	}
}

// version names the module version and the revision the binary was built from.
func TestVersionNamesTheRevision(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "myaccount-conformance ") || !strings.Contains(out, ", revision ") {
		t.Errorf("version: %d %q", code, out)
	}
	for v, want := range map[string]string{
		"v0.0.0-20261206224301-3a01a37c4f1e":       "3a01a37c4f1e",
		"v1.2.4-0.20261206224301-3a01a37c4f1e":     "3a01a37c4f1e",
		"v2.0.1-pre.0.20261206224301-3a01a37c4f1e": "3a01a37c4f1e",
		"v1.2.3": "",
		"dev":    "",
	} {
		if got := pseudoRevision(v); got != want {
			t.Errorf("pseudoRevision(%q) = %q, want %q", v, got, want)
		}
	}
}
