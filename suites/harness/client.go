package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/dpop"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/pace"
)

// UserAgent identifies the suite to the target.
const UserAgent = "myaccount-conformance"

// MaxBody bounds what the client reads of one response.
const MaxBody = 4 << 20

// Client is the one HTTP client for all of the suite's traffic. It dials through the
// target's resolve map, trusts its CA file, bounds every request in time, paces
// requests under the target's limits (per tenant and per user), validates every
// exchange against the OpenAPI documents, and records it (redacted) as evidence.
type Client struct {
	Target    *config.Target
	Validator *spec.Validator
	Redactor  *evidence.Redactor
	Recorder  *evidence.Recorder

	// Pacer keeps ordinary requests under the target's limits (see pace.go).
	Pacer *pace.Pacer

	http *http.Client
	keys keyring // DPoP keys and what is bound to them (dpop.go)
}

// Request is one request to send. Exactly one of Body, JSON and Form is used.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	JSON   any
	Form   url.Values
	// Bearer presents this access token: "Authorization: Bearer <token>", or, for a
	// token the client obtained bound to one of its DPoP keys, "Authorization: DPoP
	// <token>" with a fresh proof of that key (dpop.go).
	Bearer string
	// Session presents the session's access token (renewed when it runs out) in
	// its scheme, with a fresh DPoP proof when it is DPoP-bound; the request draws
	// on the session user's limits.
	Session *Session
	// Deliberate marks a request that breaks the API description on purpose (an
	// error-case spec): its own validation result is not a suite bug, and a
	// response to an undocumented operation is not validated.
	Deliberate bool
	// Paced: the caller already waited for the limit this request draws on (the
	// login drivers pace their prompt posts themselves, outside login.timeout).
	Paced bool

	// DPoP (RFC 9449; dpop.go). Without these fields a request carries a proof
	// when it presents a DPoP-bound token, refreshes a bound refresh token, or asks
	// the token endpoint for tokens of a client the target requires DPoP of.
	//
	// DPoP signs the proof with this key instead (at the token endpoint: binds the
	// tokens to it; with a token bound to another key: another key's proof).
	DPoP *dpop.Key
	// Proof changes the proof before (or after) it is signed.
	Proof []dpop.Option
	// RawProof is sent as the DPoP header as it is (a replayed proof).
	RawProof string
	// NoProof sends no DPoP header at all.
	NoProof bool
	// Scheme presents the token in this scheme ("Bearer" or "DPoP") whatever it
	// is bound to; "Bearer" also drops the bound key's proof (a downgrade).
	Scheme string
}

// Response is what came back, with the OpenAPI verdicts.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Exchange evidence.Exchange // redacted
	// Violation is set when the response breaks the API description.
	Violation error
	// RequestViolation is set when the request broke it.
	RequestViolation error
	// Proof is the DPoP proof the request carried ("" for none), ProofKey the key
	// the client signed it with (nil for a raw or no proof).
	Proof    string
	ProofKey *dpop.Key

	req        *http.Request
	nonceRetry bool // the client made the proof with the nonce it knew: a demand for another is retried
}

// pace waits until the request may go under the target's limits.
func (c *Client) pace(ctx context.Context, r *Request, u *url.URL) error {
	switch {
	case r.Paced:
		return nil
	case strings.HasPrefix(u.Path, "/me/"):
		user := pace.UserKey(r.token())
		if r.Session != nil {
			user = r.Session.Subject
		}
		return c.Pacer.MyAccount(ctx, user, r.Method, u.Query())
	case strings.HasPrefix(u.Path, "/api/v2/"):
		return c.Pacer.Management(ctx)
	case r.Method == http.MethodPost && u.Path == "/passkey/register":
		return c.Pacer.Signup(ctx)
	case strings.HasPrefix(u.Path, "/u/"):
		if r.Method == http.MethodPost {
			return c.Pacer.LoginPost(ctx)
		}
		return nil
	case c.authenticationAPI(u):
		return c.Pacer.AuthenticationAPI(ctx, u.Path == "/oauth/token")
	}
	return nil
}

