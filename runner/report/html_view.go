package report

import (
	"fmt"
	"strings"
	"time"
)

// The page's filters: by result and by area. Each spec row, failure and
// requirement row carries data-result (one of resultKeys) and, but for
// requirements, data-area (its area's key, "a0", "a1", …). A radio input per value
// and a CSS rule per radio (body:has(#fr-fail:checked) .f-result:not([data-result=fail]))
// hide the rest: the filters work without a script, and with every "all" checked,
// as the page opens, everything shows.

// resultFilter is one value of the result filter.
type resultFilter struct {
	Key, Label string
	Count      int
}

// resultKey is a spec's value of the result filter.
func resultKey(s Spec) string {
	if s.NotRun {
		return "notsel"
	}
	return strings.ToLower(string(s.Result))
}

// htmlSpec is a spec as the page lists it.
type htmlSpec struct {
	Spec
	AreaKey   string
	AreaName  string
	ResultKey string
	Anchor    string // the id of its failure detail, for a failed or inconclusive spec
	Expected  string // the expected-failures file's reason, if it fails only expected requirements
}

// htmlArea is an area's group of specs, and its bar in the figure.
type htmlArea struct {
	AreaResult
	Key   string
	Specs []htmlSpec
	Bar   figureRow
}

// figureRow is one area's row of the figure: a label, a stacked bar, its counts.
type figureRow struct {
	TextY    int // the baseline of its label and counts
	BarY     int // the top of its bar
	Segments []figureSegment
	Counts   string
}

// figureSegment is a part of a bar: the specs of one result.
type figureSegment struct {
	Class, Title string
	X, Width     float64
	Count        int
}

// figure geometry, in SVG user units.
const (
	figLabelWidth  = 110
	figBarWidth    = 420
	figCountsWidth = 340
	figRowHeight   = 24
	figTop         = 8
)

// figure is the SVG picture of the results by area.
type figure struct {
	Width, Height int
	LabelX        int // the right end of the area names
	BarX, BarW    int
	CountsX       int
	LegendY       int
}

// pageView is what the page template renders.
type pageView struct {
	C         Certification
	Reqs      []Requirement
	Failures  []htmlSpec
	Areas     []htmlArea
	Results   []resultFilter
	Figure    figure
	Pictures  []Picture
	AreaRule  string
	SpecCount int
}

// view prepares the page: the failures with their evidence, the specs by area with
// the figure's bars, and the filters' values with their counts.
func (o *Outcome) view(pictures []Picture) pageView {
	v := pageView{C: o.Certification, Reqs: o.Requirements, Pictures: pictures, AreaRule: AreaRule, SpecCount: len(o.Specs)}
	keys := map[string]string{}
	areas := o.ByArea()
	widest := 1
	for _, a := range areas {
		widest = max(widest, a.Ran())
	}
	for i, a := range areas {
		h := htmlArea{AreaResult: a, Key: fmt.Sprintf("a%d", i)}
		keys[a.Name] = h.Key
		for _, s := range a.Specs {
			h.Specs = append(h.Specs, o.htmlSpec(s, h.Key))
		}
		h.Bar = figureBar(a, i, widest)
		v.Areas = append(v.Areas, h)
	}
	for _, s := range o.Failures() {
		v.Failures = append(v.Failures, o.htmlSpec(s, keys[s.Area()]))
	}
	counts := map[string]int{}
	for _, s := range o.Specs {
		counts[resultKey(s)]++
	}
	for _, r := range []resultFilter{{"fail", "failed", 0}, {"inconclusive", "inconclusive", 0}, {"skip", "skipped", 0}, {"pass", "passed", 0}, {"notsel", "not selected", 0}} {
		r.Count = counts[r.Key]
		v.Results = append(v.Results, r)
	}
	v.Figure = figure{Width: figLabelWidth + figBarWidth + figCountsWidth, Height: figTop + len(areas)*figRowHeight + 30,
		LabelX: figLabelWidth - 8, BarX: figLabelWidth, BarW: figBarWidth, CountsX: figLabelWidth + figBarWidth + 10,
		LegendY: figTop + len(areas)*figRowHeight + 20}
	return v
}

func (o *Outcome) htmlSpec(s Spec, areaKey string) htmlSpec {
	h := htmlSpec{Spec: s, AreaKey: areaKey, AreaName: s.Area(), ResultKey: resultKey(s), Expected: o.ExpectedReason(s)}
	if s.Result == Fail || s.Result == Inconclusive {
		h.Anchor = specAnchor(s)
	}
	return h
}

// figureBar lays out one area's stacked bar, scaled to the area that ran the most
// specs; the specs the filters left out are counted beside it, not drawn.
func figureBar(a AreaResult, row, widest int) figureRow {
	y := figTop + row*figRowHeight
	r := figureRow{TextY: y + 15, BarY: y + 3}
	x := float64(figLabelWidth)
	for _, part := range []struct {
		class, label string
		n            int
	}{{"pass", "passed", a.Passed}, {"fail", "failed", a.Failed}, {"inconclusive", "inconclusive", a.Inconclusive}, {"skip", "skipped", a.Skipped}} {
		if part.n == 0 {
			continue
		}
		w := float64(part.n) * figBarWidth / float64(widest)
		r.Segments = append(r.Segments, figureSegment{Class: part.class, Count: part.n, X: x, Width: w,
			Title: fmt.Sprintf("%s: %d %s", a.Name, part.n, part.label)})
		x += w
	}
	var counts []string
	for _, c := range []struct {
		n    int
		what string
	}{{a.Passed, "passed"}, {a.Failed, "failed"}, {a.Inconclusive, "inconclusive"}, {a.Skipped, "skipped"}, {a.NotSelected, "not selected"}} {
		if c.n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	r.Counts = strings.Join(counts, ", ")
	return r
}

// specAnchor is the id of a spec's failure detail.
func specAnchor(s Spec) string {
	return "spec-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s.Text)
}

// shortDuration is a spec's run time for people.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
