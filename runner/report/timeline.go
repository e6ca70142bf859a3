package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
	"github.com/onsi/ginkgo/v2/types"
)

// Status colours (Okabe–Ito, distinguishable with colour-blindness).
const (
	colorOK      = "#009E73" // 2xx
	colorLimited = "#D55E00" // 429
	colorOther   = "#CC79A7" // any other status
	colorError   = "#999999" // no answer
)

func statusColor(s *verdict.Shot) string {
	switch {
	case s.Status == 0:
		return colorError
	case s.Status >= 200 && s.Status < 300:
		return colorOK
	case s.Status == 429:
		return colorLimited
	}
	return colorOther
}

// DrawTimelines draws the picture of every burst the run's specs attached
// (verdict.TimelineData) into dir, each as its Picture.File.
func DrawTimelines(dir string, r types.Report) error {
	for _, sr := range r.SpecReports {
		for _, e := range sr.ReportEntries {
			if e.Name != verdict.TimelineData {
				continue
			}
			var p verdict.Picture
			if err := json.Unmarshal([]byte(e.StringRepresentation()), &p); err != nil {
				return fmt.Errorf("the timeline of %q: %w", sr.FullText(), err)
			}
			if err := writeTimelineFile(dir, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeTimelineFile writes p as dir/p.File.
func writeTimelineFile(dir string, p verdict.Picture) error {
	if p.File == "" || p.File != filepath.Base(p.File) || !strings.HasSuffix(p.File, ".svg") {
		return fmt.Errorf("the timeline %q has no file name of its own", p.Name)
	}
	f, err := os.Create(filepath.Join(dir, p.File))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = WriteTimeline(w, p)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteTimeline draws the burst as an SVG: one dot per request at its send time
// (y: its place in the send order), coloured by status, a line to when its answer
// came; the running count of 2xx answers; the limit B + R·t; and where the first
// 429 came back.
func WriteTimeline(w io.Writer, p verdict.Picture) error {
	c := newChart(p)
	c.header()
	c.axes()
	c.limit()
	c.first429()
	c.shots()
	c.count()
	c.marks()
	c.legend()
	c.notes()
	c.p("</svg>\n")
	_, err := io.WriteString(w, c.b.String())
	return err
}

// The chart's frame, in pixels.
const (
	chartWidth, chartHeight                      = 960, 580
	chartLeft, chartRight, chartTop, chartBottom = 70, 220, 56, 130
	plotW, plotH                                 = chartWidth - chartLeft - chartRight, chartHeight - chartTop - chartBottom
)

// chart is a timeline being drawn: the burst, what to draw besides, its scales.
type chart struct {
	pic        verdict.Picture
	b          strings.Builder
	span       float64 // seconds from the first send to the last answer
	xMax, yMax float64
}

func newChart(p verdict.Picture) *chart {
	c := &chart{pic: p}
	for _, s := range p.Shots {
		c.span = math.Max(c.span, secs(s.Received))
	}
	c.xMax = axisMax(math.Max(c.span*1.02, 0.1))
	c.yMax = axisMax(math.Max(float64(len(p.Shots)), 1) * 1.02)
	return c
}

func (c *chart) p(format string, a ...any)   { fmt.Fprintf(&c.b, format, a...) }
func (c *chart) x(sec float64) float64       { return chartLeft + sec/c.xMax*plotW }
func (c *chart) y(v float64) float64         { return chartTop + plotH - v/c.yMax*plotH }
func (c *chart) clip(v float64) float64      { return math.Min(v, c.yMax) }
func secs(d time.Duration) float64           { return d.Seconds() }
func (c *chart) at(d time.Duration) float64  { return c.x(secs(d)) }
func (c *chart) row(s *verdict.Shot) float64 { return c.y(float64(s.Index + 1)) }
func (c *chart) esc(s string) string         { return html.EscapeString(s) }
func (c *chart) limitAt(sec, above float64) float64 {
	return c.y(c.clip(float64(c.pic.LimitBurst) + above + c.pic.LimitRate*sec))
}

func (c *chart) header() {
	c.p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", chartWidth, chartHeight, chartWidth, chartHeight)
	c.p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	title := c.pic.Title
	if title == "" {
		title = c.pic.Name
	}
	c.p(`<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", chartLeft, c.esc(title))
	c.p(`<text x="%d" y="42" fill="#444">%d requests at %.4g/s requested, %.4g/s achieved, started %s</text>`+"\n",
		chartLeft, len(c.pic.Shots), c.pic.Rate, c.pic.Achieved, c.esc(c.pic.Started.UTC().Format("2006-01-02 15:04:05.000 UTC")))
}

// axes draws the grid, the scales and their titles.
func (c *chart) axes() {
	c.p(`<g stroke="#e5e5e5">`)
	xStep, yStep := niceStep(c.xMax), niceStep(c.yMax)
	for v := 0.0; v <= c.xMax+1e-9; v += xStep {
		c.p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, c.x(v), chartTop, c.x(v), chartTop+plotH)
	}
	for v := 0.0; v <= c.yMax+1e-9; v += yStep {
		c.p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, chartLeft, c.y(v), chartLeft+plotW, c.y(v))
	}
	c.p("</g>\n")
	c.p(`<g fill="#333">`)
	for v := 0.0; v <= c.xMax+1e-9; v += xStep {
		c.p(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, c.x(v), chartTop+plotH+16, trimFloat(v))
	}
	for v := 0.0; v <= c.yMax+1e-9; v += yStep {
		c.p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, c.y(v)+4, trimFloat(v))
	}
	c.p("</g>\n")
	c.p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", chartLeft, chartTop, plotW, plotH)
	c.p(`<text x="%d" y="%d" text-anchor="middle">seconds since the first request was sent</text>`+"\n", chartLeft+plotW/2, chartTop+plotH+34)
	c.p(`<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">requests, in send order · 2xx so far</text>`+"\n", chartTop+plotH/2)
}

// limit draws B + R·t, and the tolerance above it, stopping at the top edge.
func (c *chart) limit() {
	tl := c.pic
	if tl.LimitRate <= 0 {
		return
	}
	x1 := c.xMax
	if float64(tl.LimitBurst)+tl.LimitRate*x1 > c.yMax {
		x1 = (c.yMax - float64(tl.LimitBurst)) / tl.LimitRate
	}
	if x1 <= 0 {
		return
	}
	c.p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n",
		c.x(0), c.limitAt(0, 0), c.x(x1), c.limitAt(x1, 0))
	if tl.Tolerance <= 0 {
		return
	}
	if x2 := math.Min(c.xMax, (c.yMax-float64(tl.LimitBurst)-tl.Tolerance)/tl.LimitRate); x2 > 0 {
		c.p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-opacity="0.4" stroke-dasharray="2 3"/>`+"\n",
			c.x(0), c.limitAt(0, tl.Tolerance), c.x(x2), c.limitAt(x2, tl.Tolerance))
	}
}

// first429 marks where the first 429 came back.
func (c *chart) first429() {
	first := -1.0
	for _, s := range c.pic.Shots {
		if s.Status == 429 && (first < 0 || secs(s.Received) < first) {
			first = secs(s.Received)
		}
	}
	if first < 0 {
		return
	}
	c.p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n", c.x(first), chartTop, c.x(first), chartTop+plotH, colorLimited)
	c.p(`<text x="%.1f" y="%d" fill="%s">first 429 at %.3f s</text>`+"\n", c.x(first)+4, chartTop+14, colorLimited, first)
}

// shots draws each request: a line from sent to answered, a mark at sent; one
// shape per series.
func (c *chart) shots() {
	series := seriesOf(c.pic)
	c.p(`<g stroke-width="1">`)
	for i := range c.pic.Shots {
		s := &c.pic.Shots[i]
		col, yy := statusColor(s), c.row(s)
		c.p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-opacity="0.6"/>`, c.at(s.Sent), yy, c.at(s.Received), yy, col)
		c.p(`%s`, mark(slices.Index(series, s.Series), c.at(s.Sent), yy, col))
	}
	c.p("</g>\n")
}

// count draws the running count of the counted 2xx answers, by when they came back.
func (c *chart) count() {
	var ok []float64
	for i := range c.pic.Shots {
		if s := &c.pic.Shots[i]; s.Status >= 200 && s.Status < 300 && s.Counted {
			ok = append(ok, secs(s.Received))
		}
	}
	slices.Sort(ok)
	if len(ok) == 0 {
		return
	}
	c.p(`<path fill="none" stroke="#004D40" stroke-width="2" d="M%.1f %.1f`, c.x(0), c.y(0))
	for i, t := range ok {
		c.p(` H%.1f V%.1f`, c.x(t), c.y(float64(i+1)))
	}
	c.p(` H%.1f"/>`+"\n", c.x(math.Min(c.xMax, c.span)))
}

func (c *chart) marks() {
	for _, m := range c.pic.Marks {
		mx, my := c.at(m.At), c.y(math.Min(m.Count, c.yMax))
		c.p(`<circle cx="%.1f" cy="%.1f" r="9" fill="none" stroke="#CC0000" stroke-width="2"/>`, mx, my)
		c.p(`<text x="%.1f" y="%.1f" fill="#CC0000" font-weight="bold" stroke="white" stroke-width="3" paint-order="stroke">%s</text>`+"\n", mx+14, my+22, c.esc(m.Label))
	}
}

// legend explains the colours, the lines and the series, right of the plot.
func (c *chart) legend() {
	lx, ly := chartLeft+plotW+16, chartTop+8
	entry := func(draw, label string) {
		c.p(`%s<text x="%d" y="%d">%s</text>`+"\n", draw, lx+22, ly+4, c.esc(label))
		ly += 20
	}
	dot := func(series int, color string) string { return mark(series, float64(lx+8), float64(ly), color) }
	line := func(style string) string { return fmt.Sprintf(`<path d="M%d %d H%d" %s/>`, lx, ly, lx+16, style) }
	st, n := statuses(c.pic), len(c.pic.Shots)
	count2xx := 0
	for code, k := range st {
		if code >= 200 && code < 300 {
			count2xx += k
		}
	}
	entry(dot(0, colorOK), fmt.Sprintf("2xx (%d)", count2xx))
	entry(dot(0, colorLimited), fmt.Sprintf("429 (%d)", st[429]))
	if other := n - count2xx - st[429] - st[0]; other > 0 {
		entry(dot(0, colorOther), fmt.Sprintf("other status (%d)", other))
	}
	if st[0] > 0 {
		entry(dot(0, colorError), fmt.Sprintf("no answer (%d)", st[0]))
	}
	so := "2xx so far"
	if c.pic.Counting {
		so = "2xx so far (the limit's)"
	}
	entry(line(`stroke="#004D40" stroke-width="2"`), so)
	if c.pic.LimitRate > 0 {
		entry(line(`stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"`), fmt.Sprintf("limit %d + %.4g·t", c.pic.LimitBurst, c.pic.LimitRate))
		if c.pic.Tolerance > 0 {
			entry(line(`stroke="#000" stroke-opacity="0.4" stroke-dasharray="2 3"`), fmt.Sprintf("+ tolerance %.4g", c.pic.Tolerance))
		}
	}
	if series := seriesOf(c.pic); len(series) > 1 {
		ly += 6
		for i, name := range series {
			entry(dot(i, "#333"), name)
		}
	}
	entry("", "a line runs from send to answer")
}

// notes writes the burst's timing and the timeline's notes under the chart.
func (c *chart) notes() {
	p, ny := c.pic, chartTop+plotH+58
	lines := append([]string{fmt.Sprintf("send jitter p50 %s, p99 %s, max %s · latency p50 %s, p99 %s",
		p.JitterP50, p.JitterP99, p.JitterMax, p.LatencyP50, p.LatencyP99)}, p.Notes...)
	for _, line := range lines {
		for _, l := range wrap(line, 130) {
			c.p(`<text x="%d" y="%d" fill="#333">%s</text>`+"\n", chartLeft, ny, c.esc(l))
			ny += 16
		}
	}
}

// seriesOf lists the burst's series in order of first appearance.
func seriesOf(p verdict.Picture) []string {
	var out []string
	for _, s := range p.Shots {
		if !slices.Contains(out, s.Series) {
			out = append(out, s.Series)
		}
	}
	return out
}

// mark is the dot of a shot: a circle for the first series, then a square, a
// triangle, a diamond.
func mark(series int, cx, cy float64, color string) string {
	const r = 3.0
	switch series % 4 {
	case 1:
		return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, cx-r, cy-r, 2*r, 2*r, color)
	case 2:
		return fmt.Sprintf(`<path d="M%.1f %.1f L%.1f %.1f L%.1f %.1f Z" fill="%s"/>`, cx, cy-r-1, cx+r+1, cy+r, cx-r-1, cy+r, color)
	case 3:
		return fmt.Sprintf(`<path d="M%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f Z" fill="%s"/>`, cx, cy-r-1, cx+r+1, cy, cx, cy+r+1, cx-r-1, cy, color)
	}
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`, cx, cy, r, color)
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p+1e-9 {
			return m * p
		}
	}
	return 10 * p
}

// axisMax rounds v up to a whole number of grid steps.
func axisMax(v float64) float64 {
	step := niceStep(v)
	return math.Ceil(v/step-1e-9) * step
}

// niceStep is a grid step giving 4 to 10 lines up to max.
func niceStep(max float64) float64 {
	s := niceCeil(max / 10)
	for max/s > 10 {
		s = niceCeil(s * 1.01)
	}
	return s
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// wrap splits s into lines of at most n characters at spaces.
func wrap(s string, n int) []string {
	var out []string
	for len(s) > n {
		i := strings.LastIndex(s[:n], " ")
		if i <= 0 {
			i = n
		}
		out = append(out, s[:i])
		s = strings.TrimLeft(s[i:], " ")
	}
	return append(out, s)
}

// statuses counts p's answers by status (0: no answer).
func statuses(p verdict.Picture) map[int]int {
	out := map[int]int{}
	for _, s := range p.Shots {
		out[s.Status]++
	}
	return out
}
