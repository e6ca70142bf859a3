package runner

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaccount-conformance/myaccount-conformance/fixtures/reftenant"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report"
	"github.com/myaccount-conformance/myaccount-conformance/runner/report/reporttest"
	"github.com/myaccount-conformance/myaccount-conformance/spec"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

// secretProxy sits between the suite and the reference tenant and notes every
// secret value that crosses it: the scan then looks for values the run really
// used, seen independently of the suite's own redactor.
type secretProxy struct {
	mu      sync.Mutex
	secrets map[string]string // value → kind
}

var secretKinds = map[string]bool{
	"client_secret": true, "access_token": true, "refresh_token": true, "id_token": true,
	"auth_session": true, "code": true, "code_verifier": true, "password": true, "mfa_token": true,
}

func (p *secretProxy) note(value, kind string) {
	if len(value) < 8 { // too short to find without false alarms
		return
	}
	p.mu.Lock()
	p.secrets[value] = kind
	p.mu.Unlock()
}

func (p *secretProxy) noteJSON(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && secretKinds[k] {
				p.note(s, k)
			}
			p.noteJSON(val)
		}
	case []any:
		for _, e := range x {
			p.noteJSON(e)
		}
	}
}

func (p *secretProxy) noteBody(body []byte) {
	var v any
	if json.Unmarshal(body, &v) == nil {
		p.noteJSON(v)
		return
	}
	if q, err := url.ParseQuery(string(body)); err == nil {
		p.noteQuery(q)
	}
}

func (p *secretProxy) noteQuery(q url.Values) {
	for k, vs := range q {
		if secretKinds[k] {
			for _, v := range vs {
				p.note(v, k)
			}
		}
	}
}

func (p *secretProxy) take() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.secrets
	p.secrets = map[string]string{}
	return out
}

// startSecretProxy serves TLS for the tenant's names with its own CA and forwards
// to the tenant. It returns its address and CA file.
func startSecretProxy(t *testing.T, tenant *reftenant.Tenant) (*secretProxy, string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "secret-scan proxy CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: tenant.Domain()},
		DNSNames: []string{tenant.Domain(), tenant.CustomDomain()}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}

	tenantCAs := x509.NewCertPool()
	tenantCAs.AppendCertsFromPEM(tenant.CAPEM())
	p := &secretProxy{secrets: map[string]string{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "https", pr.In.Host, pr.In.Host
		},
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: tenantCAs},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, tenant.Addr())
			},
		},
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			p.noteBody(body)
			if u, err := resp.Location(); err == nil {
				p.noteQuery(u.Query())
			}
			for _, c := range resp.Cookies() {
				p.note(c.Value, "cookie")
			}
			return nil
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Of what the suite sends only passwords are secrets: the auth_sessions and
		// tokens it sends were issued to it (and noted then) or are deliberately bad.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		var v map[string]any
		if json.Unmarshal(body, &v) == nil {
			for _, k := range []string{"password", "new_password"} {
				if s, ok := v[k].(string); ok {
					p.note(s, "password")
				}
			}
		}
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}},
		ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return p, ln.Addr().String(), caFile
}

