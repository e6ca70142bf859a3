package runner

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
)

// cmdDiff lists what changed between two runs: per requirement, then per spec.
// Like diff(1) it exits 0 when nothing changed and 1 when something did.
func cmdDiff(args []string) (int, error) {
	fs := flag.NewFlagSet("myaccount-conformance diff", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: myaccount-conformance diff OLD/report.json NEW/report.json\n\nExit 0 when the runs have the same results, 1 when they differ.\n")
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitConformant, nil
		}
		return exitUsage, usageError{err}
	}
	if len(positional) != 2 {
		return exitUsage, usagef("diff: name two report.json files, the older first")
	}
	catalogue, err := spec.Requirements()
	if err != nil {
		return exitUsage, err
	}
	var runs [2][]report.Spec
	for i, p := range positional {
		r, err := report.LoadJSON(p)
		if err != nil {
			return exitUsage, usagef("diff: %v", err)
		}
		runs[i] = report.Specs(r)
	}
	changes := diffRuns(runs[0], runs[1], catalogue)
	printDiff(os.Stdout, positional[0], positional[1], changes)
	if len(changes.reqs)+len(changes.specs) > 0 {
		return exitFailures, nil
	}
	return exitConformant, nil
}

// change is one line of a diff: what it is about, the old and the new result.
type change struct {
	name     string
	old, new string // "" when absent from that run
	worse    bool
}

type runDiff struct{ reqs, specs []change }

// rank orders results from bad to good; a change to a lower rank is a regression.
var rank = map[string]int{string(report.Fail): 0, string(report.Inconclusive): 1, string(report.Skip): 2, string(report.Pass): 3}

func diffRuns(old, new []report.Spec, catalogue []spec.Requirement) runDiff {
	var d runDiff
	oldReqs := report.Requirements(old, catalogue)
	newReqs := report.Requirements(new, catalogue)
	oldBy := map[string]report.Requirement{}
	for _, r := range oldReqs {
		oldBy[r.ID] = r
	}
	for _, n := range newReqs {
		o, ok := oldBy[n.ID]
		if !ok || o.Result == n.Result {
			continue
		}
		// Left out by the filters (as in a replay) is not a regression.
		res := func(r report.Requirement) string {
			if r.NotSelected {
				return "NOT SELECTED"
			}
			return string(r.Result)
		}
		if res(o) == res(n) {
			continue
		}
		d.reqs = append(d.reqs, change{name: n.ID + " " + n.Statement, old: res(o), new: res(n),
			worse: rank[res(n)] < rank[res(o)] && !n.NotSelected && !o.NotSelected})
	}

	key := func(specs []report.Spec) ([]string, map[string]report.Spec) {
		var order []string
		by := map[string]report.Spec{}
		for _, s := range specs {
			k := s.Text
			for i := 2; ; i++ { // the same text twice: number them
				if _, dup := by[k]; !dup {
					break
				}
				k = fmt.Sprintf("%s (#%d)", s.Text, i)
			}
			by[k] = s
			order = append(order, k)
		}
		return order, by
	}
	oldOrder, oldSpecs := key(old)
	newOrder, newSpecs := key(new)
	result := func(s report.Spec) string {
		if s.NotRun {
			return "NOT SELECTED"
		}
		return string(s.Result)
	}
	for _, k := range newOrder {
		n := newSpecs[k]
		o, ok := oldSpecs[k]
		switch {
		case !ok:
			d.specs = append(d.specs, change{name: k, new: result(n)})
		case result(o) != result(n):
			d.specs = append(d.specs, change{name: k, old: result(o), new: result(n),
				worse: rank[result(n)] < rank[result(o)] && !n.NotRun})
		}
	}
	for _, k := range oldOrder {
		if _, ok := newSpecs[k]; !ok {
			d.specs = append(d.specs, change{name: k, old: result(oldSpecs[k])})
		}
	}
	return d
}

func printDiff(w io.Writer, oldPath, newPath string, d runDiff) {
	fmt.Fprintf(w, "--- %s\n+++ %s\n", oldPath, newPath)
	if len(d.reqs)+len(d.specs) == 0 {
		fmt.Fprintln(w, "same results")
		return
	}
	line := func(c change) string {
		mark := " "
		if c.worse {
			mark = "!"
		}
		old, new := c.old, c.new
		if old == "" {
			old = "(absent)"
		}
		if new == "" {
			new = "(absent)"
		}
		return fmt.Sprintf("%s %-12s → %-12s %s", mark, old, new, c.name)
	}
	worse := 0
	if len(d.reqs) > 0 {
		fmt.Fprintf(w, "requirements (%d changed):\n", len(d.reqs))
		for _, c := range d.reqs {
			fmt.Fprintln(w, line(c))
			if c.worse {
				worse++
			}
		}
	}
	if len(d.specs) > 0 {
		fmt.Fprintf(w, "specs (%d changed):\n", len(d.specs))
		for _, c := range d.specs {
			fmt.Fprintln(w, line(c))
		}
	}
	summary := fmt.Sprintf("%d requirement(s) and %d spec(s) changed", len(d.reqs), len(d.specs))
	if worse > 0 {
		summary += fmt.Sprintf("; %d requirement(s) got worse (marked !)", worse)
	}
	fmt.Fprintln(w, strings.TrimSpace(summary))
}
