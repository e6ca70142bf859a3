package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Picture is an SVG a spec wrote into the report dir (e.g. a rate-limit timeline),
// embedded in the HTML page as a data URL so that the page stands alone and the
// picture cannot run scripts.
type Picture struct {
	Name string
	Src  template.URL
}

// Pictures reads every *.svg in dir written at or after since; older ones are left
// over from an earlier run into the same dir and would show what this run did not do.
func Pictures(dir string, since time.Time) ([]Picture, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.svg"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Picture
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.ModTime().Before(since.Truncate(time.Second)) {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Picture{
			Name: filepath.Base(p),
			Src:  template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(data)),
		})
	}
	return out, nil
}

// WriteHTML writes the self-contained page for people into dir: the result and a
// picture of the results by area; the failures, each with its evidence (message,
// redacted exchanges, curl line); every spec grouped by area, folded; the
// per-requirement table; the run's traffic and pacing (unplanned 429s and leftovers
// highlighted); the run's details; and the pictures specs drew. Filters by result
// and by area work without a server and without a script.
func (o *Outcome) WriteHTML(dir string, pictures []Picture) error {
	var b bytes.Buffer
	if err := page.Execute(&b, o.view(pictures)); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, HTMLFile), b.Bytes(), 0o644)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower":    func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"join":     strings.Join,
	"date":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"duration": shortDuration,
	"kinds":    kindLines,
	"answers":  answerLines,
	"waits":    waitLines,
	"num":      func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"expectedFor": func(c Certification, id string) string {
		for _, e := range c.ExpectedFailures {
			if e.ID == id {
				return e.Reason
			}
		}
		return ""
	},
}).Parse(pageTemplate + trafficTemplate))