// scan returns "kind in file" for every secret found in the report dir or output.
func scan(t *testing.T, dir string, output string, secrets map[string]string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	in := secretFinder(secrets)
	look := func(name string, data []byte) {
		for _, v := range in(data) {
			found[secrets[v]] = append(found[secrets[v]], name)
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		look(path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	look("console output", []byte(output))
	return found
}

// certTrafficFigures are what the tests read of run.traffic in a certification.
type certTrafficFigures struct {
	LoginPosts        int      `json:"login_posts"`
	Signups           int      `json:"signups"`
	AuthenticationAPI int      `json:"authentication_api"`
	ManagementAPI     int      `json:"management_api"`
	BudgetOverruns    []string `json:"budget_overruns"`
}

// certTraffic is run.traffic of the certification in dir.
func certTraffic(t *testing.T, dir string) certTrafficFigures {
	t.Helper()
	var cert struct {
		Run struct {
			Traffic certTrafficFigures `json:"traffic"`
		} `json:"run"`
	}
	readYAML(t, filepath.Join(dir, report.CertificationFile), &cert)
	return cert.Run.Traffic
}

// secretFinder returns what finds which of secrets a text holds, in one pass over
// it: a run's reports are many megabytes and it uses hundreds of secrets, which one
// search each would take minutes to look for. Each secret is indexed by its first w
// bytes (w the shortest secret's length), and each w-byte window of the text is
// looked up.
func secretFinder(secrets map[string]string) func(data []byte) []string {
	w := 0
	for v := range secrets {
		if w == 0 || len(v) < w {
			w = len(v)
		}
	}
	first := map[string][]string{}
	for v := range secrets {
		first[v[:w]] = append(first[v[:w]], v)
	}
	return func(data []byte) []string {
		var out []string
		seen := map[string]bool{}
		for i := 0; w > 0 && i+w <= len(data); i++ {
			for _, v := range first[string(data[i:i+w])] {
				if !seen[v] && bytes.HasPrefix(data[i:], []byte(v)) {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
		return out
	}
}

// Every secret the run used — the client secret, tokens, auth_sessions, codes —
// appears in no report file and not on the console. The control run with
// --show-secrets finds them, so the scan can see what it looks for. Faults make
// specs fail, so that reports carry exchanges, and one of them (a reusable
// auth_session) makes a matcher print a token response.
func TestSecretsStayOutOfReports(t *testing.T) {
	t.Parallel()
	// The largest private-cloud tier: its tenant limits never make the run wait
	// (the per-user ones are those of every plan); the reference's ceremony lifetime,
	// which the expired-session spec waits out.
	limits, err := spec.LimitPlan(spec.PlanPrivateCloud + "10000")
	if err != nil {
		t.Fatal(err)
	}
	// The limits make run waives, waived here too.
	tenant, err := reftenant.Start(reftenant.Options{Addr: "127.0.0.1:0", Limits: &limits, SessionTTL: referenceSessionTTL,
		Faults: []string{reftenant.FaultEnrollStart200, reftenant.FaultAuthSessionReusable}, Waive: reftenant.Waivers()})
	if err != nil {
		t.Fatal(err)
	}
	defer tenant.Close()
	proxy, addr, caFile := startSecretProxy(t, tenant)
	// The config the runner writes for the reference tenant, pointed at the proxy.
	cfgDir := t.TempDir()
	cfg, err := writeReferenceConfig(tenant, cfgDir)
	if err != nil {
		t.Fatal(err)
	}
	target := editConfig(t, cfg, cfg, func(target map[string]any) {
		target["resolve"] = map[string]string{tenant.Domain() + ":443": addr, tenant.CustomDomain() + ":443": addr}
		target["ca_file"] = caFile
	})
	// Its secrets: every client secret and password in it.
	secrets := map[string]string{}
	var fromConfig func(v any)
	fromConfig = func(v any) {
		if m, ok := v.(map[string]any); ok {
			for k, val := range m {
				if s, ok := val.(string); ok && (k == "client_secret" || k == "password") && len(s) >= 8 {
					secrets[s] = k
				}
				fromConfig(val)
			}
		}
	}
	fromConfig(target)
	configSecrets := maps.Clone(secrets)

	// Every spec but the rate-limit ones, which take long and send nothing new: the
	// same tokens through the same client. report.har holds every spec's exchanges.
	dir := t.TempDir()
	code, stdout, stderr := runCmd(t, "run", "--config", cfg, "--label-filter", "!ratelimit", "--har", "all", "--report-dir", dir)
	if code != exitFailures {
		t.Fatalf("the faults should fail the run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for v, k := range proxy.take() {
		secrets[v] = k
	}
	kinds := map[string]int{}
	for _, k := range secrets {
		kinds[k]++
	}
	for _, k := range []string{"client_secret", "access_token", "auth_session"} {
		if kinds[k] == 0 {
			t.Fatalf("the proxy saw no %s: %v", k, kinds)
		}
	}
	for _, f := range []string{report.HTMLFile, report.MarkdownFile, report.CertificationFile, report.HARFile, jsonReport, junitReport} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("report missing: %v", err)
		}
	}
	// The archive the scan reads holds the exchanges of passed specs as well as failed.
	data, err := os.ReadFile(filepath.Join(dir, report.HARFile))
	if err != nil {
		t.Fatal(err)
	}
	har := reporttest.CheckHAR(t, data)
	results := map[string]int{}
	for _, p := range har.Log.Pages {
		results[p.Comment]++
	}
	if results[string(report.Pass)] == 0 || results[string(report.Fail)] == 0 || len(har.Log.Entries) < len(har.Log.Pages) {
		t.Errorf("report.har of --har all: pages by result %v, %d entries", results, len(har.Log.Entries))
	}
	// Every spec asked the user pools for what it sent as each user (this run keeps
	// to the per-user limits of every plan, so an overrun would wait for a refill).
	if o := certTraffic(t, dir).BudgetOverruns; len(o) > 0 {
		t.Errorf("specs took more from a user's buckets than they asked for:\n%s", strings.Join(o, "\n"))
	}
	if found := scan(t, dir, stdout+stderr, secrets); len(found) > 0 {
		t.Errorf("secrets in the reports or output (%d values scanned, %v): %v", len(secrets), kinds, found)
	}

	// Control: the same scan finds them when redaction is off.
	control := t.TempDir()
	proxy.take()
	code, stdout, stderr = runCmd(t, "run", "--config", cfg, "--label-filter", "enroll || tamper", "--show-secrets", "--report-dir", control)
	if code != exitFailures {
		t.Fatalf("control run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	controlSecrets := proxy.take()
	maps.Copy(controlSecrets, configSecrets)
	found := scan(t, control, stdout+stderr, controlSecrets)
	for _, k := range []string{"client_secret", "access_token", "auth_session"} {
		if len(found[k]) == 0 {
			t.Errorf("the control scan with --show-secrets found no %s: the scan cannot see it (found %v)", k, found)
		}
	}
}

// The HTML report of a failing run renders in headless Chromium with its summary,
// the per-requirement table, the failure with its exchanges and curl line, and a
// picture a spec wrote into the report dir.
func TestHTMLReportRendersInChromium(t *testing.T) {
	browser := harnesstest.Chromium(t)
	dir := t.TempDir()
	// A picture as the rate-limit specs write them; dated in the future, as if
	// written during the run (older files are left-overs and not shown).
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="40"><rect width="320" height="40" fill="#4a7"/><text x="8" y="26">timeline</text></svg>`
	pic := filepath.Join(dir, "timeline.svg")
	if err := os.WriteFile(pic, []byte(svg), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(pic, future, future); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "run", "--fault", "enroll-start-200", "--label-filter", "enroll", "--report-dir", dir)
	if code != exitFailures {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	home := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(home), chromedp.Env("HOME="+home))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	type rendered struct {
		Title, Overall       string
		SummaryHeight        float64
		Rows, Failures       int
		FailureText          string
		Images, ImagesLoaded int
		ImageWidth           float64
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+filepath.Join(dir, report.HTMLFile))); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	page, err := chromedp.Run(bctx, chromedp.Evaluate[rendered](`(() => {
		const imgs = [...document.querySelectorAll('#pictures img')];
		const f = document.querySelector('#failures .failure-detail');
		return {
			Title: document.title,
			Overall: document.querySelector('#overall').textContent,
			SummaryHeight: document.querySelector('#summary').getBoundingClientRect().height,
			Rows: document.querySelectorAll('#requirements tr[id]').length,
			Failures: document.querySelectorAll('#failures .failure-detail').length,
			FailureText: f ? f.innerText : '',
			Images: imgs.length,
			ImagesLoaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
			ImageWidth: imgs.length ? imgs[0].getBoundingClientRect().width : 0,
		};
	})()`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	catalogue, _ := spec.Requirements()
	if page.Overall != report.ProfileFailure || page.SummaryHeight <= 0 || !strings.Contains(page.Title, "failure") {
		t.Errorf("summary: %+v", page)
	}
	if page.Rows < len(catalogue) {
		t.Errorf("the requirements table has %d rows, the catalogue %d", page.Rows, len(catalogue))
	}
	if page.Failures == 0 || !strings.Contains(page.FailureText, "curl ") || !strings.Contains(page.FailureText, "$ACCESS_TOKEN") || !strings.Contains(page.FailureText, "MA-ENR-001") {
		t.Errorf("failure detail: %d failures, first:\n%s", page.Failures, page.FailureText)
	}
	if page.Images != 1 || page.ImagesLoaded != 1 || page.ImageWidth < 100 {
		t.Errorf("pictures: %d shown, %d loaded, width %.0f", page.Images, page.ImagesLoaded, page.ImageWidth)
	}
}
