package burst

import (
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
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

// Picture is the burst's timeline as data (verdict.Picture), which the report draws
// into the report dir as ratelimit-<name>.svg.
func (r *Result) Picture(tl Timeline) verdict.Picture {
	p := verdict.Picture{
		File: "ratelimit-" + fileSlug(r.Name) + ".svg", Title: tl.Title, Name: r.Name,
		Rate: r.Rate, Achieved: r.Achieved, Started: r.Started,
		LimitRate: tl.Rate, LimitBurst: tl.Burst, Tolerance: tl.Tolerance, Notes: tl.Notes,
		JitterP50: roundDur(r.JitterP50), JitterP99: roundDur(r.JitterP99), JitterMax: roundDur(r.JitterMax),
		LatencyP50: roundDur(r.LatencyP50), LatencyP99: roundDur(r.LatencyP99), Counting: tl.Counted != nil,
	}
	for _, m := range tl.Marks {
		p.Marks = append(p.Marks, verdict.Mark{At: m.At, Count: m.Count, Label: m.Label})
	}
	for i := range r.Shots {
		s := &r.Shots[i]
		status := s.Status
		if s.Err != nil {
			status = 0
		}
		p.Shots = append(p.Shots, verdict.Shot{Index: s.Index, Sent: s.Sent, Received: s.Received, Status: status,
			Series: s.Series, Counted: tl.Counted == nil || tl.Counted(s)})
	}
	return p
}

// fileSlug is s as a file name: lower-case letters and digits, runs of anything
// else one dash.
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
