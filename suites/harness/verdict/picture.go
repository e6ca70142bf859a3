package verdict

import "time"

// TimelineData holds a rate-limit burst's Picture as JSON: the spec attaches it, and
// the report draws it into the report dir as Picture.File (the entry Timeline names
// that file).
const TimelineData = "timeline_data"

// Picture is what a burst's timeline shows, as data: one dot per request at its send
// time, a line to its answer, the running count of the 2xx the limit is about, the
// limit B + R·t and the tolerance above it, marks and notes.
type Picture struct {
	File     string    // the SVG's file name in the report dir
	Title    string    // the heading (the burst's name when empty)
	Name     string    // the burst's name
	Rate     float64   // requests per second asked for
	Achieved float64   // requests per second achieved
	Started  time.Time // when the first request was sent
	// LimitRate and LimitBurst are the limit as configured (R and B), Tolerance the
	// margin drawn above it; no limit line when LimitRate is 0.
	LimitRate  float64
	LimitBurst int
	Tolerance  float64
	Notes      []string
	Marks      []Mark
	Shots      []Shot
	// Send jitter and answer latency of the burst.
	JitterP50, JitterP99, JitterMax, LatencyP50, LatencyP99 time.Duration
	// Counting says the running count is of some shots only (the limit's).
	Counting bool
}

// Shot is one request of a picture: when it was sent and answered (since the burst
// began), its status (0: no answer), its series, and whether the count includes it.
type Shot struct {
	Index          int
	Sent, Received time.Duration
	Status         int
	Series         string
	Counted        bool
}

// Mark is a ring at a time and a count, with a label.
type Mark struct {
	At    time.Duration
	Count float64
	Label string
}
