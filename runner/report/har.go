package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// HARFile is the HTTP Archive of the run's exchanges in the report dir.
const HARFile = "report.har"

// ExchangeRecords names the report entry in which the suite (suites/framework's
// AfterEach) leaves a spec's exchanges as JSON records, redacted as they were
// recorded and again with the rest of the report: report.har is built from them,
// never from raw traffic.
const ExchangeRecords = "exchange_records"

// Which specs' exchanges report.har holds (run --har).
const (
	HARFailed = "failed" // failed and inconclusive specs
	HARAll    = "all"    // every spec that sent something
)

// exchangeRecord is one exchange as the suite records it (the JSON form of the
// harness's Exchange; only what report.har needs is read).
type exchangeRecord struct {
	Operation string          `json:"operation"`
	Method    string          `json:"method"`
	URL       string          `json:"url"`
	ReqHeader http.Header     `json:"request_headers"`
	ReqBody   string          `json:"request_body"`
	Status    int             `json:"status"`
	RespHead  http.Header     `json:"response_headers"`
	RespBody  string          `json:"response_body"`
	Error     string          `json:"error"`
	Violation string          `json:"violation"`
	DPoP      json.RawMessage `json:"dpop_proof"`
	Started   time.Time       `json:"started"`
	Duration  time.Duration   `json:"duration"`
}

// HAR is an HTTP Archive, version 1.2 (http://www.softwareishard.com/blog/har-12-spec/):
// the fields it requires, and the optional ones report.har fills. Fields starting
// with an underscore are custom fields, which the format allows.
type HAR struct {
	Log HARLog `json:"log"`
}

// HARLog is the root of the archive.
type HARLog struct {
	Version string     `json:"version"`
	Creator HARCreator `json:"creator"`
	Pages   []HARPage  `json:"pages,omitempty"`
	Entries []HAREntry `json:"entries"`
	Comment string     `json:"comment,omitempty"`
}

// HARCreator names the program that wrote the archive.
type HARCreator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// HARPage groups the entries of one spec.
type HARPage struct {
	StartedDateTime string         `json:"startedDateTime"`
	ID              string         `json:"id"`
	Title           string         `json:"title"`
	PageTimings     HARPageTimings `json:"pageTimings"`
	Comment         string         `json:"comment,omitempty"`
}

// HARPageTimings are a browser's page load times: -1, there is no page load.
type HARPageTimings struct {
	OnContentLoad float64 `json:"onContentLoad"`
	OnLoad        float64 `json:"onLoad"`
}

// HAREntry is one exchange.
type HAREntry struct {
	PageRef         string      `json:"pageref,omitempty"`
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"` // milliseconds
	Request         HARRequest  `json:"request"`
	Response        HARResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         HARTimings  `json:"timings"`
	// Comment names the spec, its result and the requirement IDs it checks.
	Comment string `json:"comment,omitempty"`
	// Custom fields: the OpenAPI operation, the requirement IDs, an OpenAPI
	// violation of the response, a transport error, the DPoP proof decoded.
	Operation    string          `json:"_operation,omitempty"`
	Requirements []string        `json:"_requirements,omitempty"`
	Violation    string          `json:"_violation,omitempty"`
	Error        string          `json:"_error,omitempty"`
	DPoPProof    json.RawMessage `json:"_dpopProof,omitempty"`
}

// HARRequest is the request of an entry.
type HARRequest struct {
	Method      string         `json:"method"`
	URL         string         `json:"url"`
	HTTPVersion string         `json:"httpVersion"`
	Cookies     []HARCookie    `json:"cookies"`
	Headers     []HARNameValue `json:"headers"`
	QueryString []HARNameValue `json:"queryString"`
	PostData    *HARPostData   `json:"postData,omitempty"`
	HeadersSize int            `json:"headersSize"`
	BodySize    int            `json:"bodySize"`
}

// HARResponse is the response of an entry; status 0 when none came (see _error).
type HARResponse struct {
	Status      int            `json:"status"`
	StatusText  string         `json:"statusText"`
	HTTPVersion string         `json:"httpVersion"`
	Cookies     []HARCookie    `json:"cookies"`
	Headers     []HARNameValue `json:"headers"`
	Content     HARContent     `json:"content"`
	RedirectURL string         `json:"redirectURL"`
	HeadersSize int            `json:"headersSize"`
	BodySize    int            `json:"bodySize"`
}

// HARNameValue is a header or a query parameter.
type HARNameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HARCookie is a cookie sent or set.
type HARCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

// HARPostData is a request body.
type HARPostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

// HARContent is a response body.
type HARContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

