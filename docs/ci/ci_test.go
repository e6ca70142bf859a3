package ci

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
)

// exitCode is one of the exit code constants of runner/main.go.
type exitCode struct {
	name  string
	value int
}

// outcome is what a CI recipe must do to the job for an exit code.
type outcome int

const (
	pass outcome = iota // the job passes
	warn                // visible as a warning; the job is not failed for it by default
	fail                // the job fails
)

func (c exitCode) outcome() outcome {
	switch {
	case c.value == 0:
		return pass
	case strings.Contains(strings.ToLower(c.name), "inconclusive"):
		return warn
	default:
		return fail
	}
}

// runnerExitCodes parses runner/main.go and returns its exit code constants: every
// constant named exit*, evaluated by go/types (so iota and expressions work). A new
// exit code there fails the checks below until both recipes handle it.
func runnerExitCodes(t *testing.T) []exitCode {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../runner/main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	src.WriteString("package p\n")
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		if !slices.ContainsFunc(g.Specs, func(s ast.Spec) bool {
			return slices.ContainsFunc(s.(*ast.ValueSpec).Names, func(n *ast.Ident) bool { return isExitName(n.Name) })
		}) {
			continue
		}
		if err := printer.Fprint(&src, fset, g); err != nil {
			t.Fatal(err)
		}
		src.WriteString("\n")
	}
	cfset := token.NewFileSet()
	cf, err := parser.ParseFile(cfset, "consts.go", src.Bytes(), 0)
	if err != nil {
		t.Fatalf("the exit code constants of runner/main.go:\n%s\n%v", src.String(), err)
	}
	pkg, err := new(types.Config).Check("p", cfset, []*ast.File{cf}, nil)
	if err != nil {
		t.Fatalf("evaluating the exit code constants of runner/main.go:\n%s\n%v", src.String(), err)
	}
	var codes []exitCode
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if !ok || !isExitName(name) {
			continue
		}
		v, err := strconv.Atoi(c.Val().ExactString())
		if err != nil {
			t.Fatalf("exit code %s = %s is not an integer", name, c.Val())
		}
		codes = append(codes, exitCode{name, v})
	}
	slices.SortFunc(codes, func(a, b exitCode) int { return a.value - b.value })
	var sawPass, sawWarn bool
	for _, c := range codes {
		sawPass = sawPass || c.outcome() == pass
		sawWarn = sawWarn || c.outcome() == warn
	}
	if !sawPass || !sawWarn {
		t.Fatalf("runner/main.go: want an exit code 0 and an inconclusive one among %v", codes)
	}
	return codes
}

func isExitName(n string) bool { return strings.HasPrefix(n, "exit") && len(n) > 4 }

func load(t *testing.T, file string) (string, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil { // yaml.v3 also refuses duplicate keys
		t.Fatalf("%s: %v", file, err)
	}
	if len(doc) == 0 {
		t.Fatalf("%s: empty", file)
	}
	return string(raw), doc
}

func mapAt(v any, path ...string) map[string]any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

// caseArms returns the arms of the script's `case "$code" in … esac`, by label.
func caseArms(t *testing.T, script string) map[string]string {
	t.Helper()
	m := regexp.MustCompile(`(?s)case "\$code" in\n(.*?)\n\s*esac`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no `case \"$code\" in … esac` mapping the exit code in:\n%s", script)
	}
	arms := map[string]string{}
	for _, part := range strings.Split(m[1], ";;") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		label, body, ok := strings.Cut(part, ")")
		if !ok {
			t.Fatalf("case arm without a label: %q", part)
		}
		for _, l := range strings.Split(label, "|") {
			arms[strings.TrimSpace(l)] = body
		}
	}
	return arms
}

var exitNonZero = regexp.MustCompile(`\bexit\s+("\$code"|\$code|[1-9][0-9]*)`)

