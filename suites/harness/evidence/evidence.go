package evidence

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
)

// Exchange is one recorded request and its response (or transport error).
type Exchange struct {
	Operation string      `json:"operation,omitempty"` // "POST /authentication-methods" from the spec, if matched
	Method    string      `json:"method"`
	URL       string      `json:"url"`
	ReqHeader http.Header `json:"request_headers,omitempty"`
	ReqBody   string      `json:"request_body,omitempty"`
	Status    int         `json:"status,omitempty"`
	RespHead  http.Header `json:"response_headers,omitempty"`
	RespBody  string      `json:"response_body,omitempty"`
	Error     string      `json:"error,omitempty"`
	Violation string      `json:"violation,omitempty"`
	// DPoP is the request's DPoP proof, decoded: header and claims, never a private key.
	DPoP     *dpop.Decoded `json:"dpop_proof,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
}

// secretKeys are JSON/form/query keys whose values are secrets.
var secretKeys = map[string]string{
	"client_secret": "CLIENT_SECRET", "access_token": "ACCESS_TOKEN", "refresh_token": "REFRESH_TOKEN",
	"id_token": "ID_TOKEN", "auth_session": "AUTH_SESSION", "code": "CODE", "code_verifier": "CODE_VERIFIER",
	"password": "PASSWORD", "new_password": "PASSWORD", "otp_code": "OTP_CODE", "recovery_code": "RECOVERY_CODE",
	"mfa_token": "MFA_TOKEN", "barcode_uri": "BARCODE_URI", "manual_input_code": "MANUAL_INPUT_CODE",
	"connect_code": "CONNECT_CODE", "ticket": "TICKET",
}

// Redactor hides secrets: by key (JSON, form, query, headers) and by value (any
// secret seen before, wherever it shows up again).
type Redactor struct {
	mu      sync.Mutex
	values  map[string]string // secret value → placeholder name
	longest []string          // the values, longest first (kept sorted as they come: Text runs on every exchange)
	Off     bool              // --show-secrets
}

// NewRedactor returns a redactor that hides secrets.
func NewRedactor() *Redactor { return &Redactor{values: map[string]string{}} }

// Add registers a secret value to hide everywhere, under a placeholder name.
func (r *Redactor) Add(value, name string) {
	if len(value) < 6 { // too short to replace safely; key-based redaction still covers it
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, known := r.values[value]; !known {
		i, _ := slices.BinarySearchFunc(r.longest, len(value), func(v string, n int) int { return n - len(v) })
		r.longest = slices.Insert(r.longest, i, value)
	}
	r.values[value] = name
}

// Text replaces every known secret value in s.
func (r *Redactor) Text(s string) string {
	if r == nil || r.Off {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Longest first, so a secret containing another is replaced whole.
	for _, v := range r.longest {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "$"+r.values[v])
		}
	}
	return s
}

// learnJSON registers the values of secret keys found in a JSON body.
func (r *Redactor) learnJSON(body []byte) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	r.walk(v)
}

func (r *Redactor) walk(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if name, ok := secretKeys[k]; ok {
				if s, ok := val.(string); ok {
					r.Add(s, name)
					continue
				}
			}
			r.walk(val)
		}
	case []any:
		for _, e := range x {
			r.walk(e)
		}
	}
}

// learnForm registers secret values of a form or query string.
func (r *Redactor) learnForm(q string) {
	vals, err := url.ParseQuery(q)
	if err != nil {
		return
	}
	for k, vs := range vals {
		if name, ok := secretKeys[k]; ok {
			for _, v := range vs {
				r.Add(v, name)
			}
		}
	}
}

// learnHeaders registers bearer tokens and cookies.
func (r *Redactor) learnHeaders(h http.Header) {
	for _, a := range h.Values("Authorization") {
		if _, tok, ok := strings.Cut(a, " "); ok {
			r.Add(tok, "ACCESS_TOKEN")
		}
	}
	for _, c := range append(h.Values("Cookie"), h.Values("Set-Cookie")...) {
		for _, part := range strings.Split(c, ";") {
			if _, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
				r.Add(v, "COOKIE")
			}
		}
	}
	for _, l := range h.Values("Location") {
		if u, err := url.Parse(l); err == nil {
			r.learnForm(u.RawQuery)
		}
	}
}

// Learn registers every secret in a request/response pair.
func (r *Redactor) Learn(reqHeader http.Header, reqBody []byte, reqURL string, respHeader http.Header, respBody []byte) {
	r.learnHeaders(reqHeader)
	r.learnHeaders(respHeader)
	r.learnJSON(reqBody)
	r.learnForm(string(reqBody))
	r.learnJSON(respBody)
	if u, err := url.Parse(reqURL); err == nil {
		r.learnForm(u.RawQuery)
	}
}

// Exchange returns a redacted copy.
func (r *Redactor) Exchange(e Exchange) Exchange {
	out := e
	out.URL = r.Text(e.URL)
	out.ReqBody = r.Text(e.ReqBody)
	out.RespBody = r.Text(e.RespBody)
	out.Error = r.Text(e.Error)
	out.Violation = r.Text(e.Violation)
	out.ReqHeader = r.header(e.ReqHeader)
	out.RespHead = r.header(e.RespHead)
	return out
}

func (r *Redactor) header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := http.Header{}
	for k, vs := range h {
		for _, v := range vs {
			switch {
			case k == "Dpop":
				// A proof is single-use and the exchange shows it decoded: the header
				// names it, also with --show-secrets (a proof of a private-key case
				// holds that key).
				v = "$" + ProofPlaceholder
			case !r.Off && k == "Authorization":
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " $ACCESS_TOKEN"
			}
			out.Add(k, r.Text(v))
		}
	}
	return out
}

// ProofPlaceholder names a DPoP proof in exchanges and curl lines.
const ProofPlaceholder = "DPOP_PROOF"

// Recorder keeps the exchanges of the current spec.
type Recorder struct {
	mu  sync.Mutex
	all []Exchange
}

// Add records one exchange.
func (rec *Recorder) Add(e Exchange) {
	rec.mu.Lock()
	rec.all = append(rec.all, e)
	rec.mu.Unlock()
}

// Reset forgets everything (called before each spec).
func (rec *Recorder) Reset() {
	rec.mu.Lock()
	rec.all = nil
	rec.mu.Unlock()
}

// Exchanges returns what was recorded, oldest first.
func (rec *Recorder) Exchanges() []Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Exchange(nil), rec.all...)
}

// FormatExchange renders a redacted exchange as HTTP text for people.
func FormatExchange(e Exchange) string {
	var b strings.Builder
	if e.Operation != "" {
		fmt.Fprintf(&b, "# %s\n", e.Operation)
	}
	fmt.Fprintf(&b, "> %s %s\n", e.Method, e.URL)
	writeHeaders(&b, "> ", e.ReqHeader)
	if e.DPoP != nil {
		fmt.Fprintf(&b, "> ($%s, decoded; single-use, so a replay needs a fresh proof)\n", ProofPlaceholder)
		for _, line := range strings.Split(e.DPoP.String(), "\n") {
			fmt.Fprintf(&b, ">   %s\n", line)
		}
	}
	if e.ReqBody != "" {
		fmt.Fprintf(&b, ">\n%s\n", indentBody(e.ReqBody))
	}
	if e.Error != "" {
		fmt.Fprintf(&b, "! %s\n", e.Error)
	} else {
		fmt.Fprintf(&b, "< %d %s (%s)\n", e.Status, http.StatusText(e.Status), e.Duration.Round(time.Millisecond))
		writeHeaders(&b, "< ", e.RespHead)
		if e.RespBody != "" {
			fmt.Fprintf(&b, "<\n%s\n", indentBody(e.RespBody))
		}
	}
	if e.Violation != "" {
		fmt.Fprintf(&b, "! OpenAPI: %s\n", e.Violation)
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}

const maxShownBody = 4000

func indentBody(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		if pretty, err := json.MarshalIndent(v, "", "  "); err == nil {
			s = string(pretty)
		}
	}
	if len(s) > maxShownBody {
		s = s[:maxShownBody] + fmt.Sprintf("\n… (%d more bytes)", len(s)-maxShownBody)
	}
	return s
}

// CurlLine renders a curl command that repeats a redacted exchange's request. Secrets
// appear as shell variables ($ACCESS_TOKEN, …) for the user to set.
func CurlLine(e Exchange, resolve map[string]string, caFile string) string {
	var parts []string
	parts = append(parts, "curl", "-sS", "-i", "-X", e.Method, shellQuote(e.URL))
	if u, err := url.Parse(e.URL); err == nil {
		port := u.Port()
		if port == "" {
			port = "443"
		}
		if to, ok := resolve[net.JoinHostPort(u.Hostname(), port)]; ok {
			// --connect-to keeps the URL (and so Host and SNI) and changes only where curl dials.
			if h, p, err := net.SplitHostPort(to); err == nil {
				if strings.Contains(h, ":") {
					h = "[" + h + "]"
				}
				parts = append(parts, "--connect-to", shellQuote(u.Hostname()+":"+port+":"+h+":"+p))
			}
		}
	}
	if caFile != "" {
		parts = append(parts, "--cacert", shellQuote(caFile))
	}
	keys := make([]string, 0, len(e.ReqHeader))
	for k := range e.ReqHeader {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "User-Agent" || k == "Content-Length" || k == "Accept-Encoding" {
			continue
		}
		for _, v := range e.ReqHeader[k] {
			parts = append(parts, "-H", dquote(k+": "+v))
		}
	}
	if e.ReqBody != "" {
		parts = append(parts, "--data-raw", dquote(e.ReqBody))
	}
	line := strings.Join(parts, " ")
	if e.DPoP != nil {
		htm, _ := e.DPoP.Claims["htm"].(string)
		htu, _ := e.DPoP.Claims["htu"].(string)
		line += fmt.Sprintf("  # $%s: a DPoP proof is single-use (RFC 9449 §11.1): the one sent (decoded in the exchange) is refused if replayed; sign a fresh one with the same key for %s %s", ProofPlaceholder, htm, htu)
		if _, ok := e.DPoP.Claims["ath"]; ok {
			line += " with ath of $ACCESS_TOKEN"
		}
		if _, ok := e.DPoP.Claims["nonce"]; ok {
			line += " and the server's latest DPoP-Nonce"
		}
	}
	return line
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// dquote quotes for a POSIX shell but leaves $PLACEHOLDERS expandable.
func dquote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}