// HARTimings split an entry's time: the suite records the whole exchange only, as
// wait.
type HARTimings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// harTime is the ISO 8601 form HAR dates take.
func harTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BuildHAR makes the archive of the exchanges of the failed and inconclusive specs
// (which HARFailed), or of every spec that recorded some (HARAll): one page per
// spec, its exchanges in the order they were sent.
func (o *Outcome) BuildHAR(which string) HAR {
	c := o.Certification
	h := HAR{Log: HARLog{Version: "1.2", Creator: HARCreator{Name: c.Suite.Name, Version: c.Suite.Version}, Entries: []HAREntry{}}}
	if h.Log.Creator.Name == "" {
		h.Log.Creator.Name = "myaccount-conformance"
	}
	var notes []string
	for _, s := range o.Specs {
		if s.Records == "" || which != HARAll && s.Result != Fail && s.Result != Inconclusive {
			continue
		}
		var records []exchangeRecord
		if err := json.Unmarshal([]byte(s.Records), &records); err != nil {
			notes = append(notes, fmt.Sprintf("the exchanges of %q could not be read: %v", s.Text, err))
			continue
		}
		if len(records) == 0 {
			continue
		}
		title := s.Text
		if len(s.IDs) > 0 {
			title += " [" + strings.Join(s.IDs, ", ") + "]"
		}
		page := HARPage{ID: fmt.Sprintf("spec_%d", len(h.Log.Pages)+1), Title: title,
			StartedDateTime: harTime(records[0].Started), PageTimings: HARPageTimings{-1, -1}, Comment: string(s.Result)}
		h.Log.Pages = append(h.Log.Pages, page)
		for i, r := range records {
			e := harEntry(r)
			e.PageRef = page.ID
			e.Requirements = s.IDs
			e.Comment = fmt.Sprintf("%s (exchange %d of %d) %s", s.Result, i+1, len(records), title)
			h.Log.Entries = append(h.Log.Entries, e)
		}
	}
	switch {
	case c.Undecided != "":
		notes = append([]string{"Nothing was checked: " + c.Undecided}, notes...)
	case which == HARAll:
		notes = append([]string{"The exchanges of every spec (run --har all)."}, notes...)
	default:
		notes = append([]string{"The exchanges of the failed and inconclusive specs (run --har all records every spec's)."}, notes...)
	}
	notes = append(notes, "Redacted as every report: secrets appear as $NAME placeholders. httpVersion is left empty: the suite does not record it.")
	for i, n := range notes {
		if !strings.HasSuffix(n, ".") {
			notes[i] = n + "."
		}
	}
	h.Log.Comment = strings.Join(notes, " ")
	return h
}

// harEntry turns one recorded exchange into a HAR entry.
func harEntry(r exchangeRecord) HAREntry {
	ms := millis(r.Duration)
	e := HAREntry{
		StartedDateTime: harTime(r.Started),
		Time:            ms,
		Timings:         HARTimings{Wait: ms},
		Operation:       r.Operation,
		Violation:       r.Violation,
		Error:           r.Error,
		DPoPProof:       r.DPoP,
		Request: HARRequest{
			Method: r.Method, URL: r.URL,
			Cookies:     harCookies((&http.Request{Header: r.ReqHeader}).Cookies()),
			Headers:     nameValues(r.ReqHeader),
			QueryString: []HARNameValue{},
			HeadersSize: -1, BodySize: len(r.ReqBody),
		},
		Response: HARResponse{
			Status: r.Status, StatusText: http.StatusText(r.Status),
			Cookies: harCookies((&http.Response{Header: r.RespHead}).Cookies()),
			Headers: nameValues(r.RespHead),
			Content: HARContent{Size: len(r.RespBody), MimeType: r.RespHead.Get("Content-Type"), Text: r.RespBody},
			// The recorded body is the first MaxBody bytes at most: its size is the one known.
			RedirectURL: r.RespHead.Get("Location"), HeadersSize: -1, BodySize: len(r.RespBody),
		},
	}
	if e.Response.Content.MimeType == "" {
		e.Response.Content.MimeType = "x-unknown"
	}
	if r.Status == 0 {
		e.Response.BodySize = -1 // nothing came back
	}
	if u, err := url.Parse(r.URL); err == nil {
		for _, kv := range strings.Split(u.RawQuery, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
			if uv, err := url.QueryUnescape(v); err == nil {
				v = uv
			}
			e.Request.QueryString = append(e.Request.QueryString, HARNameValue{Name: k, Value: v})
		}
	}
	if r.ReqBody != "" {
		e.Request.PostData = &HARPostData{MimeType: r.ReqHeader.Get("Content-Type"), Text: r.ReqBody}
	}
	return e
}

// harCookies lists the cookies a Cookie or Set-Cookie header carries.
func harCookies(cs []*http.Cookie) []HARCookie {
	out := []HARCookie{}
	for _, c := range cs {
		hc := HARCookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = harTime(c.Expires)
		}
		out = append(out, hc)
	}
	return out
}

// nameValues lists headers in a stable order (by name, then as sent).
func nameValues(h http.Header) []HARNameValue {
	out := []HARNameValue{}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			out = append(out, HARNameValue{Name: k, Value: v})
		}
	}
	return out
}

// WriteHAR writes report.har into dir (see BuildHAR).
func (o *Outcome) WriteHAR(dir, which string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(o.BuildHAR(which)); err != nil {
		return fmt.Errorf("%s: %w", HARFile, err)
	}
	return os.WriteFile(filepath.Join(dir, HARFile), b.Bytes(), 0o644)
}
