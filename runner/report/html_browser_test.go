package report

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

// pageErrors collects what a page reports as going wrong: console.error calls and
// uncaught exceptions.
type pageErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (p *pageErrors) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		msg = "console.error: " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		msg = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	default:
		return
	}
	p.mu.Lock()
	p.msgs = append(p.msgs, msg)
	p.mu.Unlock()
}

func (p *pageErrors) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// The report page as a person opens it: from the disk, in Chromium. It must render
// (title, heading, the traffic section with its warnings), say nothing on the console,
// throw nothing, and show every picture.
func TestReportHTMLInBrowser(t *testing.T) {
	path := harnesstest.Chromium(t)
	dir := t.TempDir()
	start := time.Now()
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="#cde"/><text x="8" y="25">429s</text></svg>`
	if err := os.WriteFile(filepath.Join(dir, "timeline.svg"), []byte(svg), 0o644); err != nil {
		t.Fatal(err)
	}
	pictures, err := Pictures(dir, start)
	if err != nil || len(pictures) != 1 {
		t.Fatalf("pictures %v: %v", pictures, err)
	}
	r, _ := twoProcesses(t)
	r.SpecReports = append(r.SpecReports, fixture().SpecReports...) // failures with exchanges too
	// Areas, for the figure and the filters: one spec with two, one with none.
	areas := [][]string{{"enroll", "passkey"}, {"contract"}, {"tamper"}, nil}
	for i := range r.SpecReports {
		if r.SpecReports[i].LeafNodeType == types.NodeTypeIt {
			r.SpecReports[i].LeafNodeLabels = append(slices.Clone(areas[i%len(areas)]), r.SpecReports[i].LeafNodeLabels...)
		}
	}
	// The run's report.json, as the runner writes it: the failures the page lists
	// must be its failed specs.
	jsonPath := filepath.Join(dir, "report.json")
	if err := reporters.GenerateJSONReport(r, jsonPath); err != nil {
		t.Fatal(err)
	}
	catalogue, _ := spec.Requirements()
	o := Build(Input{Report: r, Catalogue: catalogue, Target: Target{Name: "reference", Domain: "t.example"}, Run: Run{Finished: time.Now()}})
	if err := o.WriteHTML(dir, pictures); err != nil {
		t.Fatal(err)
	}
	page := (&url.URL{Scheme: "file", Path: filepath.Join(dir, HTMLFile)}).String()

	profile := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(profile), chromedp.Env("HOME="+profile),
	)
	defer cancelAlloc()
	var errs pageErrors
	tab, cancel := chromedp.NewContext(alloc, chromedp.WithListener(errs.listen))
	defer cancel()
	// The first Run starts the browser, which lives as long as tab: bound the start
	// with a timer, the rest with a context derived after it.
	timer := time.AfterFunc(30*time.Second, cancel)
	err = chromedp.Do(tab)
	if !timer.Stop() {
		t.Fatal("Chromium did not start within 30s")
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancelTimeout := context.WithTimeout(tab, 30*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitReady("#traffic")); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.Contains(title, "My Account API conformance") || !strings.Contains(title, "reference") {
		t.Errorf("title %q: %v", title, err)
	}
	var seen struct {
		H1        string `json:"h1"`
		Traffic   string `json:"traffic"`
		Alerts    int    `json:"alerts"`
		Answers   int    `json:"answers"`
		Failures  int    `json:"failures"`
		ImageLoad []struct {
			Alt   string `json:"alt"`
			Width int    `json:"width"`
		} `json:"images"`
	}
	// Images may still be decoding after the load event: wait for each, bounded.
	js := `(async () => {
		await Promise.race([
			Promise.all(Array.from(document.images).map(i => i.complete ? i.decode().catch(() => {}) : new Promise(r => { i.onload = i.onerror = r; }))),
			new Promise(r => setTimeout(r, 10000)),
		]);
		return {
			h1: document.querySelector("h1")?.textContent ?? "",
			traffic: document.querySelector("#traffic")?.innerText ?? "",
			alerts: document.querySelectorAll("#traffic tr.alert").length,
			answers: document.querySelectorAll("#answers tr").length - 1,
			failures: document.querySelectorAll(".failure-detail").length,
			images: Array.from(document.images).map(i => ({alt: i.alt, width: i.naturalWidth})),
		};
	})()`
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &seen); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if seen.H1 != "My Account API conformance report" {
		t.Errorf("heading %q", seen.H1)
	}
	for _, want := range []string{"Traffic and pacing", "48s", "24s", "7 reads of user auth0|a", "2× the floor", "9 reads",
		"1 left on the target", "user auth0|c: delete answered 500", "GET https://t.example/me/v1/authentication-methods", "user reads 3s"} {
		if !strings.Contains(seen.Traffic, want) {
			t.Errorf("traffic section lacks %q:\n%s", want, seen.Traffic)
		}
	}
	if seen.Alerts != 2 || seen.Answers != 3 || seen.Failures == 0 {
		t.Errorf("highlighted rows %d (want leftovers and unplanned 429s), answer rows %d, failures %d", seen.Alerts, seen.Answers, seen.Failures)
	}
	checkFigure(ctx, t, o)
	checkFailuresMatchJSON(ctx, t, jsonPath)
	checkFilters(ctx, t, o, true)
	if len(seen.ImageLoad) != len(pictures) {
		t.Errorf("%d images on the page, want %d", len(seen.ImageLoad), len(pictures))
	}
	for _, img := range seen.ImageLoad {
		if img.Width <= 0 {
			t.Errorf("image %q did not load", img.Alt)
		}
	}

	// The listener hears what the page says: a probe error and a probe exception
	// must arrive, and nothing else may.
	const probe = "report-test-probe"
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		"console.error(%q); setTimeout(() => { throw new Error(%q) }, 0); true", probe+"-console", probe+"-exception"))); err != nil {
		t.Fatal(err)
	}
	heard := func(got []string, what string) bool {
		return slices.ContainsFunc(got, func(m string) bool { return strings.Contains(m, what) })
	}
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = errs.all(); heard(got, probe+"-console") && heard(got, probe+"-exception") {
			break
		}
	}
	if !heard(got, probe+"-console") || !heard(got, probe+"-exception") {
		t.Fatalf("the listener did not hear both probes: %q", got)
	}
	got = slices.DeleteFunc(got, func(m string) bool { return strings.Contains(m, probe) })
	if len(got) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(got, "\n"))
	}

	// Without its script, in a tab of its own: everything shows, and the filters
	// still work.
	noScript, cancelNoScript := chromedp.NewContext(tab)
	defer cancelNoScript()
	ctx2, cancel2 := context.WithTimeout(noScript, 30*time.Second)
	defer cancel2()
	err = chromedp.Do(ctx2, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(page), chromedp.WaitReady("#specs"))
	if err != nil {
		t.Fatal(err)
	}
	checkFilters(ctx2, t, o, false)
}

// pageState is what the filters leave visible: the spec rows (result and area
// key of each), the failures, the area groups shown and open, and the script's count.
type pageState struct {
	Rows     [][2]string `json:"rows"`
	Failures []string    `json:"failures"`
	Groups   []string    `json:"groups"`
	Open     int         `json:"open"`
	Reqs     int         `json:"reqs"`
	Shown    string      `json:"shown"`
}

const pageStateJS = `(() => {
	const visible = el => getComputedStyle(el).display !== "none";
	return {
		rows: [...document.querySelectorAll("tr.spec")].filter(visible).map(r => [r.dataset.result, r.dataset.area]),
		failures: [...document.querySelectorAll(".failure-detail")].filter(visible).map(f => f.dataset.spec),
		groups: [...document.querySelectorAll("details.area-group")].filter(visible).map(g => g.dataset.area),
		open: [...document.querySelectorAll("details.area-group")].filter(d => visible(d) && d.open).length,
		reqs: [...document.querySelectorAll("#requirements tr[id]")].filter(visible).length,
		shown: document.getElementById("shown").textContent,
	};
})()`

// checkFilters clicks the result and area filters as a person would and checks
// what stays visible against the outcome's specs; withScript says whether the
// page's script runs (it opens the areas and counts the specs shown).
func checkFilters(ctx context.Context, t *testing.T, o *Outcome, withScript bool) {
	t.Helper()
	state := func(clicks ...string) pageState {
		t.Helper()
		for _, id := range clicks {
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("label[for="+id+"]"))); err != nil {
				t.Fatalf("click %s: %v", id, err)
			}
		}
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](pageStateJS))
		if err != nil {
			t.Fatal(err)
		}
		var s pageState
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return s
	}
	v := o.view(nil)
	key := map[string]string{}
	for _, a := range v.Areas {
		key[a.Name] = a.Key
	}
	want := func(result, area string) (rows int, failures int) {
		for _, s := range o.Specs {
			if (result == "" || resultKey(s) == result) && (area == "" || key[s.Area()] == area) {
				rows++
				if s.Result == Fail || s.Result == Inconclusive {
					failures++
				}
			}
		}
		return rows, failures
	}
	all := state()
	if n, f := want("", ""); len(all.Rows) != n || len(all.Failures) != f || len(all.Groups) != len(v.Areas) || all.Open != 0 || all.Reqs != len(o.Requirements) || all.Shown != "" {
		t.Errorf("unfiltered: %+v; want %d rows, %d failures, %d groups, all folded, %d requirements", all, n, f, len(v.Areas), len(o.Requirements))
	}
	failed := state("fr-fail")
	n, f := want("fail", "")
	if len(failed.Rows) != n || len(failed.Failures) != f || n == 0 || failed.Reqs == 0 || failed.Reqs >= len(o.Requirements) {
		t.Errorf("failed only: %+v; want %d rows, %d failures", failed, n, f)
	}
	for _, r := range failed.Rows {
		if r[0] != "fail" {
			t.Errorf("failed only: a %s row shows", r[0])
		}
	}
	if withScript && (failed.Open != len(failed.Groups) || !strings.HasPrefix(failed.Shown, fmt.Sprintf("%d of %d specs", n, len(o.Specs)))) {
		t.Errorf("failed only, with the script: %d of %d groups open, %q", failed.Open, len(failed.Groups), failed.Shown)
	}
	if !withScript && (failed.Open != 0 || failed.Shown != "") {
		t.Errorf("without the script, %d groups opened and %q: it ran", failed.Open, failed.Shown)
	}
	area := key["enroll"]
	both := state("fa-" + area)
	n, f = want("fail", area)
	if len(both.Rows) != n || len(both.Failures) != f || n == 0 || !slices.Equal(both.Groups, []string{area}) {
		t.Errorf("failed in enroll: %+v; want %d rows, %d failures in group %s", both, n, f, area)
	}
	areaOnly := state("fr-all")
	n, _ = want("", area)
	if len(areaOnly.Rows) != n || areaOnly.Reqs != len(o.Requirements) {
		t.Errorf("enroll only: %+v; want %d rows and every requirement", areaOnly, n)
	}
	if back := state("fa-all"); len(back.Rows) != len(all.Rows) || len(back.Failures) != len(all.Failures) {
		t.Errorf("filters off again: %+v", back)
	}
}

// checkFigure checks the picture of the results by area: drawn with a size, one
// bar per area, each segment as wide as its count is large, and the counts those
// of the outcome.
func checkFigure(ctx context.Context, t *testing.T, o *Outcome) {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](`(() => {
		const svg = document.getElementById("area-chart");
		const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
		return {
			width: box.width, height: box.height,
			bars: [...document.querySelectorAll("#area-chart g.bar")].map(g => ({
				name: g.dataset.name,
				segs: [...g.querySelectorAll("rect.seg")].map(r => ({cls: r.getAttribute("class"), count: +r.dataset.count, width: r.getBBox().width})),
			})),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	var fig struct {
		Width, Height float64
		Bars          []struct {
			Name string
			Segs []struct {
				Cls   string
				Count int
				Width float64
			}
		}
	}
	if err := json.Unmarshal(raw, &fig); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	areas := o.ByArea()
	if fig.Width < 300 || fig.Height < 50 || len(fig.Bars) != len(areas) {
		t.Fatalf("figure %.0f×%.0f with %d bars, want %d areas", fig.Width, fig.Height, len(fig.Bars), len(areas))
	}
	for i, a := range areas {
		b := fig.Bars[i]
		got := map[string]int{}
		perSpec := 0.0
		for _, s := range b.Segs {
			got[strings.TrimPrefix(s.Cls, "seg ")] = s.Count
			if s.Width <= 0 {
				t.Errorf("area %s: a %s segment of %d specs has no width", b.Name, s.Cls, s.Count)
			}
			if perSpec == 0 {
				perSpec = s.Width / float64(s.Count)
			} else if w := s.Width / float64(s.Count); w < perSpec*0.99 || w > perSpec*1.01 {
				t.Errorf("area %s: segments out of scale (%.2f and %.2f per spec)", b.Name, perSpec, w)
			}
		}
		want := map[string]int{"pass": a.Passed, "fail": a.Failed, "inconclusive": a.Inconclusive, "skip": a.Skipped}
		maps.DeleteFunc(want, func(_ string, n int) bool { return n == 0 })
		if b.Name != a.Name || !maps.Equal(got, want) {
			t.Errorf("bar %d: %s %v, want %s %v", i, b.Name, got, a.Name, want)
		}
	}
}

// checkFailuresMatchJSON checks that the page's failures are the failed specs of
// report.json (Ginkgo's own record, read apart from this package's code): the same
// full texts.
func checkFailuresMatchJSON(ctx context.Context, t *testing.T, jsonPath string) {
	t.Helper()
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var suites []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
		}
	}
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range suites[0].SpecReports {
		if s.LeafNodeType == "It" && s.State == "failed" {
			want = append(want, strings.Join(append(slices.Clone(s.ContainerHierarchyTexts), s.LeafNodeText), " "))
		}
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#failures .failure-detail")].map(f => f.dataset.spec)`))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("failures on the page %q, failed specs in report.json %q", got, want)
	}
}
