package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
)

// The tenant's login session (PROTOCOL §6): Universal Login allows a few prompt
// posts a minute per IP address, so the suite logs each user in once per domain and
// then gets its codes from /authorize with the session's cookies, as a browser
// does, without a prompt. The form driver keeps one cookie jar per user (by
// username); its cookies are host-only, so each domain keeps its own session. In a
// parallel run the jars are files in the run's shared pace directory, locked while
// a worker logs in, so every worker uses the session the first login made.

// Sessions are the login sessions of a client's logins, per user.
type Sessions struct {
	client *harness.Client
	mu     sync.Mutex
	users  map[string]*userSession
}

type userSession struct {
	mu  sync.Mutex // held for a whole login
	jar *cookiejar.Jar
}

var (
	sessionsMu sync.Mutex
	sessionsOf = map[*harness.Client]*Sessions{}
)

// SessionsOf are the sessions of the logins c sends: one store per client, so every
// driver of a run shares them.
func SessionsOf(c *harness.Client) *Sessions {
	sessionsMu.Lock()
	defer sessionsMu.Unlock()
	s := sessionsOf[c]
	if s == nil {
		s = &Sessions{client: c, users: map[string]*userSession{}}
		sessionsOf[c] = s
	}
	return s
}

// Forget drops user's sessions (this process's and the shared file): the next
// login of user shows the prompts.
func (s *Sessions) Forget(user string) {
	s.mu.Lock()
	delete(s.users, user)
	s.mu.Unlock()
	if path := s.file(user); path != "" {
		os.Remove(path)
	}
}

// file is the shared file of user's session; "" outside a parallel run.
func (s *Sessions) file(user string) string {
	dir := ""
	if s.client.Pacer != nil {
		dir = s.client.Pacer.SharedDir()
	}
	if dir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(user))
	return filepath.Join(dir, "session-"+hex.EncodeToString(sum[:8]))
}

// newJar is an empty cookie jar (no public suffix list: the tenant's cookies are
// host-only).
func newJar() *cookiejar.Jar {
	j, _ := cookiejar.New(nil)
	return j
}

// begin starts a login of user with its session: the jar to use and end, which
// keeps what the login left in the jar (for the other workers too) and lets the
// next login of user start. A fresh login (or one without a user) gets a jar of
// its own, kept nowhere.
func (s *Sessions) begin(ctx context.Context, user string, fresh bool) (http.CookieJar, func(), error) {
	if fresh || user == "" {
		return newJar(), func() {}, nil
	}
	s.mu.Lock()
	us := s.users[user]
	if us == nil {
		us = &userSession{jar: newJar()}
		s.users[user] = us
	}
	s.mu.Unlock()
	us.mu.Lock()
	path := s.file(user)
	if path == "" {
		return us.jar, us.mu.Unlock, nil
	}
	f, err := lockFile(ctx, path)
	if err != nil {
		us.mu.Unlock()
		return nil, nil, err
	}
	hosts := s.client.Target.Domains()
	loadJar(f, us.jar)
	return us.jar, func() {
		saveJar(f, us.jar, hosts)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		us.mu.Unlock()
	}, nil
}

// lockFile opens path and locks it: another worker logging the same user in holds
// it until its login is over.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return f, nil
	case <-ctx.Done():
		go func() { // the lock comes eventually: give it back
			if <-done == nil {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			}
			f.Close()
		}()
		return nil, ctx.Err()
	}
}

// savedCookie is a cookie of the shared session file.
type savedCookie struct{ Name, Value string }

// loadJar adds the cookies of the session file f to jar (a worker's own jar may
// hold an older session: the file's is the newest).
func loadJar(f *os.File, jar http.CookieJar) {
	var saved map[string][]savedCookie
	if json.NewDecoder(f).Decode(&saved) != nil {
		return
	}
	for host, cs := range saved {
		u := &url.URL{Scheme: "https", Host: host, Path: "/"}
		var cookies []*http.Cookie
		for _, c := range cs {
			cookies = append(cookies, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", Secure: true})
		}
		jar.SetCookies(u, cookies)
	}
}

// saveJar writes jar's cookies for hosts to f.
func saveJar(f *os.File, jar http.CookieJar, hosts []string) {
	saved := map[string][]savedCookie{}
	for _, h := range hosts {
		h, _, _ = strings.Cut(h, ":")
		for _, c := range jar.Cookies(&url.URL{Scheme: "https", Host: h, Path: "/"}) {
			saved[h] = append(saved[h], savedCookie{c.Name, c.Value})
		}
	}
	data, err := json.Marshal(saved)
	if err != nil {
		return
	}
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt(data, 0)
	}
}

// Cookies are the cookies of user's session that a user agent sends to host.
func (s *Sessions) Cookies(ctx context.Context, user, host string) ([]*http.Cookie, error) {
	jar, end, err := s.begin(ctx, user, false)
	if err != nil {
		return nil, err
	}
	defer end()
	return jar.Cookies(&url.URL{Scheme: "https", Host: host, Path: "/"}), nil
}

// CookieHeader is cookies as a Cookie request header.
func CookieHeader(cookies []*http.Cookie) string { return cookieHeader(cookies) }

func cookieHeader(cs []*http.Cookie) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}
