package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
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

// WriteHTML writes the self-contained page for people into dir: summary, the run's
// traffic and pacing (unplanned 429s and leftovers highlighted), the per-requirement
// table, every failure with its redacted exchanges and curl line, and the pictures.
func (o *Outcome) WriteHTML(dir string, pictures []Picture) error {
	var failures []Spec
	for _, s := range o.Specs {
		if s.Result == Fail || s.Result == Inconclusive {
			failures = append(failures, s)
		}
	}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{
		"C":        o.Certification,
		"Reqs":     o.Requirements,
		"Failures": failures,
		"Pictures": pictures,
	})
	if err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, HTMLFile), b.Bytes(), 0o644)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower": func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"join":  strings.Join,
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"anchor": func(s Spec) string {
		return "spec-" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, s.Text)
	},
	"kinds":   kindLines,
	"answers": answerLines,
	"waits":   waitLines,
	"expectedFor": func(c Certification, id string) string {
		for _, e := range c.ExpectedFailures {
			if e.ID == id {
				return e.Reason
			}
		}
		return ""
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>My Account API conformance: {{.C.Target.Name}} — {{.C.Result}}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: .6em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
.result { font-weight: bold; padding: .1em .4em; border-radius: .3em; white-space: nowrap; }
.pass, .success { background: #d8f5d8; color: #145214; }
.fail, .failure { background: #fadcdc; color: #7a1010; }
.skip, .partial { background: #fbf0c8; color: #6a5200; }
.inconclusive { background: #e3e3f7; color: #2a2a70; }
.warning { background: #ffe8cc; color: #6a3a00; }
.meta td:first-child { width: 12em; font-weight: 600; }
#requirements td:first-child { white-space: nowrap; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
.small { color: #666; font-size: 12px; }
tr.alert td { background: #fdf0f0; }
#traffic ul { margin: 0; padding-left: 1.2em; }
#answers td:last-child { text-align: right; width: 5em; }
</style>
</head>
<body>
<h1>My Account API conformance report</h1>
<p class="small">{{.C.Suite.Name}} {{.C.Suite.Version}}{{with .C.Suite.Revision}} ({{.}}){{end}} · {{date .C.Date}}</p>

<section id="summary">
<h2>Summary</h2>
<p>Result: <span class="result {{.C.Result}}" id="overall">{{.C.Result}}</span>{{with .C.Undecided}}</p>
<p id="undecided"><strong>INCONCLUSIVE: nothing was checked.</strong> {{.}}{{end}}
{{- with .C.Statistics.Requirements}} — {{.Passed}} of {{.Requirements}} requirements passed, {{.Failed}} failed{{if .Warnings}} ({{.Warnings}} only SHOULD/MAY: warnings){{end}}, {{.Skipped}} skipped, {{.Inconclusive}} inconclusive.{{end}}</p>
<table class="meta">
<tr><td>Target</td><td>{{.C.Target.Name}} — https://{{.C.Target.Domain}}{{with .C.Target.CustomDomain}}, custom domain https://{{.}}{{end}}</td></tr>
{{- with .C.Implementation}}
<tr><td>Implementation</td><td>{{.Organization}} {{.Project}} {{.Version}}{{with .URL}} · {{.}}{{end}}{{with .Contact}} · {{.}}{{end}}</td></tr>
{{- end}}
{{- with .C.Run.ReferenceTenant}}
<tr><td>Reference tenant faults</td><td>{{if .Faults}}{{join .Faults ", "}}{{else}}none{{end}}</td></tr>
{{- end}}
<tr><td>Command</td><td><code>{{join .C.Run.Command " "}}</code></td></tr>
<tr><td>Specs</td><td>{{with .C.Statistics.Specs}}{{.Ran}} ran of {{.Total}}: {{.Passed}} passed, {{.Failed}} failed{{if .Warnings}} ({{.Warnings}} warnings){{end}}, {{.Inconclusive}} inconclusive, {{.Skipped}} skipped, {{.NotSelected}} not selected{{end}}</td></tr>
<tr><td>OpenAPI documents</td><td>{{range .C.Suite.Documents}}{{.Name}}{{if .Extra}} (--spec){{end}} <code class="small">sha256:{{.SHA256}}</code><br>{{end}}</td></tr>
</table>
<table id="profiles">
<tr><th>Profile</th><th>Result</th><th>Requirements</th><th>Passed</th><th>Failed</th><th>Skipped</th><th>Inconclusive</th></tr>
{{- range .C.Profiles}}
<tr><td>{{.Name}}</td><td><span class="result {{.Result}}">{{.Result}}</span></td><td>{{.Requirements}}</td><td>{{.Passed}}</td><td>{{.Failed}}{{if .Warnings}} ({{.Warnings}} warnings){{end}}</td><td>{{.Skipped}}</td><td>{{.Inconclusive}}</td></tr>
{{- end}}
</table>
{{- if .C.ExpectedFailures}}
<h3>Expected failures</h3>
<table id="expected">
<tr><th>Requirement</th><th>Reason given</th><th>Outcome</th></tr>
{{- range .C.ExpectedFailures}}
<tr><td>{{.ID}}</td><td>{{.Reason}}</td><td><span class="result {{if .OK}}pass{{else}}fail{{end}}">{{.Outcome}}</span></td></tr>
{{- end}}
</table>
{{- end}}
</section>

<section id="traffic">
<h2>Traffic and pacing</h2>
{{- with .C.Run.Traffic}}
<table class="meta">
<tr><td>Wall time</td><td>{{.WallTime}}{{if gt .Processes 1}} in {{.Processes}} processes{{end}}</td></tr>
<tr><td>Floor</td><td>{{.Floor}}{{with .FloorReason}} — {{.}}{{end}}{{with .WallToFloor}} · wall time is {{.}}× the floor{{end}}</td></tr>
{{- with .Limits}}
<tr><td>Limits</td><td>{{.}}</td></tr>
{{- end}}
<tr><td>My Account requests</td><td>{{range $i, $k := kinds .}}{{if $i}}, {{end}}{{$k.Count}} {{$k.Name}}{{end}}; by {{.RequestingUsers}} users</td></tr>
<tr><td>Signups, login posts</td><td>{{.Signups}} signups, {{.LoginPosts}} login prompt posts</td></tr>
<tr><td>Users signed up</td><td>{{.Users.SignedUp}}{{with .Users.Were}} — {{.}}{{end}}
{{- with .Users.List}}<details><summary class="small">list</summary><ul class="small">{{range .}}<li>{{.}}</li>{{end}}</ul></details>{{end}}</td></tr>
<tr id="leftovers"{{if .Leftovers}} class="alert"{{end}}><td>Leftovers</td><td>
{{- if .Leftovers}}<span class="result fail">{{len .Leftovers}} left on the target</span><ul>{{range .Leftovers}}<li>{{.}}</li>{{end}}</ul>{{else}}none{{end}}</td></tr>
<tr id="unplanned"{{if .Unplanned429s}} class="alert"{{end}}><td>Unplanned 429s</td><td>
{{- if .Unplanned429s}}<span class="result fail">{{.Unplanned429s}}</span> — a correct suite draws none from a correct target: a suite or target problem{{if gt .Unplanned429s (len .FirstUnplanned429s)}} (the first {{len .FirstUnplanned429s}}){{end}}
<ul>{{range .FirstUnplanned429s}}<li><code>{{.Request}}</code> at {{date .At}}{{with .Kind}}, kind {{.}}{{end}}{{with .RetryAfter}}, retry-after {{.}}{{end}}</li>{{end}}</ul>{{else}}none{{end}}</td></tr>
<tr><td>Waited for limits</td><td>{{range $i, $w := waits .}}{{if $i}} · {{end}}{{$w.Name}} {{$w.Wait}}{{else}}no wait{{end}}</td></tr>
{{- with .Notes}}
<tr class="alert"><td>Notes</td><td><ul>{{range .}}<li>{{.}}</li>{{end}}</ul></td></tr>
{{- end}}
</table>
{{- with answers .}}
<details><summary>Operations and statuses exercised ({{len .}})</summary>
<table id="answers">
<tr><th>Operation and status</th><th>Answers</th></tr>
{{- range .}}
<tr><td><code>{{.Name}}</code></td><td>{{.Count}}</td></tr>
{{- end}}
</table>
</details>
{{- end}}
{{- else}}
<p>No traffic figures in this run.</p>
{{- end}}
</section>

<section>
<h2>Requirements</h2>
<table id="requirements">
<tr><th>ID</th><th>Level</th><th>Profile</th><th>Result</th><th>Statement</th><th>Specs and reason</th></tr>
{{- range .Reqs}}
<tr id="{{.ID}}"><td>{{.ID}}</td><td>{{.Level}}</td><td>{{.Profile}}</td>
<td><span class="result {{if .Warning}}warning{{else}}{{lower .Result}}{{end}}">{{.Result}}{{if .Warning}} (warning){{end}}</span>{{with expectedFor $.C .ID}}<br><span class="small">expected: {{.}}</span>{{end}}</td>
<td>{{.Statement}}<br><span class="small">{{.Source}}, {{.Section}}</span></td>
<td>{{range .Specs}}<div class="small">{{.Result}} — {{.Text}}</div>{{end}}{{with .Reason}}<div>{{.}}</div>{{end}}</td></tr>
{{- end}}
</table>
</section>

<section id="failures">
<h2>Failures</h2>
{{- if not .Failures}}
<p>None.</p>
{{- end}}
{{- range .Failures}}
<article class="failure-detail" id="{{anchor .}}">
<h3><span class="result {{lower .Result}}">{{.Result}}</span> {{if .IDs}}[{{join .IDs ", "}}] {{end}}{{.Text}}</h3>
<p class="small">{{.Location}}</p>
<pre class="message">{{.Reason}}</pre>
{{- with .Exchanges}}
<details open><summary>Exchanges (redacted)</summary><pre class="exchanges">{{.}}</pre></details>
{{- end}}
{{- with .Curl}}
<p>Repeat the last request:</p>
<pre class="curl">{{.}}</pre>
{{- end}}
</article>
{{- end}}
</section>

<section id="pictures">
<h2>Pictures</h2>
{{- if not .Pictures}}
<p>None in this run.</p>
{{- end}}
{{- range .Pictures}}
<figure><img src="{{.Src}}" alt="{{.Name}}"><figcaption class="small">{{.Name}}</figcaption></figure>
{{- end}}
</section>
</body>
</html>
`))
