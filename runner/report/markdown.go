package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MarkdownFile is the short report for a CI job summary or a pull request.
const MarkdownFile = "report.md"

// MarkdownFailures is how many failures report.md lists at most; it says how many
// more report.html has.
const MarkdownFailures = 20

// Caps that keep report.md well within a CI job summary (GitHub takes 1 MiB).
const (
	mdMaxReason = 800
	mdMaxCurl   = 3000
)

// WriteMarkdown writes report.md into dir: the result and its summary, the profiles,
// the specs by area, and the first MarkdownFailures failures, each with its
// message and curl line. report.html beside it has everything.
func (o *Outcome) WriteMarkdown(dir string) error {
	return os.WriteFile(filepath.Join(dir, MarkdownFile), o.Markdown(), 0o644)
}

// Markdown renders report.md (see WriteMarkdown).
func (o *Outcome) Markdown() []byte {
	c := o.Certification
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## My Account API conformance: %s — %s\n\n", mdText(c.Target.Name), resultMark(c.Result))
	p("%s %s against https://%s", c.Suite.Name, c.Suite.Version, c.Target.Domain)
	if c.Target.CustomDomain != "" {
		p(" (custom domain https://%s)", c.Target.CustomDomain)
	}
	p(", %s, exit code %d.\n\n", c.Date.UTC().Format("2006-01-02 15:04 UTC"), c.Run.ExitCode)
	if c.Undecided != "" {
		p("**INCONCLUSIVE: nothing was checked.** %s\n\n", mdText(c.Undecided))
	}
	r, s := c.Statistics.Requirements, c.Statistics.Specs
	p("- Requirements: %d of %d passed, %d failed", r.Passed, r.Requirements, r.Failed)
	if r.Warnings > 0 {
		p(" (%d only SHOULD/MAY: warnings)", r.Warnings)
	}
	p(", %d skipped, %d inconclusive\n", r.Skipped, r.Inconclusive)
	p("- Specs: %d ran of %d: %d passed, %d failed, %d inconclusive, %d skipped, %d not selected\n",
		s.Ran, s.Total, s.Passed, s.Failed, s.Inconclusive, s.Skipped, s.NotSelected)
	for _, e := range c.ExpectedFailures {
		mark := "ok"
		if !e.OK {
			mark = "**BROKEN**"
		}
		p("- Expected failure %s (%s): %s, %s\n", e.ID, mdText(e.Reason), e.Outcome, mark)
	}
	if t := c.Run.Traffic; t != nil {
		if t.Unplanned429s > 0 {
			p("- **%d unplanned 429 answer(s)**: the target's limits are lower than its plan says, or another client shares them\n", t.Unplanned429s)
		}
		if len(t.Leftovers) > 0 {
			p("- **%d thing(s) left on the target** the run could not remove\n", len(t.Leftovers))
		}
	}
	p("\n| Profile | Result | Requirements | Passed | Failed | Skipped | Inconclusive |\n|---|---|--:|--:|--:|--:|--:|\n")
	for _, pr := range c.Profiles {
		failed := fmt.Sprint(pr.Failed)
		if pr.Warnings > 0 {
			failed += fmt.Sprintf(" (%d warnings)", pr.Warnings)
		}
		p("| %s | %s | %d | %d | %s | %d | %d |\n", mdText(pr.Name), resultMark(pr.Result), pr.Requirements, pr.Passed, failed, pr.Skipped, pr.Inconclusive)
	}

	if areas := o.ByArea(); len(areas) > 0 {
		p("\n### Specs by area\n\n| Area | Passed | Failed | Inconclusive | Skipped | Not selected |\n|---|--:|--:|--:|--:|--:|\n")
		for _, a := range areas {
			failed := fmt.Sprint(a.Failed)
			if a.Failed > 0 {
				failed = "**" + failed + "**"
			}
			p("| %s | %d | %s | %d | %d | %d |\n", mdText(a.Name), a.Passed, failed, a.Inconclusive, a.Skipped, a.NotSelected)
		}
		p("\n<sub>%s.</sub>\n", strings.ToUpper(AreaRule[:1])+AreaRule[1:])
	}

	failures := o.Failures()
	p("\n### Failures")
	if len(failures) > 0 {
		p(" (%d)", len(failures))
	}
	p("\n\n")
	if len(failures) == 0 {
		p("None.\n\n")
	}
	for i, f := range failures {
		if i == MarkdownFailures {
			p("… and %d more: see report.html.\n\n", len(failures)-i)
			break
		}
		label := string(f.Result)
		switch {
		case f.Warning():
			label = "WARNING (SHOULD/MAY)"
		case o.ExpectedReason(f) != "":
			label = "FAIL (expected: " + o.ExpectedReason(f) + ")"
		}
		p("#### %d. %s", i+1, mdText(label))
		if len(f.IDs) > 0 {
			p(" [%s]", strings.Join(f.IDs, ", "))
		}
		p(" %s\n\n", mdText(f.Text))
		if f.Location != "" {
			p("`%s`\n\n", strings.ReplaceAll(f.Location, "`", "'"))
		}
		p("%s", fenced("", cut(f.Reason, mdMaxReason, "the whole message is in report.html")))
		if f.Curl != "" {
			p("%s", fenced("sh", cut(f.Curl, mdMaxCurl, "the whole line is in report.html")))
		}
	}
	p("Reports: report.html (every spec, with the exchanges of the failures), report.har (the redacted exchanges, for a browser's network panel), certification.yaml, junit.xml, report.json.\n")
	return b.Bytes()
}

// resultMark is a result in bold, with a sign that reads without colour.
func resultMark(result string) string {
	switch result {
	case ProfileSuccess:
		return "✅ **success**"
	case ProfileFailure:
		return "❌ **failure**"
	case ProfilePartial:
		return "⚠️ **partial**"
	case ProfileInconclusive:
		return "❔ **inconclusive**"
	}
	return "**" + result + "**"
}

// cut keeps s within max bytes, saying where the rest is.
func cut(s string, max int, rest string) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "\n… (cut: " + rest + ")"
}

// fenced puts s in a fenced code block whose fence no line of s can close.
func fenced(lang, s string) string {
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + lang + "\n" + strings.TrimRight(s, "\n") + "\n" + fence + "\n\n"
}

// mdText keeps a line of text from starting Markdown or HTML of its own.
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer(`\`, `\\`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "|", `\|`, "#", `\#`).Replace(s)
}
