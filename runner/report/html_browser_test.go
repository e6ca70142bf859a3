package report

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

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
}
