package report

// pageTemplate is report.html: one file, no external resource (pictures are data
// URLs, the figure inline SVG), readable without its script.
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>My Account API conformance: {{.C.Target.Name}} — {{.C.Result}}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: .2em 0; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: .6em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; font-size: 12px; margin: .4em 0; }
a { color: #1a4f9c; }
.result { font-weight: bold; padding: .1em .4em; border-radius: .3em; white-space: nowrap; }
.pass, .success { background: #d8f5d8; color: #145214; }
.fail, .failure { background: #fadcdc; color: #7a1010; }
.skip, .partial { background: #fbf0c8; color: #6a5200; }
.inconclusive { background: #e3e3f7; color: #2a2a70; }
.warning { background: #ffe8cc; color: #6a3a00; }
.notsel { background: #eee; color: #555; }
.meta td:first-child { width: 12em; font-weight: 600; }
#requirements td:first-child { white-space: nowrap; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
.small { color: #666; font-size: 12px; }
.num { text-align: right; white-space: nowrap; }
tr.alert td { background: #fdf0f0; }
#traffic ul { margin: 0; padding-left: 1.2em; }
#answers td:last-child { text-align: right; width: 5em; }
#area-figure { margin: .8em 0 0; }
#area-chart { width: 100%; max-width: 860px; height: auto; font: 13px system-ui, sans-serif; }
#area-chart .track { fill: #f3f3f3; }
#area-chart .seg.pass { fill: #3f9a4f; } #area-chart .seg.fail { fill: #d04545; }
#area-chart .seg.inconclusive { fill: #6666cc; } #area-chart .seg.skip { fill: #e0b030; }
#area-chart .counts, #area-chart .legend { font-size: 12px; fill: #555; }
#area-chart a text { fill: #1a4f9c; }
#filters { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid #ccc; padding: .4em 0; margin-top: 1.5em; display: flex; flex-wrap: wrap; gap: .3em 1.2em; }
#filters fieldset { border: 0; margin: 0; padding: 0; display: flex; flex-wrap: wrap; align-items: center; gap: .25em; }
#filters legend { float: left; font-weight: 600; margin-right: .3em; }
#filters input { position: absolute; opacity: 0; }
#filters label { border: 1px solid #ccc; border-radius: 1em; padding: 0 .6em; cursor: pointer; font-size: 13px; white-space: nowrap; }
#filters input:checked + label { background: #333; color: #fff; border-color: #333; }
#filters input:focus-visible + label { outline: 2px solid #1a4f9c; }
#shown { font-size: 12px; color: #666; align-self: center; }
section, article, details, tr[id] { scroll-margin-top: 5em; }
.failure-detail { border: 1px solid #e4c4c4; border-left: 4px solid #d04545; border-radius: .3em; padding: .5em .8em; margin: .8em 0; }
.failure-detail[data-result=inconclusive] { border-color: #ccccee; border-left-color: #6666cc; }
.failure-detail.warned { border-color: #f0d8b8; border-left-color: #e0a040; }
details.area-group { border: 1px solid #ddd; border-radius: .3em; margin: .4em 0; }
details.area-group > summary { padding: .4em .6em; cursor: pointer; background: #f8f8f8; }
details.area-group[open] > summary { border-bottom: 1px solid #ddd; }
details.area-group table { margin: 0; }
details.area-group td:first-child { width: 9em; }
.area-name { font-weight: 600; display: inline-block; min-width: 7em; }
.spec .reason { color: #555; font-size: 12px; }
{{- range .Results}}
body:has(#fr-{{.Key}}:checked) .f-result:not([data-result={{.Key}}]), body:has(#fr-{{.Key}}:checked) .area-group:not(:has([data-result={{.Key}}])) { display: none; }
{{- end}}
{{- range .Areas}}
body:has(#fa-{{.Key}}:checked) .f-area:not([data-area={{.Key}}]) { display: none; }
{{- end}}
</style>
</head>
<body>
<h1>My Account API conformance report</h1>
<p class="small">{{.C.Suite.Name}} {{.C.Suite.Version}}{{with .C.Suite.Revision}} ({{.}}){{end}} · {{date .C.Date}} · {{.C.Target.Name}} — https://{{.C.Target.Domain}}</p>

<section id="summary">
<h2>Summary</h2>
<p>Result: <span class="result {{.C.Result}}" id="overall">{{.C.Result}}</span>
{{- with .C.Statistics.Requirements}} — {{.Passed}} of {{.Requirements}} requirements passed, {{.Failed}} failed{{if .Warnings}} ({{.Warnings}} only SHOULD/MAY: warnings){{end}}, {{.Skipped}} skipped, {{.Inconclusive}} inconclusive.{{end}}
{{- with .C.Statistics.Specs}}<br>Specs: {{.Ran}} ran of {{.Total}}: {{.Passed}} passed, {{.Failed}} failed{{if .Warnings}} ({{.Warnings}} warnings){{end}}, {{.Inconclusive}} inconclusive, {{.Skipped}} skipped, {{.NotSelected}} not selected.{{end}}</p>
{{- with .C.Undecided}}
<p id="undecided"><strong>INCONCLUSIVE: nothing was checked.</strong> {{.}}</p>
{{- end}}
{{- if .Areas}}
<figure id="area-figure">
<svg id="area-chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="area-chart-title" viewBox="0 0 {{.Figure.Width}} {{.Figure.Height}}" width="{{.Figure.Width}}" height="{{.Figure.Height}}">
<title id="area-chart-title">Specs by area: passed, failed, inconclusive and skipped</title>
{{- range .Areas}}
<g class="bar" data-area="{{.Key}}" data-name="{{.Name}}">
<a href="#area-{{.Key}}"><text x="{{$.Figure.LabelX}}" y="{{.Bar.TextY}}" text-anchor="end">{{.Name}}</text></a>
<rect class="track" x="{{$.Figure.BarX}}" y="{{.Bar.BarY}}" width="{{$.Figure.BarW}}" height="16"/>
{{- $y := .Bar.BarY}}
{{- range .Bar.Segments}}
<rect class="seg {{.Class}}" data-count="{{.Count}}" x="{{num .X}}" y="{{$y}}" width="{{num .Width}}" height="16"><title>{{.Title}}</title></rect>
{{- end}}
<text class="counts" x="{{$.Figure.CountsX}}" y="{{.Bar.TextY}}">{{.Bar.Counts}}</text>
</g>
{{- end}}
<g class="legend" transform="translate({{.Figure.BarX}} {{.Figure.LegendY}})">
<rect class="seg pass" width="12" height="12" y="-10"/><text x="16">passed</text>
<rect class="seg fail" x="80" width="12" height="12" y="-10"/><text x="96">failed</text>
<rect class="seg inconclusive" x="152" width="12" height="12" y="-10"/><text x="168">inconclusive</text>
<rect class="seg skip" x="262" width="12" height="12" y="-10"/><text x="278">skipped</text>
</g>
</svg>
<figcaption class="small">Specs by area: {{.AreaRule}}; specs the filters left out are counted, not drawn. Bars are to the scale of the largest area.</figcaption>
</figure>
{{- end}}
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

<nav id="filters" aria-label="Filter the failures, the specs and the requirements">
<fieldset><legend>Result</legend>
<input type="radio" name="result" id="fr-all" value="all" checked><label for="fr-all">all</label>
{{- range .Results}}{{if .Count}}
<input type="radio" name="result" id="fr-{{.Key}}" value="{{.Key}}"><label for="fr-{{.Key}}">{{.Label}} {{.Count}}</label>
{{- end}}{{end}}
</fieldset>
<fieldset><legend>Area</legend>
<input type="radio" name="area" id="fa-all" value="all" checked><label for="fa-all">all</label>
{{- range .Areas}}
<input type="radio" name="area" id="fa-{{.Key}}" value="{{.Key}}"><label for="fa-{{.Key}}">{{.Name}}</label>
{{- end}}
</fieldset>
<span id="shown" aria-live="polite"></span>
</nav>

<section id="failures">
<h2>Failures{{with .Failures}} ({{len .}}){{end}}</h2>
{{- if not .Failures}}
<p>None.</p>
{{- end}}
{{- $fold := gt (len .Failures) 5}}
{{- range .Failures}}
<article class="failure-detail f-result f-area{{if .Warning}} warned{{end}}" id="{{.Anchor}}" data-result="{{.ResultKey}}" data-area="{{.AreaKey}}" data-spec="{{.Text}}">
<h3><span class="result {{if .Warning}}warning{{else}}{{lower .Result}}{{end}}">{{.Result}}{{if .Warning}} (warning){{end}}{{if .Expected}} (expected){{end}}</span>{{range .IDs}} <a href="#{{.}}">{{.}}</a>{{end}} — {{.Text}}</h3>
<p class="small">area {{.AreaName}}{{with .Location}} · {{.}}{{end}}{{with duration .Duration}} · {{.}}{{end}}{{with .Expected}} · expected to fail: {{.}}{{end}}</p>
<pre class="message">{{.Reason}}</pre>
{{- with .Exchanges}}
<details{{if not $fold}} open{{end}}><summary>Exchanges (redacted)</summary><pre class="exchanges">{{.}}</pre></details>
{{- end}}
{{- with .Curl}}
<p>Repeat the last request:</p>
<pre class="curl">{{.}}</pre>
{{- end}}
{{- if not (or .Exchanges .Curl)}}
<p class="small">No HTTP exchange was recorded for this spec.</p>
{{- end}}
</article>
{{- end}}
</section>

<section id="specs">
<h2>Specs by area</h2>
<p class="small">Every spec of the run, {{.AreaRule}}; open an area to see its specs.</p>
{{- range .Areas}}
<details class="area-group f-area" id="area-{{.Key}}" data-area="{{.Key}}">
<summary><span class="area-name">{{.Name}}</span> <span class="small">{{.Bar.Counts}}</span></summary>
<table>
<tr><th>Result</th><th>Spec</th><th>Requirements</th><th class="num">Time</th></tr>
{{- range .Specs}}
<tr class="spec f-result f-area" data-result="{{.ResultKey}}" data-area="{{.AreaKey}}">
<td><span class="result {{if .Warning}}warning{{else}}{{.ResultKey}}{{end}}">{{if .NotRun}}not selected{{else}}{{.Result}}{{end}}</span>{{if .Anchor}} <a href="#{{.Anchor}}" class="small">evidence</a>{{end}}</td>
<td>{{if .Leaf}}{{.Leaf}}{{else}}{{.Text}}{{end}}{{with .Containers}}<div class="small">{{join . " › "}}</div>{{end}}
{{- if and (not .NotRun) (ne .Result "PASS") (not .Anchor)}}<div class="reason">{{.Reason}}</div>{{end}}</td>
<td>{{range .IDs}}<a href="#{{.}}">{{.}}</a> {{end}}{{if gt (len .Areas) 1}}<div class="small">areas: {{join .Areas ", "}}</div>{{end}}</td>
<td class="num">{{duration .Duration}}</td>
</tr>
{{- end}}
</table>
</details>
{{- end}}
</section>

<section id="requirements-section">
<h2>Requirements</h2>
<details id="requirements-fold">
<summary>{{len .Reqs}} requirements of the catalogue{{with .C.Statistics.Requirements}}: {{.Passed}} passed, {{.Failed}} failed, {{.Skipped}} skipped, {{.Inconclusive}} inconclusive{{end}}</summary>
<table id="requirements">
<tr><th>ID</th><th>Level</th><th>Profile</th><th>Result</th><th>Statement</th><th>Specs and reason</th></tr>
{{- range .Reqs}}
<tr id="{{.ID}}" class="f-result" data-result="{{if .NotSelected}}notsel{{else}}{{lower .Result}}{{end}}"><td>{{.ID}}</td><td>{{.Level}}</td><td>{{.Profile}}</td>
<td><span class="result {{if .Warning}}warning{{else}}{{lower .Result}}{{end}}">{{.Result}}{{if .Warning}} (warning){{end}}</span>{{with expectedFor $.C .ID}}<br><span class="small">expected: {{.}}</span>{{end}}</td>
<td>{{.Statement}}<br><span class="small">{{.Source}}, {{.Section}}</span></td>
<td>{{range .Specs}}<div class="small">{{.Result}} — {{.Text}}</div>{{end}}{{with .Reason}}<div>{{.}}</div>{{end}}</td></tr>
{{- end}}
</table>
</details>
</section>
{{template "traffic" .}}
<section id="run">
<h2>Run</h2>
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
<tr><td>Beside this page</td><td>report.md (the summary for a CI job), report.har (the redacted exchanges, for a browser's network panel), certification.yaml, junit.xml, report.json</td></tr>
</table>
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
<script>
// The filters work without this: it only opens the areas when a filter is set and
// counts the specs shown.
(() => {
  const filters = document.getElementById("filters");
  const shown = document.getElementById("shown");
  const update = () => {
    const filtering = filters.querySelector("input:checked:not([value=all])") !== null;
    const rows = [...document.querySelectorAll("tr.spec")];
    const visible = rows.filter(r => getComputedStyle(r).display !== "none").length;
    if (filtering) {
      document.querySelectorAll("details.area-group").forEach(d => { d.open = true; });
    }
    shown.textContent = filtering ? visible + " of " + rows.length + " specs shown" : "";
  };
  filters.addEventListener("change", update);
})();
</script>
</body>
</html>
`

// trafficTemplate is the page's section on the run's traffic and pacing.
const trafficTemplate = `{{define "traffic"}}
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
{{end}}`
