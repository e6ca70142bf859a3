package burst

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
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

// The timeline is well-formed SVG with one mark per request, the limit, the first
// 429 and a legend that counts each kind of answer.
func TestWriteTimeline(t *testing.T) {
	var buf bytes.Buffer
	err := WriteTimeline(&buf, sampleBurst(), Timeline{Title: "A <burst> & more", Rate: 25, Burst: 25, Tolerance: 3, Notes: []string{"verdict: fine"},
		Marks: []TimelineMark{{At: 200 * time.Millisecond, Count: 21, Label: "2xx beyond the limit"}}})
	if err != nil {
		t.Fatal(err)
	}
	elements := map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
		}
		switch v := tok.(type) {
		case xml.StartElement:
			elements[v.Name.Local]++
		case xml.CharData:
			text.Write(v)
			text.WriteByte('\n')
		}
	}
	// 20 circles (user A) plus the legend's status circles; 20 squares (user B) plus
	// the legend's square.
	if elements["circle"] < 20 || elements["rect"] < 20 {
		t.Errorf("marks: %v", elements)
	}
	for _, want := range []string{
		"A <burst> & more", "2xx (30)", "429 (8)", "other status (1)", "no answer (1)",
		"limit 25 + 25·t", "+ tolerance 3", "first 429 at 0.301 s", "user A", "user B", "verdict: fine",
		"40 requests at 100/s requested", "2xx beyond the limit",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the picture does not say %q:\n%s", want, text.String())
		}
	}
}

func TestWriteTimelineFile(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteTimelineFile(dir, sampleBurst(), Timeline{Rate: 25, Burst: 25})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, "/ratelimit-two-users.svg") {
		t.Errorf("path %s", path)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Errorf("%s: %v %.40s", path, err, b)
	}
}

func TestTimelineScales(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{3.06, 3.5}, {0.1, 0.1}, {153, 160}, {1.53, 1.6}, {76.5, 80}} {
		if got := axisMax(c.in); got < c.in || got != c.want {
			t.Errorf("axisMax(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := fileSlug("At the limit: 25/s"); got != "at-the-limit-25-s" {
		t.Errorf("fileSlug: %q", got)
	}
}

// Counted limits the running count of 2xx to the shots the limit is about; the
// others are still drawn.
func TestWriteTimelineCounted(t *testing.T) {
	steps := func(tl Timeline) (int, string) {
		var buf bytes.Buffer
		if err := WriteTimeline(&buf, sampleBurst(), tl); err != nil {
			t.Fatal(err)
		}
		svg := buf.String()
		_, path, ok := strings.Cut(svg, `<path fill="none" stroke="#004D40" stroke-width="2" d="`)
		if !ok {
			t.Fatalf("no running count in\n%s", svg)
		}
		path, _, _ = strings.Cut(path, `"`)
		return strings.Count(path, " V"), svg
	}
	if n, _ := steps(Timeline{Rate: 25, Burst: 25}); n != 30 {
		t.Errorf("all counted: %d steps, want 30", n)
	}
	n, svg := steps(Timeline{Rate: 25, Burst: 25, Counted: func(s *Shot) bool { return s.Series == "user A" }})
	if n != 15 {
		t.Errorf("user A counted: %d steps, want 15", n)
	}
	if !strings.Contains(svg, "2xx so far (the limit&#39;s)") || !strings.Contains(svg, "2xx (30)") {
		t.Errorf("the legend should count every 2xx and say the line counts the limit's:\n%s", svg)
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