// authenticationAPI says whether u is an Authentication API endpoint of the
// target: any path of its domains but My Account's, the Management API's and the
// login prompts' (the reference tenant's test hooks neither).
func (c *Client) authenticationAPI(u *url.URL) bool {
	if strings.HasPrefix(u.Path, "/__") {
		return false
	}
	for _, d := range c.Target.Domains() {
		if strings.EqualFold(u.Hostname(), strings.Split(d, ":")[0]) {
			return true
		}
	}
	return false
}

// drained tells the pacer that the buckets a request to u drew on are empty: it
// drew a 429, and the retry waits for their refill.
func (c *Client) drained(r *Request, u *url.URL) {
	switch {
	case strings.HasPrefix(u.Path, "/me/"):
		user := pace.UserKey(r.token())
		if r.Session != nil {
			user = r.Session.Subject
		}
		c.Pacer.Drained(user, spec.KindOf(r.Method, u.Query()))
	case strings.HasPrefix(u.Path, "/api/v2/"):
		c.Pacer.DrainedCommon(pace.BucketManagementAPI)
	case strings.HasPrefix(u.Path, "/u/"):
		c.Pacer.DrainedCommon(pace.BucketLoginPrompts)
	case u.Path == "/passkey/register":
		c.Pacer.DrainedCommon(pace.BucketSignups)
		c.Pacer.DrainedCommon(pace.BucketAuthenticationAPI)
	case c.authenticationAPI(u):
		if u.Path == "/oauth/token" {
			c.Pacer.DrainedCommon(pace.BucketTokenEndpoint)
		}
		c.Pacer.DrainedCommon(pace.BucketAuthenticationAPI)
	}
}

// token is the access token the request will present.
func (r *Request) token() string {
	if r.Bearer != "" {
		return r.Bearer
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(tok)
}

// NewClient builds the client for a target.
func NewClient(t *config.Target, v *spec.Validator, red *evidence.Redactor, rec *evidence.Recorder) (*Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", t.CAFile)
		}
	}
	dialer := &net.Dialer{Timeout: time.Duration(t.Timeouts.Connect)}
	resolve := t.Resolve
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := resolve[addr]; ok {
				addr = to
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   time.Duration(t.Timeouts.Connect),
		ResponseHeaderTimeout: time.Duration(t.Timeouts.Request),
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	}
	if red == nil {
		red = evidence.NewRedactor()
	}
	if rec == nil {
		rec = &evidence.Recorder{}
	}
	for _, s := range []string{t.Clients.Native.ClientSecret} {
		red.Add(s, "CLIENT_SECRET")
	}
	return &Client{
		Target:    t,
		Validator: v,
		Redactor:  red,
		Recorder:  rec,
		http: &http.Client{
			Transport: transport,
			// Redirects are part of what the suite checks: never follow them.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Pacer: pace.NewPacer(t.RateLimit.Limits()),
	}, nil
}

// UnreachableError says the target could not be reached at all: the result is
// inconclusive, not a conformance failure.
type UnreachableError struct {
	URL  string
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	via := ""
	if e.Addr != "" {
		via = " (dialed " + e.Addr + ")"
	}
	return fmt.Sprintf("target unreachable: %s%s: %v", e.URL, via, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// retries bounds how often a 429 is retried in ordinary specs, and maxRetryWait how
// long one wait may be: a user's bucket of the documented plans refills a token in
// at most 30 s (2 a minute), the login prompts' in 12 s, and Auth0 asks for about 12 s.
const (
	retries      = 1
	maxRetryWait = 61 * time.Second
)

// Do sends the request, validates and records the exchange. A 429 is someone's
// traffic beyond a limit (the suite's own pacing keeps it below): it is noted as
// unplanned, the pacer is told the buckets the request drew on are empty, and it
// is retried once, after its retry-after and when the pacer lets it go (never at
// once); a 429 that comes back anyway is returned for the caller to call the spec
// INCONCLUSIVE, never a refusal. A request the caller paced itself (Paced) is
// retried when that bucket lets it, too.
// The error is only for transport failures (an *UnreachableError when nothing
// answered).
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	body, ctype, err := r.encode()
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r, body, ctype)
		if err != nil || resp.Status != http.StatusTooManyRequests || attempt == retries {
			return resp, err
		}
		c.Pacer.NoteUnplanned(resp.req, resp.Header)
		c.drained(r, resp.req.URL)
		var wait time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		if wait > maxRetryWait {
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return resp, nil
		case <-time.After(wait):
		}
		if r.Paced && strings.HasPrefix(resp.req.URL.Path, "/u/") {
			// The driver paced the first attempt; the retry waits for the refill here.
			if err := c.Pacer.LoginPost(ctx); err != nil {
				return resp, nil
			}
		}
	}
}

