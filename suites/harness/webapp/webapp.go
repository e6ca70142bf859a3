// Package webapp is a browser application at an origin the suite chooses: a page
// served on loopback (over HTTPS with a certificate of its own, which Chromium is
// told to trust, or over HTTP for an http origin) under the origin's host name,
// which headless Chromium maps there. Scripts run in that page, so what they fetch
// goes out with that Origin, and Chromium, not the suite, decides what CORS lets
// them read, as it would for the real application. Nothing needs to listen at the
// origin itself.
package webapp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/login"
)

// page is what the application serves at /: an empty document for scripts to run in.
const page = "<!doctype html><meta charset=utf-8><title>myaccount-conformance browser application</title><link rel=icon href=\"data:,\"><p>A page of the browser application.</p>"

// App is a running browser application: its page server and the Chromium that
// opens it.
type App struct {
	// Origin is where the page is, as a browser names it.
	Origin string

	chromium *login.Chromium
	srv      *http.Server
	closed   sync.Once
}

// Start serves the page for origin on loopback and starts Chromium for t with the
// origin's host mapped to it (login.ErrNoChromium when there is no Chromium).
func Start(ctx context.Context, t *config.Target, origin string) (*App, error) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("webapp: %q is not an http(s) origin", origin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webapp: listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(serve), ReadHeaderTimeout: 10 * time.Second}
	var extra login.ChromiumExtra
	if u.Scheme == "https" {
		cert, spki, err := selfSigned(u.Hostname())
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		extra.SPKIs = []string{spki}
	}
	go func() { _ = srv.Serve(ln) }()
	// host:port when the origin names a port, so that only it is mapped.
	pattern := u.Hostname()
	if u.Port() != "" {
		pattern = u.Host
	}
	extra.Rules = []string{"MAP " + pattern + " " + ln.Addr().String()}
	c, err := login.StartChromium(ctx, t, extra)
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	return &App{Origin: u.Scheme + "://" + u.Host, chromium: c, srv: srv}, nil
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(page))
}

// Close stops Chromium and the page server.
func (a *App) Close() error {
	a.closed.Do(func() {
		_ = a.chromium.Close()
		_ = a.srv.Close()
	})
	return nil
}

// Run opens the page in a fresh tab (no cookies, no cache) and evaluates script
// there, an expression whose value, or the value of the promise it gives, is decoded
// into out. It returns what the browser wrote to the console meanwhile (its CORS
// refusals are there) with the error, if any.
func (a *App) Run(ctx context.Context, script string, out any, timeout time.Duration) ([]string, error) {
	tab, cancel := chromedp.NewContext(a.chromium.Ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	timer := time.AfterFunc(timeout, cancel)
	defer timer.Stop()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()

	var (
		mu      sync.Mutex
		console []string
	)
	messages := chromedp.Console(tab) // opens the tab; subscribed before the page loads
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m.String())
			mu.Unlock()
		}
	}()
	err := chromedp.Do(tab, chromedp.Navigate(a.Origin+"/"))
	if err == nil {
		var raw string
		raw, err = chromedp.Run(tab, chromedp.Evaluate[string]("(async () => JSON.stringify(await ("+script+")))()", chromedp.EvalAwaitPromise))
		if err == nil {
			if err = json.Unmarshal([]byte(raw), out); err != nil {
				err = fmt.Errorf("the script's value %.200q: %w", raw, err)
			}
		}
	}
	if err != nil && tab.Err() != nil && errors.Is(tab.Err(), context.Canceled) && ctx.Err() == nil {
		err = fmt.Errorf("%w (gave up after %s)", err, timeout)
	}
	time.Sleep(50 * time.Millisecond) // the last console messages
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), console...), err
}

// selfSigned makes the page's certificate for host and the base64 SHA-256 of its
// SPKI, which Chromium is told to trust.
func selfSigned(host string) (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("webapp: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, base64.StdEncoding.EncodeToString(sum[:]), nil
}
