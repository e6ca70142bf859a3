package webapp

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

// A page at an origin the API allows reads the answer and its exposed Location; a
// page at another origin is refused by Chromium itself, which says why on the console.
func TestChromiumJudgesCORS(t *testing.T) {
	harnesstest.Chromium(t)
	const allowed = "https://app.example.test"
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o == allowed {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Headers", "Authorization")
			w.Header().Set("Access-Control-Expose-Headers", "Location")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Location", "/there")
		w.WriteHeader(http.StatusAccepted)
	})
	target := harnesstest.Target(t, api)
	script := `fetch("https://` + harnesstest.Host + `/x", {method: "POST", headers: {Authorization: "Bearer t"}})
  .then((r) => ({status: r.status, location: r.headers.get("Location") || ""}), (e) => ({error: String(e)}))`
	type result struct {
		Status   int    `json:"status"`
		Location string `json:"location"`
		Error    string `json:"error"`
	}
	for _, c := range []struct {
		origin string
		want   result
	}{
		{allowed, result{Status: http.StatusAccepted, Location: "/there"}},
		{"https://other.example.test:8443", result{Error: "TypeError: Failed to fetch"}},
	} {
		app, err := Start(context.Background(), target, c.origin)
		if err != nil {
			t.Fatal(err)
		}
		var got result
		console, err := app.Run(context.Background(), script, &got, 20*time.Second)
		_ = app.Close()
		if err != nil || got != c.want {
			t.Errorf("%s: %+v (%v), want %+v; console: %q", c.origin, got, err, c.want, console)
		}
		if c.want.Error != "" && !strings.Contains(strings.Join(console, "\n"), "CORS") {
			t.Errorf("%s: the console does not say CORS: %q", c.origin, console)
		}
	}
}