// checkArms holds the mapping to every exit code of runner/main.go: an arm per code
// that names the constant, fails the job for a failure code, and a default arm that
// fails it for anything else. ghaAnnotations adds GitHub's ::error::/::warning:: and
// the job summary.
func checkArms(t *testing.T, script string, codes []exitCode, ghaAnnotations bool) {
	t.Helper()
	arms := caseArms(t, script)
	for _, c := range codes {
		body, ok := arms[strconv.Itoa(c.value)]
		if !ok {
			t.Errorf("exit code %d (%s) of runner/main.go is not handled: no `%d)` arm", c.value, c.name, c.value)
			continue
		}
		if !strings.Contains(body, c.name) {
			t.Errorf("the `%d)` arm does not name %s in its comment", c.value, c.name)
		}
		if ghaAnnotations && !strings.Contains(body, "GITHUB_STEP_SUMMARY") {
			t.Errorf("the `%d)` arm (%s) writes no line to $GITHUB_STEP_SUMMARY", c.value, c.name)
		}
		switch c.outcome() {
		case pass:
			if exitNonZero.MatchString(body) {
				t.Errorf("the `%d)` arm (%s) fails the job", c.value, c.name)
			}
		case warn:
			if ghaAnnotations && !strings.Contains(body, "::warning::") {
				t.Errorf("the `%d)` arm (%s) emits no ::warning::", c.value, c.name)
			}
		case fail:
			if ghaAnnotations && (!exitNonZero.MatchString(body) || !strings.Contains(body, "::error::")) {
				t.Errorf("the `%d)` arm (%s) must emit ::error:: and fail the job (exit non-zero)", c.value, c.name)
			}
		}
	}
	def, ok := arms["*"]
	if !ok {
		t.Errorf("no `*)` arm for an exit code the suite does not define")
	} else if ghaAnnotations && !exitNonZero.MatchString(def) {
		t.Errorf("the `*)` arm does not fail the job")
	}
}

var (
	envRef      = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	secretKey   = regexp.MustCompile(`(?i)secret|password|passwd|token|private|api_?key`)
	secretsExpr = regexp.MustCompile(`^\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)
	configLine  = regexp.MustCompile(`(?m)^\s*(client_secret|password|secret|token)\s*:\s*(.*?)\s*$`)
	jwtLike     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.`)
)

