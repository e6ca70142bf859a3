package myaccount

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

// fakeAPI creates methods on verify, deletes them, and logs every request.
type fakeAPI struct {
	mu  sync.Mutex
	log []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Authorization")+" "+string(body))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/verify"):
		id := strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/verify"), "/me/v1/authentication-methods/")
		id = strings.Replace(id, "new", "dev_"+string(body[len(body)-3:len(body)-2]), 1)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"`+id+`"}`)
	case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "gone"):
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		_, _ = io.WriteString(w, `{}`)
	}
}

func TestClientFillsTracksAndCleansUpNewestFirst(t *testing.T) {
	api := &fakeAPI{}
	h := harnesstest.Client(t, api)
	s := harness.NewSession(harnesstest.Host, harness.Tokens{AccessToken: "tok-1", TokenType: "Bearer"}, nil)
	c := New(h, harnesstest.Host, s)
	ctx := context.Background()
	for _, n := range []string{"1", "2"} {
		if _, err := c.Verify(ctx, "https://example.com/me/v1/authentication-methods/passkey%7Cnew", map[string]string{"k": n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Verify(ctx, "", nil); err != ErrNoLocation {
		t.Errorf("verify without Location: %v", err)
	}
	if got := c.Created(); len(got) != 2 || got[0].ID != "passkey|dev_1" || got[1].ID != "passkey|dev_2" {
		t.Fatalf("created %v", got)
	}
	c.Track(KindMethod, "totp|gone")
	if _, err := c.Methods(ctx, "passkey"); err != nil {
		t.Fatal(err)
	}
	if left := c.Cleanup(ctx); len(left) != 0 || len(c.Created()) != 0 {
		t.Fatalf("cleanup left %v, created %v", left, c.Created())
	}
	want := []string{
		"POST /me/v1/authentication-methods/passkey%7Cnew/verify Bearer tok-1 {\"k\":\"1\"}",
		"POST /me/v1/authentication-methods/passkey%7Cnew/verify Bearer tok-1 {\"k\":\"2\"}",
		"GET /me/v1/authentication-methods Bearer tok-1 ",
		"DELETE /me/v1/authentication-methods/totp%7Cgone Bearer tok-1 ",
		"DELETE /me/v1/authentication-methods/passkey%7Cdev_2 Bearer tok-1 ",
		"DELETE /me/v1/authentication-methods/passkey%7Cdev_1 Bearer tok-1 ",
	}
	var got []string
	for _, l := range api.log {
		if !strings.HasPrefix(l, "GET /.well-known") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRequestVariants(t *testing.T) {
	c := New(nil, "h.example", harness.NewSession("h.example", harness.Tokens{AccessToken: "t"}, nil))
	r, err := c.Request(GetMethod, Call{Path: map[string]string{"authentication_method_id": "email|dev 1"}, NoAuth: true})
	if err != nil || r.URL != "https://h.example/me/v1/authentication-methods/email%7Cdev%201" || r.Session != nil || r.Bearer != "" {
		t.Errorf("request %+v, %v", r, err)
	}
	if _, err := c.Request(GetMethod, Call{}); err == nil {
		t.Error("a missing path parameter went unnoticed")
	}
	r, _ = c.Request(StartEnrollment, Call{Raw: []byte("x"), ContentType: "text/plain", Bearer: "other"})
	if string(r.Body) != "x" || r.Header.Get("Content-Type") != "text/plain" || r.Bearer != "other" || r.Method != "POST" {
		t.Errorf("raw request %+v", r)
	}
}
