package burst

import (
	"errors"
	"testing"
	"time"
)

func sampleBurst() *Result {
	r := &Result{Name: "two users", Rate: 100, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for i := range 40 {
		s := Shot{Index: i, Series: []string{"user A", "user B"}[i%2], Sent: time.Duration(i) * 10 * time.Millisecond}
		s.Received = s.Sent + time.Millisecond
		switch {
		case i == 39:
			s.Err = errors.New("timeout")
		case i == 38:
			s.Status = 500
		case i < 30:
			s.Status = 200
		default:
			s.Status = 429
		}
		r.Shots = append(r.Shots, s)
	}
	r.stats()
	return r
}

// A burst's picture is its shots as data: a file name of its own, the counted
// shots those the timeline counts, no answer as status 0.
func TestPicture(t *testing.T) {
	r := sampleBurst()
	r.Shots[39].Status = 502 // an error wins over a status
	p := r.Picture(Timeline{Title: "t", Rate: 25, Burst: 25, Tolerance: 3, Counted: func(s *Shot) bool { return s.Series == "user A" },
		Marks: []TimelineMark{{At: time.Second, Count: 2, Label: "m"}}})
	if p.File != "ratelimit-two-users.svg" || p.Title != "t" || p.LimitRate != 25 || p.LimitBurst != 25 || p.Tolerance != 3 || !p.Counting {
		t.Errorf("picture %+v", p)
	}
	if len(p.Shots) != 40 || p.Shots[39].Status != 0 || len(p.Marks) != 1 {
		t.Fatalf("shots %d, last %+v, marks %v", len(p.Shots), p.Shots[39], p.Marks)
	}
	counted := 0
	for _, s := range p.Shots {
		if s.Counted {
			counted++
		}
	}
	if counted != 20 {
		t.Errorf("%d counted, want the 20 of user A", counted)
	}
	if all := r.Picture(Timeline{}); all.Counting || !all.Shots[1].Counted {
		t.Error("without Counted every shot counts")
	}
	if got := fileSlug("At the limit: 25/s"); got != "at-the-limit-25-s" {
		t.Errorf("fileSlug: %q", got)
	}
}

// Merge puts a later burst's shots on the first burst's clock.
func TestResultMerge(t *testing.T) {
	a := sampleBurst()
	achieved := a.Achieved
	b := &Result{Started: a.Started.Add(time.Second), Ended: a.Started.Add(2 * time.Second), Shots: []Shot{
		{Index: 0, Sent: 0, Received: 5 * time.Millisecond, Status: 200, Series: "probe"},
		{Index: 1, Sent: time.Millisecond, Received: 6 * time.Millisecond, Status: 200, Series: "probe"},
	}}
	a.Merge(b)
	if len(a.Shots) != 42 || a.Achieved != achieved || !a.Ended.Equal(b.Ended) {
		t.Fatalf("%d shots, achieved %v (was %v), ended %v", len(a.Shots), a.Achieved, achieved, a.Ended)
	}
	if s := a.Shots[41]; s.Index != 41 || s.Sent != time.Second+time.Millisecond || s.Received != time.Second+6*time.Millisecond || s.Series != "probe" {
		t.Errorf("merged shot %+v", s)
	}
}