// checkConfigHeredoc holds the target config written at job time to ${NAME} references
// for its secret fields, and returns every variable it references.
func checkConfigHeredoc(t *testing.T, script string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<<'EOF'\n(.*?)\n\s*EOF`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no target config written with a quoted heredoc (<<'EOF'): the shell would expand its ${NAME}")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatalf("the target config is not YAML: %v\n%s", err, m[1])
	}
	for _, field := range []string{"domain", "clients"} {
		if cfg[field] == nil {
			t.Errorf("the target config has no %s", field)
		}
	}
	for _, l := range configLine.FindAllStringSubmatch(m[1], -1) {
		if !envRef.MatchString(l[2]) || envRef.FindString(l[2]) != l[2] {
			t.Errorf("target config: %s: %q is not a ${NAME} reference: a secret would be committed", l[1], l[2])
		}
	}
	var names []string
	for _, r := range envRef.FindAllStringSubmatch(m[1], -1) {
		if !slices.Contains(names, r[1]) {
			names = append(names, r[1])
		}
	}
	// The suite's own loader takes it (strict: an unknown field is an error), once the
	// variables are set.
	for _, n := range names {
		v := "example-" + strings.ToLower(n)
		if strings.Contains(n, "DOMAIN") {
			v = strings.ToLower(strings.ReplaceAll(n, "_", "-")) + ".example.com"
		}
		t.Setenv(n, v)
	}
	if _, err := config.ParseTarget([]byte(m[1])); err != nil {
		t.Errorf("the target config does not load: %v\n%s", err, m[1])
	}
	return names
}

// walk calls f for every string in v with the path of map keys leading to it.
func walk(v any, path []string, f func(path []string, s string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walk(e, append(slices.Clone(path), k), f)
		}
	case []any:
		for _, e := range v {
			walk(e, path, f)
		}
	case string:
		f(path, v)
	}
}

func TestGitHubActionsWorkflow(t *testing.T) {
	codes := runnerExitCodes(t)
	raw, doc := load(t, "github-actions.yml")
	if doc["on"] == nil {
		t.Error("no `on:` triggers")
	}
	jobs := mapAt(doc, "jobs")
	if len(jobs) == 0 {
		t.Fatal("no jobs")
	}

	// Secrets come from ${{ secrets.* }}, only into env: maps, only under secret-like names.
	secrets := map[string]bool{}
	walk(doc, nil, func(path []string, s string) {
		inEnv := len(path) >= 2 && path[len(path)-2] == "env"
		if m := secretsExpr.FindStringSubmatch(s); m != nil && inEnv {
			secrets[m[1]] = true
		} else if strings.Contains(s, "secrets.") {
			t.Errorf("%s: a secret outside an env: map, or not alone in its value: %q", strings.Join(path, "."), s)
		}
		if inEnv && secretKey.MatchString(path[len(path)-1]) && !secretsExpr.MatchString(s) {
			t.Errorf("%s: %q looks like a literal secret: use ${{ secrets.NAME }}", strings.Join(path, "."), s)
		}
	})
	if len(secrets) == 0 {
		t.Error("the workflow takes no secrets from ${{ secrets.* }}")
	}
	if jwtLike.MatchString(raw) {
		t.Error("the workflow holds something like a JWT")
	}

	var runs int
	for jobName := range jobs {
		job := mapAt(jobs, jobName)
		steps, _ := job["steps"].([]any)
		if len(steps) == 0 {
			t.Errorf("job %s has no steps", jobName)
			continue
		}
		var scripts []string
		runAt := -1
		var setupGo, uploadReports, junit, summary bool
		for i, s := range steps {
			step, _ := s.(map[string]any)
			uses, _ := step["uses"].(string)
			script, _ := step["run"].(string)
			cond, _ := step["if"].(string)
			with := mapAt(step, "with")
			scripts = append(scripts, script)
			if strings.HasPrefix(uses, "actions/setup-go@") {
				setupGo = true
				if f, _ := with["go-version-file"].(string); !strings.HasSuffix(f, "go.mod") {
					t.Errorf("job %s: setup-go without a go-version-file naming the suite's go.mod", jobName)
				}
			}
			if strings.Contains(script, "myaccount-conformance run") {
				runAt = i
				runs++
				if !strings.Contains(script, "--config") || !strings.Contains(script, "--report-dir reports") {
					t.Errorf("job %s: `myaccount-conformance run` without --config and --report-dir reports", jobName)
				}
				if step["continue-on-error"] != nil {
					t.Errorf("job %s: the run step has continue-on-error: the exit code mapping decides", jobName)
				}
				checkArms(t, script, codes, true)
			}
			if runAt >= 0 && i > runAt && strings.Contains(cond, "always()") {
				if strings.HasPrefix(uses, "actions/upload-artifact@") {
					p, _ := with["path"].(string)
					uploadReports = uploadReports || uploads(p, "report.html") && uploads(p, "report.har")
				}
				if regexp.MustCompile(`cat reports/report\.md >> "?\$GITHUB_STEP_SUMMARY"?`).MatchString(script) {
					summary = true
				}
				for _, v := range with {
					if s, _ := v.(string); strings.Contains(s, "reports/junit.xml") {
						junit = true
					}
				}
			}
		}
		if runAt < 0 {
			continue
		}
		if !setupGo {
			t.Errorf("job %s: no actions/setup-go step", jobName)
		}
		if !uploadReports {
			t.Errorf("job %s: no actions/upload-artifact of reports/ (report.html and report.har) with if: always() after the run", jobName)
		}
		if !summary {
			t.Errorf("job %s: reports/report.md not appended to $GITHUB_STEP_SUMMARY with if: always() after the run", jobName)
		}
		if !junit {
			t.Errorf("job %s: reports/junit.xml not published with if: always() after the run", jobName)
		}
		// Every ${NAME} of the target config is set in the run step's env.
		var config string
		for _, s := range scripts {
			if strings.Contains(s, "<<'EOF'") {
				config = s
			}
		}
		if config == "" {
			t.Errorf("job %s: no step writes the target config", jobName)
			continue
		}
		step := steps[runAt].(map[string]any)
		env := mapAt(step, "env")
		for _, name := range checkConfigHeredoc(t, config) {
			if env[name] == nil {
				t.Errorf("job %s: the target config reads ${%s}, which the run step's env does not set", jobName, name)
			}
		}
	}
	if runs == 0 {
		t.Fatal("no step runs `myaccount-conformance run`")
	}
	checkREADME(t, secrets, codes)
}

// gitlabReserved are the top-level keys of a .gitlab-ci.yml that are not jobs.
var gitlabReserved = []string{"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script"}

func TestGitLabCI(t *testing.T) {
	codes := runnerExitCodes(t)
	raw, doc := load(t, "gitlab-ci.yml")
	if jwtLike.MatchString(raw) {
		t.Error("the job holds something like a JWT")
	}
	var found bool
	for name, v := range doc {
		job, ok := v.(map[string]any)
		if !ok || slices.Contains(gitlabReserved, name) || strings.HasPrefix(name, ".") {
			continue
		}
		lines, _ := job["script"].([]any)
		var script strings.Builder
		for _, l := range lines {
			s, _ := l.(string)
			script.WriteString(s + "\n")
		}
		if !strings.Contains(script.String(), "myaccount-conformance run") {
			continue
		}
		found = true
		s := script.String()
		if !strings.Contains(s, "--config") || !strings.Contains(s, "--report-dir reports") {
			t.Errorf("job %s: `myaccount-conformance run` without --config and --report-dir reports", name)
		}
		if image, _ := job["image"].(string); !strings.HasPrefix(image, "golang:") {
			t.Errorf("job %s: image %q is not golang", name, image)
		} else if want := goMinor(t); !strings.HasPrefix(strings.TrimPrefix(image, "golang:"), want) {
			t.Errorf("job %s: image %s, but go.mod asks for go %s", name, image, want)
		}
		checkArms(t, s, codes, false)
		if !regexp.MustCompile(`(?s)esac\s*\n\s*exit "\$code"\s*$`).MatchString(s) {
			t.Errorf("job %s: the script does not end with exit \"$code\": allow_failure would not see the suite's code", name)
		}
		checkConfigHeredoc(t, s)

		artifacts := mapAt(job, "artifacts")
		if artifacts["when"] != "always" {
			t.Errorf("job %s: artifacts.when is %v, want always", name, artifacts["when"])
		}
		if j, _ := mapAt(artifacts, "reports")["junit"].(string); j != "reports/junit.xml" {
			t.Errorf("job %s: artifacts.reports.junit is %q, want reports/junit.xml", name, j)
		}
		paths, _ := artifacts["paths"].([]any)
		var listed []string
		for _, p := range paths {
			listed = append(listed, fmt.Sprint(p))
		}
		for _, f := range []string{"report.html", "report.md", "report.har"} {
			if !uploads(strings.Join(listed, "\n"), f) {
				t.Errorf("job %s: artifacts.paths %v lacks reports/%s", name, paths, f)
			}
		}
		// expose_as links the reports from a merge request; it leaves out a directory
		// without its trailing slash.
		if e, _ := artifacts["expose_as"].(string); e == "" {
			t.Errorf("job %s: no artifacts.expose_as: a merge request does not link the reports", name)
		} else if slices.Contains(listed, "reports") {
			t.Errorf("job %s: artifacts.paths names reports without the trailing / that expose_as needs", name)
		}
		allowed, _ := mapAt(job, "allow_failure")["exit_codes"].([]any)
		for _, c := range codes {
			in := slices.ContainsFunc(allowed, func(a any) bool { return a == c.value })
			if want := c.outcome() == warn; in != want {
				t.Errorf("job %s: allow_failure.exit_codes %v: %s (%d) listed %v, want %v", name, allowed, c.name, c.value, in, want)
			}
		}
		// Secrets are masked CI/CD variables, never set in the file.
		for _, vars := range []map[string]any{mapAt(doc, "variables"), mapAt(job, "variables")} {
			for k := range vars {
				if secretKey.MatchString(k) {
					t.Errorf("variables.%s: secrets belong in masked CI/CD variables, not in the file", k)
				}
			}
		}
	}
	if !found {
		t.Fatal("no job runs `myaccount-conformance run`")
	}
}

// uploads says whether an artifact's paths (one a line) hold reports/file: the
// report dir, or the file by name.
func uploads(paths, file string) bool {
	for _, p := range strings.Split(paths, "\n") {
		switch strings.TrimSpace(p) {
		case "reports", "reports/", "reports/" + file:
			return true
		}
	}
	return false
}

// goMinor is the go directive of the suite's go.mod, major.minor.
func goMinor(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// checkREADME holds docs/ci/README.md to naming every secret and every exit code.
func checkREADME(t *testing.T, secrets map[string]bool, codes []exitCode) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for s := range secrets {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("docs/ci/README.md does not name the secret %s", s)
		}
	}
	for _, s := range []string{"report.md", "report.har", "report.html", "GITHUB_STEP_SUMMARY", "expose_as"} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("docs/ci/README.md does not mention %s (where the reports go)", s)
		}
	}
	for _, c := range codes {
		if !regexp.MustCompile(`\|\s*` + strconv.Itoa(c.value) + `\s*\|`).Match(b) {
			t.Errorf("docs/ci/README.md: no table row for exit code %d (%s)", c.value, c.name)
		}
	}
}
