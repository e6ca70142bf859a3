package ratelimit

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/burst"
)

// What the oracle judges: the bursts as they were recorded, on the clock of each
// burst's start, with only what a judgement reads (the rate-limit headers, the
// description problems the specs hold against a burst). The specs build these
// from the bursts they send; with RecordEnv set they also write them to a file,
// and the offline tests judge such files (testdata/).

// RecordEnv names the environment variable that, set to a directory, makes the
// rate-limit specs write what they sent there: bursts.json.gz (the ordered
// Describe's bursts, retry-after waits and the limit model) and operations.json.gz
// (the every-operation spec's probes).
const RecordEnv = "MC_RATELIMIT_RECORD"

// History is what the rate-limit specs of one run sent, with the model they held
// the target to.
type History struct {
	Limits spec.Limits `json:"limits"`
	Runs   []Run       `json:"runs,omitempty"`
	// Skips says, by burst key, why a burst could not be sent on the target.
	Skips      map[string]string `json:"skips,omitempty"`
	Recoveries []Recovery        `json:"recoveries,omitempty"`
	Drains     []Drain           `json:"drains,omitempty"`
	// Observed are how the specs that sent these ended in that run, for the
	// offline tests to hold the oracle to.
	Observed []Observed `json:"observed,omitempty"`
}

// Observed is how a spec ended in a recorded run.
type Observed struct {
	Context string  `json:"context"` // "on reads", … ("" for a spec outside a kind's Context)
	Spec    string  `json:"spec"`
	Outcome Outcome `json:"outcome"`
	Message string  `json:"message,omitempty"`
}

// Run is one burst (with any probes merged in) and what each request was.
type Run struct {
	Key       string       `json:"key"`  // "tenant read above the limit", "user write", …
	Name      string       `json:"name"` // the burst's name, in findings
	Level     string       `json:"level"`
	Kind      spec.Kind    `json:"kind"`
	Bucket    burst.Bucket `json:"bucket"` // the bucket the main requests are held to
	Alongside []string     `json:"alongside,omitempty"`
	// The burst's figures (burst.Result's: its rate requested and achieved, jitter and
	// latency, for its summary), and its wall-clock start and end.
	Rate       float64       `json:"rate"`
	Achieved   float64       `json:"achieved"`
	JitterP50  time.Duration `json:"jitter_p50"`
	JitterP99  time.Duration `json:"jitter_p99"`
	JitterMax  time.Duration `json:"jitter_max"`
	LatencyP50 time.Duration `json:"latency_p50"`
	LatencyP99 time.Duration `json:"latency_p99"`
	Started    time.Time     `json:"started"`
	Ended      time.Time     `json:"ended"`
	Shots      []Shot        `json:"shots"` // Shots[i].Index == i
}

// Shot is one request of a burst and its answer.
type Shot struct {
	Index int       `json:"i"`
	Kind  spec.Kind `json:"k"`
	Role  string    `json:"role"` // roleMain, roleProbe, roleOther
	Who   string    `json:"who"`
	Sub   string    `json:"sub,omitempty"`
	Host  string    `json:"host,omitempty"`
	// Method and Path name a probe of the every-operation spec.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Sent and Received are since the burst's start, on the monotonic clock.
	Sent     time.Duration `json:"sent"`
	Received time.Duration `json:"recv"`
	Status   int           `json:"status"`
	Header   http.Header   `json:"h,omitempty"` // the rate-limit headers only
	Body     string        `json:"body,omitempty"`
	Err      string        `json:"err,omitempty"`
	// Unreachable says Err is the target's not answering, which decides nothing.
	Unreachable bool `json:"unreachable,omitempty"`
	// Violation is how the answer breaks the API description: in a burst, other than
	// in its rate-limit headers (the header specs judge those themselves); in an
	// every-operation probe, at all.
	Violation string `json:"violation,omitempty"`
}

// Recovery is what came back after waiting the retry-after a burst of Kind asked
// for (MA-RL-006), in order; the spec stops at the first wrong answer.
type Recovery struct {
	Kind    spec.Kind `json:"kind"`
	Wait    float64   `json:"wait"` // seconds
	Answers []Answer  `json:"answers"`
}

// Answer is a single request's answer outside a burst.
type Answer struct {
	Method, URL      string
	Status           int
	Body             string `json:",omitempty"` // kept when not a 2xx
	Err              string `json:",omitempty"`
	Unreachable      bool   `json:",omitempty"`
	RequestViolation string `json:",omitempty"`
	Violation        string `json:",omitempty"` // other than in the rate-limit headers
}