func (r *Request) encode() ([]byte, string, error) {
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		return b, "application/json", err
	case r.Form != nil:
		return []byte(r.Form.Encode()), "application/x-www-form-urlencoded", nil
	default:
		return r.Body, "", nil
	}
}

// once sends r; a proof the client made that the server answers with a demand for a
// (new) nonce is made again with it and sent once more (RFC 9449 §8, §9).
func (c *Client) once(ctx context.Context, r *Request, body []byte, ctype string) (*Response, error) {
	resp, err := c.send(ctx, r, body, ctype)
	if err != nil || !resp.nonceRetry || !dpop.NonceDemanded(resp.Status, resp.Header, resp.Body) {
		return resp, err
	}
	return c.send(ctx, r, body, ctype)
}

func (c *Client) send(ctx context.Context, r *Request, body []byte, ctype string) (*Response, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", r.URL, err)
	}
	if err := c.pace(ctx, r, u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.Target.Timeouts.Request))
	defer cancel()
	req, proof, err := c.newRequest(ctx, r, body, ctype)
	if err != nil {
		return nil, err
	}

	ex := evidence.Exchange{Method: r.Method, URL: r.URL, ReqHeader: req.Header.Clone(), ReqBody: string(body), Started: time.Now()}
	if p := req.Header.Get("DPoP"); p != "" {
		d := dpop.Decode(p)
		ex.DPoP = &d
	}
	var reqViolation error
	if c.Validator != nil {
		ex.Operation = c.Validator.Operation(req)
		reqViolation = c.Validator.ValidateRequest(req.Clone(ctx), body)
		if errors.Is(reqViolation, spec.ErrNoOperation) && r.Deliberate {
			reqViolation = nil
		}
	}

	hr, err := c.http.Do(req)
	ex.Duration = time.Since(ex.Started)
	if err != nil {
		ex.Error = err.Error()
		c.record(ex, nil)
		return nil, c.transportError(r.URL, err)
	}
	defer hr.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(hr.Body, MaxBody))
	ex.Duration = time.Since(ex.Started)
	ex.Status = hr.StatusCode
	ex.RespHead = hr.Header.Clone()
	ex.RespBody = string(respBody)
	if err != nil {
		ex.Error = "reading body: " + err.Error()
		c.record(ex, nil)
		return nil, fmt.Errorf("%s %s: reading the response: %w", r.Method, r.URL, err)
	}
	resp := &Response{Status: hr.StatusCode, Header: hr.Header, Body: respBody, req: req, Proof: proof.raw, ProofKey: proof.key, nonceRetry: proof.nonceRetry}
	c.Pacer.Answered(ex.Operation, hr.StatusCode)
	c.keys.learn(r.URL, proof, resp)
	if c.Validator != nil {
		resp.Violation = c.Validator.ValidateResponse(req, body, hr.StatusCode, hr.Header, respBody)
		if errors.Is(resp.Violation, spec.ErrNoOperation) && r.Deliberate {
			resp.Violation = nil
		}
		if !r.Deliberate {
			resp.RequestViolation = reqViolation
		}
	}
	if resp.Violation != nil {
		ex.Violation = resp.Violation.Error()
	}
	c.Redactor.Learn(req.Header, body, r.URL, hr.Header, respBody)
	resp.Exchange = c.record(ex, resp)
	return resp, nil
}

// newRequest builds the http.Request for r, credentials and DPoP proof made now;
// Do and the burst pacer both send it.
func (c *Client) newRequest(ctx context.Context, r *Request, body []byte, ctype string) (*http.Request, sentProof, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(body))
	if err != nil {
		return nil, sentProof{}, err
	}
	if strings.Contains(r.URL, "|") && !strings.Contains(r.URL, "%7C") {
		// A literal "|" in the URL is sent as is, as some SDKs do, not as Go's %7C.
		req.URL.Opaque = strings.ReplaceAll(req.URL.EscapedPath(), "%7C", "|")
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if ctype != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ctype)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", UserAgent)
	proof, err := c.credentials(ctx, r, req, body)
	if err != nil {
		return nil, proof, err
	}
	if body == nil {
		req.Body = http.NoBody
	}
	return req, proof, nil
}

