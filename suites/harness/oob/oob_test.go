package oob

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/config"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/evidence"
	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

// fakeHooks speaks the hook protocol: one email code, one sms code, push approvals
// and a two-step webauthn seed.
type fakeHooks struct {
	mu       sync.Mutex
	outboxes int
	approved []string
	seeded   map[string]any
}

func (f *fakeHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/__reference/outbox":
		f.outboxes++
		if r.URL.Query().Get("to") == "late@example.com" && f.outboxes < 3 {
			_, _ = io.WriteString(w, `{"messages":[]}`)
			return
		}
		_, _ = io.WriteString(w, `{"messages":[{"channel":"sms","code":"222222"},{"channel":"email","code":"111111"}]}`)
	case "/__reference/push/enroll":
		var b map[string]string
		_ = json.NewDecoder(r.Body).Decode(&b)
		f.approved = append(f.approved, b["barcode_uri"])
		w.WriteHeader(http.StatusNoContent)
	case "/__reference/webauthn/options":
		_, _ = io.WriteString(w, `{"auth_session":"sess","authn_params_public_key":{"challenge":"c"}}`)
	case "/__reference/webauthn":
		_ = json.NewDecoder(r.Body).Decode(&f.seeded)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"webauthn-roaming|dev_1","type":"webauthn-roaming"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestHooks(t *testing.T) {
	f := &fakeHooks{}
	c := harnesstest.Client(t, f)
	c.Target.OutOfBand.URL = "https://" + harnesstest.Host + "/__reference/"
	src := New(c.Target, c)
	h, ok := src.(*Hooks)
	if !ok || h.Base != "https://example.com/__reference" {
		t.Fatalf("source %#v", src)
	}
	h.Polls, h.Every = 3, time.Millisecond
	ctx := context.Background()
	for _, tc := range []struct{ channel, to, want string }{
		{Email, "late@example.com", "111111"}, {Email, "a@example.com", "111111"}, {SMS, "+15550100", "222222"},
	} {
		if got, err := src.Code(ctx, tc.channel, tc.to); err != nil || got != tc.want {
			t.Errorf("Code(%s, %s) = %q, %v", tc.channel, tc.to, got, err)
		}
	}
	if _, err := src.Code(ctx, Voice, "a@example.com"); err == nil {
		t.Error("a code by voice was found in an outbox without one")
	}
	if err := src.ApprovePush(ctx, "otpauth://x"); err != nil || len(f.approved) != 1 || f.approved[0] != "otpauth://x" {
		t.Errorf("approve: %v %v", err, f.approved)
	}
	var gotOptions string
	m, err := src.SeedWebAuthn(ctx, "auth0|1", "webauthn-roaming", func(o []byte) ([]byte, error) {
		gotOptions = string(o)
		return []byte(`{"id":"cred"}`), nil
	})
	if err != nil || m["id"] != "webauthn-roaming|dev_1" || gotOptions != `{"challenge":"c"}` ||
		f.seeded["auth_session"] != "sess" || f.seeded["user_id"] != "auth0|1" || f.seeded["type"] != "webauthn-roaming" {
		t.Errorf("seed: %v %v %q %v", m, err, gotOptions, f.seeded)
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "oob.sh")
	log := filepath.Join(dir, "log")
	body := "#!/bin/sh\necho \"$@\" >> " + log + "\nif [ \"$1\" = code ]; then echo; echo '  654321  '; fi\nif [ \"$1\" = fail ]; then echo boom >&2; exit 3; fi\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	tg := &config.Target{OutOfBand: config.OutOfBand{URL: "https://ignored", Command: []string{script, "{action}", "{channel}", "{address}", "{barcode_uri}"}}}
	c := &harness.Client{Redactor: evidence.NewRedactor()}
	src := New(tg, c)
	ctx := context.Background()
	if got, err := src.Code(ctx, SMS, "+15550100"); err != nil || got != "654321" {
		t.Errorf("code %q, %v", got, err)
	}
	if c.Redactor.Text("code 654321") != "code $OTP_CODE" {
		t.Error("the code was not given to the redactor")
	}
	if err := src.ApprovePush(ctx, "otpauth://totp/x?secret=S"); err != nil {
		t.Error(err)
	}
	if _, err := src.SeedWebAuthn(ctx, "u", "webauthn-roaming", nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("seed through a command: %v", err)
	}
	data, _ := os.ReadFile(log)
	if want := "code sms +15550100 \npush-approve   otpauth://totp/x?secret=S\n"; string(data) != want {
		t.Errorf("argv:\n%q\nwant\n%q", data, want)
	}
	bad := &Command{Argv: []string{script, "fail"}, Timeout: commandTimeout}
	if _, err := bad.Code(ctx, SMS, "x"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a failing command: %v", err)
	}
	if New(&config.Target{}, c) != nil {
		t.Error("a source without url or command")
	}
}