// Drain is one bucket of a user that the every-operation spec emptied, and the
// probes, one per operation of the kind, that followed.
type Drain struct {
	Kind   spec.Kind   `json:"kind"`
	Bucket spec.Bucket `json:"bucket"`
	// The burst that emptied it: how many requests, how long, how many 429s.
	Sent    int           `json:"sent"`
	Span    time.Duration `json:"span"`
	Refused int           `json:"refused"`
	Probes  []Shot        `json:"probes,omitempty"`
}

// rateHeaderNames are the headers a recording keeps.
var rateHeaderNames = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "X-Auth0-Error-Kind", "Date"}

func rateHeadersOnly(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := http.Header{}
	for _, n := range rateHeaderNames {
		if v, ok := h[http.CanonicalHeaderKey(n)]; ok {
			out[http.CanonicalHeaderKey(n)] = v
		}
	}
	return out
}

// shotOf records a burst's shot; other is the description problem the oracle
// judges (otherViolations for a burst, the whole violation for a probe).
func shotOf(s *burst.Shot, other error) Shot {
	out := Shot{Index: s.Index, Sent: s.Sent, Received: s.Received, Status: s.Status, Header: rateHeadersOnly(s.Header)}
	if s.Err != nil {
		var ue *harness.UnreachableError
		out.Err, out.Unreachable = s.Err.Error(), errors.As(s.Err, &ue)
	}
	if other != nil {
		out.Violation = other.Error()
	}
	return out
}

// runOf records a burst of the specs: res's shots with what plan says each was.
func runOf(key, level string, k spec.Kind, b burst.Bucket, alongside []string, res *burst.Result, plan []shotInfo) *Run {
	r := &Run{Key: key, Name: res.Name, Level: level, Kind: k, Bucket: b, Alongside: alongside,
		Rate: res.Rate, Achieved: res.Achieved, JitterP50: res.JitterP50, JitterP99: res.JitterP99, JitterMax: res.JitterMax,
		LatencyP50: res.LatencyP50, LatencyP99: res.LatencyP99, Started: res.Started, Ended: res.Ended,
		Shots: make([]Shot, len(res.Shots))}
	for i := range res.Shots {
		s := &res.Shots[i]
		in := plan[s.Index]
		r.Shots[i] = shotOf(s, otherViolations(s.Violation))
		r.Shots[i].Kind, r.Shots[i].Role, r.Shots[i].Who, r.Shots[i].Sub, r.Shots[i].Host = in.kind, in.role, in.who, in.sub, in.host
	}
	return r
}

// probeOf records a shot of the every-operation spec's probes.
func probeOf(s *burst.Shot, k spec.Kind) Shot {
	out := shotOf(s, s.Violation)
	out.Kind, out.Method, out.Path = k, s.Method(), s.Operation()
	if s.Status != http.StatusTooManyRequests {
		out.Body = fmt.Sprintf("%.200s", s.Body) // as much as a finding shows
	}
	return out
}

// answerOf records a single answer.
func answerOf(resp *harness.Response, err error) Answer {
	if err != nil {
		var ue *harness.UnreachableError
		if errors.As(err, &ue) {
			return Answer{Err: ue.Error(), Unreachable: true}
		}
		return Answer{Err: err.Error()}
	}
	a := Answer{Method: resp.Exchange.Method, URL: resp.Exchange.URL, Status: resp.Status}
	if resp.Status < 200 || resp.Status > 299 {
		a.Body = string(resp.Body) // only a wrong answer's body is shown
	}
	if resp.RequestViolation != nil {
		a.RequestViolation = resp.RequestViolation.Error()
	}
	if v := otherViolations(resp.Violation); v != nil {
		a.Violation = v.Error()
	}
	return a
}

// otherViolations drops, from a description violation, the problems with the
// rate-limit headers: the header specs judge those themselves, and every other spec
// of the burst would fail for them too.
func otherViolations(v error) error {
	var ve *spec.ValidationError
	if v == nil || !errors.As(v, &ve) {
		return v
	}
	var rest []spec.Problem
	for _, p := range ve.Problems {
		if w := strings.ToLower(p.Where); strings.HasPrefix(w, "header x-ratelimit-") || w == "header retry-after" {
			continue
		}
		rest = append(rest, p)
	}
	switch {
	case len(rest) == len(ve.Problems):
		return v
	case len(rest) == 0:
		return nil
	}
	return &spec.ValidationError{Problems: rest}
}

// WriteHistory writes h, gzipped JSON, to path.
func WriteHistory(path string, h *History) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	err = json.NewEncoder(zw).Encode(h)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadHistory reads a history WriteHistory wrote.
func ReadHistory(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var h History
	if err := json.NewDecoder(zr).Decode(&h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &h, nil
}

// recording says whether RecordEnv asks for the bursts to be written.
func recording() bool { return os.Getenv(RecordEnv) != "" }

// recordTo is where RecordEnv asks for the file name, "" when it is not set.
func recordTo(name string) string {
	dir := os.Getenv(RecordEnv)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}
