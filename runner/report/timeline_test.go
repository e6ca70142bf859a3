package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/verdict"
)

func samplePicture() verdict.Picture {
	p := verdict.Picture{File: "ratelimit-two-users.svg", Name: "two users", Rate: 100, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for i := range 40 {
		s := verdict.Shot{Index: i, Series: []string{"user A", "user B"}[i%2], Sent: time.Duration(i) * 10 * time.Millisecond, Counted: true}
		s.Received = s.Sent + time.Millisecond
		switch {
		case i == 39:
			s.Status = 0
		case i == 38:
			s.Status = 500
		case i < 30:
			s.Status = 200
		default:
			s.Status = 429
		}
		p.Shots = append(p.Shots, s)
	}
	return p
}

// The timeline is well-formed SVG with one mark per request, the limit, the first
// 429 and a legend that counts each kind of answer.
func TestWriteTimeline(t *testing.T) {
	var buf bytes.Buffer
	p := samplePicture()
	p.Title, p.LimitRate, p.LimitBurst, p.Tolerance, p.Notes = "A <burst> & more", 25, 25, 3, []string{"verdict: fine"}
	p.Marks = []verdict.Mark{{At: 200 * time.Millisecond, Count: 21, Label: "2xx beyond the limit"}}
	err := WriteTimeline(&buf, p)
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

// The report draws each picture a spec attached into the report dir, under its
// own file name, and refuses a name that would leave the dir.
func TestDrawTimelines(t *testing.T) {
	dir := t.TempDir()
	entry := func(p verdict.Picture) types.ReportEntry {
		data, _ := json.Marshal(p)
		return types.ReportEntry{Name: verdict.TimelineData, Value: types.WrapEntryValue(string(data))}
	}
	p := samplePicture()
	p.LimitRate, p.LimitBurst = 25, 25
	r := types.Report{SpecReports: types.SpecReports{{ReportEntries: types.ReportEntries{entry(p)}}}}
	if err := DrawTimelines(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ratelimit-two-users.svg"))
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Errorf("%v %.40s", err, b)
	}
	p.File = "../escape.svg"
	r = types.Report{SpecReports: types.SpecReports{{ReportEntries: types.ReportEntries{entry(p)}}}}
	if err := DrawTimelines(dir, r); err == nil {
		t.Error("a file name outside the dir was drawn")
	}
}

func TestTimelineScales(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{3.06, 3.5}, {0.1, 0.1}, {153, 160}, {1.53, 1.6}, {76.5, 80}} {
		if got := axisMax(c.in); got < c.in || got != c.want {
			t.Errorf("axisMax(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// Only the counted shots make the running count of 2xx; the others are still drawn.
func TestWriteTimelineCounted(t *testing.T) {
	steps := func(p verdict.Picture) (int, string) {
		var buf bytes.Buffer
		if err := WriteTimeline(&buf, p); err != nil {
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
	p := samplePicture()
	p.LimitRate, p.LimitBurst = 25, 25
	if n, _ := steps(p); n != 30 {
		t.Errorf("all counted: %d steps, want 30", n)
	}
	p.Counting = true
	for i := range p.Shots {
		p.Shots[i].Counted = p.Shots[i].Series == "user A"
	}
	n, svg := steps(p)
	if n != 15 {
		t.Errorf("user A counted: %d steps, want 15", n)
	}
	if !strings.Contains(svg, "2xx so far (the limit&#39;s)") || !strings.Contains(svg, "2xx (30)") {
		t.Errorf("the legend should count every 2xx and say the line counts the limit's:\n%s", svg)
	}
}

// Redaction leaves a picture's data whole: a six-digit secret may match its digits.
func TestRedactKeepsTimelineData(t *testing.T) {
	data, _ := json.Marshal(samplePicture())
	r := types.Report{SpecReports: types.SpecReports{{ReportEntries: types.ReportEntries{
		{Name: verdict.TimelineData, Value: types.WrapEntryValue(string(data))},
		{Name: verdict.Curl, Value: types.WrapEntryValue("curl -d code=100000")},
	}}}}
	out := Redact(r, func(s string) string { return strings.ReplaceAll(s, "0000", "$OTP_CODE") })
	if got := out.SpecReports[0].ReportEntries[0].StringRepresentation(); got != string(data) {
		t.Errorf("the picture's data changed: %.80s", got)
	}
	if got := out.SpecReports[0].ReportEntries[1].StringRepresentation(); strings.Contains(got, "0000") {
		t.Errorf("other entries are still redacted: %q", got)
	}
	if err := DrawTimelines(t.TempDir(), out); err != nil {
		t.Error(err)
	}
}