func (c *Client) record(ex evidence.Exchange, _ *Response) evidence.Exchange {
	red := c.Redactor.Exchange(ex)
	c.Recorder.Add(red)
	return red
}

// Prepare builds the HTTP request for r, headers and credentials included, without
// sending it: for callers that time the sending themselves (bursts).
func (c *Client) Prepare(ctx context.Context, r *Request) (*http.Request, []byte, error) {
	body, ctype, err := r.encode()
	if err != nil {
		return nil, nil, err
	}
	req, _, err := c.newRequest(ctx, r, body, ctype)
	return req, body, err
}

// RoundTrip sends a prepared request through the client's transport, nothing more:
// no pacing, no retry, no validation, no recording. A transport failure is
// classified as Do classifies it (an *UnreachableError when nothing answered).
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(req.URL.String(), err)
	}
	return resp, nil
}

// RecordExchange adds an exchange sent outside Do to the evidence of the current
// spec, redacted (and teaching the redactor the secrets it carries).
func (c *Client) RecordExchange(ex evidence.Exchange, reqBody, respBody []byte) evidence.Exchange {
	u, _ := url.Parse(ex.URL)
	if u != nil && c.Validator != nil && ex.Operation == "" {
		if req, err := http.NewRequest(ex.Method, ex.URL, nil); err == nil {
			ex.Operation = c.Validator.Operation(req)
		}
	}
	c.Redactor.Learn(ex.ReqHeader, reqBody, ex.URL, ex.RespHead, respBody)
	return c.record(ex, nil)
}

// Warm opens (or reuses) a connection to base (https://host) with a discovery
// request, which no My Account limit counts, so that a timed request that follows
// carries no TLS handshake.
func (c *Client) Warm(ctx context.Context, base string) error {
	if err := c.Pacer.AuthenticationAPI(ctx, false); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.Target.Timeouts.Connect)+time.Duration(c.Target.Timeouts.Request))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	return resp.Body.Close()
}

// transportError classifies a failed round trip.
func (c *Client) transportError(rawURL string, err error) error {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		u, _ := url.Parse(rawURL)
		addr := ""
		if u != nil {
			port := u.Port()
			if port == "" {
				port = "443"
			}
			addr = c.Target.Resolve[net.JoinHostPort(u.Hostname(), port)]
		}
		return &UnreachableError{URL: rawURL, Addr: addr, Err: err}
	}
	return fmt.Errorf("%s: %w", c.Redactor.Text(rawURL), err)
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("response body is not the expected JSON (%v): %.200s", err, r.Body)
	}
	return nil
}

// Object decodes the body as a JSON object.
func (r *Response) Object() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Location is the Location header.
func (r *Response) Location() string { return r.Header.Get("Location") }

// Probe checks that every domain of the target answers TLS at all, within the
// connect timeout. It returns an *UnreachableError for the first that does not.
func (c *Client) Probe(ctx context.Context) error {
	for _, d := range c.Target.Domains() {
		if err := c.Pacer.AuthenticationAPI(ctx, false); err != nil {
			return err
		}
		u := c.Target.BaseURL(d) + "/.well-known/openid-configuration"
		ctx, cancel := context.WithTimeout(ctx, time.Duration(c.Target.Timeouts.Connect)+time.Duration(c.Target.Timeouts.Request))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		req.Header.Set("User-Agent", UserAgent)
		resp, err := c.http.Do(req)
		cancel()
		if err != nil {
			if ue := (*UnreachableError)(nil); errors.As(c.transportError(u, err), &ue) {
				return ue
			}
			return &UnreachableError{URL: u, Err: err}
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
		resp.Body.Close()
	}
	return nil
}

// Once sends r a single time, validated and recorded like Do, but a 429 comes back
// as it is instead of being retried.
func (c *Client) Once(ctx context.Context, r *Request) (*Response, error) {
	body, ctype, err := r.encode()
	if err != nil {
		return nil, err
	}
	return c.once(ctx, r, body, ctype)
}
