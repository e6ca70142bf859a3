package burst

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Timeline says what to draw besides the shots of a burst.
type Timeline struct {
	Title string
	// Rate and Burst are the limit as configured: the picture draws B + R·t, the
	// most a token bucket lets through in the first t seconds, and Tolerance above it.
	Rate      float64
	Burst     int
	Tolerance float64
	// Notes are extra lines under the chart (the verdict, the achieved rate).
	Notes []string
	// Marks point at moments worth a look, such as where the 2xx first exceeded the
	// limit.
	Marks []TimelineMark
	// Counted selects the shots the limit is about (nil: all): only their 2xx make
	// the running count drawn against it. Other shots (probes of another bucket) are
	// drawn but not counted.
	Counted func(*Shot) bool
}

// TimelineMark is a ring at a time and a count, with a label.
type TimelineMark struct {
	At    time.Duration
	Count float64
	Label string
}

// Status colours (Okabe–Ito, distinguishable with colour-blindness).
const (
	colorOK      = "#009E73" // 2xx
	colorLimited = "#D55E00" // 429
	colorOther   = "#CC79A7" // any other status
	colorError   = "#999999" // no answer
)

func statusColor(s *Shot) string {
	switch {
	case s.Err != nil || s.Status == 0:
		return colorError
	case s.Status >= 200 && s.Status < 300:
		return colorOK
	case s.Status == 429:
		return colorLimited
	}
	return colorOther
}

// WriteTimelineFile writes the burst's timeline as dir/ratelimit-<name>.svg and
// returns the path.
func WriteTimelineFile(dir string, r *Result, tl Timeline) (string, error) {
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "ratelimit-"+fileSlug(r.Name)+".svg")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriter(f)
	err = WriteTimeline(w, r, tl)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return path, err
}

func fileSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// WriteTimeline draws the burst as an SVG: one dot per request at its send time
// (y: its place in the send order), coloured by status, a line to when its answer
// came; the running count of 2xx answers; the limit B + R·t; and where the first
// 429 came back.
func WriteTimeline(w io.Writer, r *Result, tl Timeline) error {
	const (
		width, height            = 960, 580
		left, right, top, bottom = 70, 220, 56, 130
		plotW, plotH             = width - left - right, height - top - bottom
	)
	n := len(r.Shots)
	span := r.Span().Seconds()
	xMax := axisMax(math.Max(span*1.02, 0.1))
	yMax := axisMax(math.Max(float64(n), 1) * 1.02)
	x := func(sec float64) float64 { return left + sec/xMax*plotW }
	y := func(v float64) float64 { return top + plotH - v/yMax*plotH }
	secs := func(d time.Duration) float64 { return d.Seconds() }

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	esc := html.EscapeString
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	title := tl.Title
	if title == "" {
		title = r.Name
	}
	p(`<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", left, esc(title))
	p(`<text x="%d" y="42" fill="#444">%d requests at %.4g/s requested, %.4g/s achieved, started %s</text>`+"\n",
		left, n, r.Rate, r.Achieved, esc(r.Started.UTC().Format("2006-01-02 15:04:05.000 UTC")))

	// Axes and grid.
	p(`<g stroke="#e5e5e5">`)
	xStep, yStep := niceStep(xMax), niceStep(yMax)
	for v := 0.0; v <= xMax+1e-9; v += xStep {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x(v), top, x(v), top+plotH)
	}
	for v := 0.0; v <= yMax+1e-9; v += yStep {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, left, y(v), left+plotW, y(v))
	}
	p("</g>\n")
	p(`<g fill="#333">`)
	for v := 0.0; v <= xMax+1e-9; v += xStep {
		p(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(v), top+plotH+16, trimFloat(v))
	}
	for v := 0.0; v <= yMax+1e-9; v += yStep {
		p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`, left-6, y(v)+4, trimFloat(v))
	}
	p("</g>\n")
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, top, plotW, plotH)
	p(`<text x="%d" y="%d" text-anchor="middle">seconds since the first request was sent</text>`+"\n", left+plotW/2, top+plotH+34)
	p(`<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">requests, in send order · 2xx so far</text>`+"\n", top+plotH/2)

	clip := func(v float64) float64 { return math.Min(v, yMax) }
	// The limit: B + R·t, and the tolerance above it.
	if tl.Rate > 0 {
		x1 := xMax
		if tl.Rate > 0 && float64(tl.Burst)+tl.Rate*x1 > yMax { // stop at the top edge
			x1 = (yMax - float64(tl.Burst)) / tl.Rate
		}
		if x1 > 0 {
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n",
				x(0), y(clip(float64(tl.Burst))), x(x1), y(clip(float64(tl.Burst)+tl.Rate*x1)))
			if tl.Tolerance > 0 {
				x2 := math.Min(xMax, (yMax-float64(tl.Burst)-tl.Tolerance)/tl.Rate)
				if x2 > 0 {
					p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-opacity="0.4" stroke-dasharray="2 3"/>`+"\n",
						x(0), y(clip(float64(tl.Burst)+tl.Tolerance)), x(x2), y(clip(float64(tl.Burst)+tl.Tolerance+tl.Rate*x2)))
				}
			}
		}
	}

	// Where the first 429 came back.
	first429 := -1.0
	for _, s := range r.Shots {
		if s.Status == 429 && (first429 < 0 || secs(s.Received) < first429) {
			first429 = secs(s.Received)
		}
	}
	if first429 >= 0 {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x(first429), top, x(first429), top+plotH, colorLimited)
		p(`<text x="%.1f" y="%d" fill="%s">first 429 at %.3f s</text>`+"\n", x(first429)+4, top+14, colorLimited, first429)
	}

	// Shots: a line from sent to answered, a mark at sent; one shape per series.
	series := seriesOf(r)
	p(`<g stroke-width="1">`)
	for _, s := range r.Shots {
		c := statusColor(&s)
		yy := y(float64(s.Index + 1))
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-opacity="0.6"/>`, x(secs(s.Sent)), yy, x(secs(s.Received)), yy, c)
		p(`%s`, mark(slices.Index(series, s.Series), x(secs(s.Sent)), yy, c))
	}
	p("</g>\n")

	// The running count of the counted 2xx answers, by when they came back.
	var ok []float64
	for i := range r.Shots {
		if s := &r.Shots[i]; s.OK() && (tl.Counted == nil || tl.Counted(s)) {
			ok = append(ok, secs(s.Received))
		}
	}
	slices.Sort(ok)
	if len(ok) > 0 {
		p(`<path fill="none" stroke="#004D40" stroke-width="2" d="M%.1f %.1f`, x(0), y(0))
		for i, t := range ok {
			p(` H%.1f V%.1f`, x(t), y(float64(i+1)))
		}
		p(` H%.1f"/>`+"\n", x(math.Min(xMax, span)))
	}

	for _, m := range tl.Marks {
		mx, my := x(secs(m.At)), y(math.Min(m.Count, yMax))
		p(`<circle cx="%.1f" cy="%.1f" r="9" fill="none" stroke="#CC0000" stroke-width="2"/>`, mx, my)
		p(`<text x="%.1f" y="%.1f" fill="#CC0000" font-weight="bold" stroke="white" stroke-width="3" paint-order="stroke">%s</text>`+"\n", mx+14, my+22, esc(m.Label))
	}

	// Legend.
	lx, ly := left+plotW+16, top+8
	legend := func(draw, label string) {
		p(`%s<text x="%d" y="%d">%s</text>`+"\n", draw, lx+22, ly+4, esc(label))
		ly += 20
	}
	st := r.Statuses()
	count2xx := 0
	for code, k := range st {
		if code >= 200 && code < 300 {
			count2xx += k
		}
	}
	legend(mark(0, float64(lx+8), float64(ly), colorOK), fmt.Sprintf("2xx (%d)", count2xx))
	legend(mark(0, float64(lx+8), float64(ly), colorLimited), fmt.Sprintf("429 (%d)", st[429]))
	if other := n - count2xx - st[429] - st[0]; other > 0 {
		legend(mark(0, float64(lx+8), float64(ly), colorOther), fmt.Sprintf("other status (%d)", other))
	}
	if st[0] > 0 {
		legend(mark(0, float64(lx+8), float64(ly), colorError), fmt.Sprintf("no answer (%d)", st[0]))
	}
	so := "2xx so far"
	if tl.Counted != nil {
		so = "2xx so far (the limit's)"
	}
	legend(fmt.Sprintf(`<path d="M%d %d H%d" stroke="#004D40" stroke-width="2"/>`, lx, ly, lx+16), so)
	if tl.Rate > 0 {
		legend(fmt.Sprintf(`<path d="M%d %d H%d" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`, lx, ly, lx+16),
			fmt.Sprintf("limit %d + %.4g·t", tl.Burst, tl.Rate))
		if tl.Tolerance > 0 {
			legend(fmt.Sprintf(`<path d="M%d %d H%d" stroke="#000" stroke-opacity="0.4" stroke-dasharray="2 3"/>`, lx, ly, lx+16),
				fmt.Sprintf("+ tolerance %.4g", tl.Tolerance))
		}
	}
	if len(series) > 1 {
		ly += 6
		for i, name := range series {
			legend(mark(i, float64(lx+8), float64(ly), "#333"), name)
		}
	}
	legend("", "a line runs from send to answer")

	// Notes under the chart.
	ny := top + plotH + 58
	lines := append([]string{fmt.Sprintf("send jitter p50 %s, p99 %s, max %s · latency p50 %s, p99 %s",
		roundDur(r.JitterP50), roundDur(r.JitterP99), roundDur(r.JitterMax), roundDur(r.LatencyP50), roundDur(r.LatencyP99))}, tl.Notes...)
	for _, line := range lines {
		for _, l := range wrap(line, 130) {
			p(`<text x="%d" y="%d" fill="#333">%s</text>`+"\n", left, ny, esc(l))
			ny += 16
		}
	}
	p("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// seriesOf lists the burst's series in order of first appearance.
func seriesOf(r *Result) []string {
	var out []string
	for _, s := range r.Shots {
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
