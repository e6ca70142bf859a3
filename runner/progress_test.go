package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLiveLineFitsTheTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{out: &b, live: true, width: 40, total: 30, done: 12, failed: 1}
	p.show("Passkey enrollment through the My Account API answers 202 with a Location")
	got := b.String()
	if !strings.HasPrefix(got, "\r\033[K[12/30] 1 failed · Passkey") || !strings.HasSuffix(got, "…") {
		t.Errorf("live line %q", got)
	}
	if n := len([]rune(strings.TrimPrefix(got, "\r\033[K"))); n > 39 {
		t.Errorf("live line is %d runes, wider than the terminal", n)
	}
}

func TestProgressPlainLinesAreRareAndPlain(t *testing.T) {
	var b bytes.Buffer
	p := &progress{out: &b, every: time.Hour, lastPlain: time.Now(), total: 3}
	p.show("a spec")
	if b.Len() != 0 {
		t.Errorf("a plain line before it was due: %q", b.String())
	}
	p.lastPlain = time.Now().Add(-2 * time.Hour)
	p.show("a spec")
	if got := b.String(); got != "\nprogress: 0 of 3 specs done, 0 failed; running: a spec\n" {
		t.Errorf("plain line %q", got)
	}
}

// Not on a terminal (as under CI) the output carries no control sequences.
func TestRunOutputIsPlainWhenNotATerminal(t *testing.T) {
	_, stdout, stderr := runCmd(t, "run", "--label-filter", "MA-AUTHZ-003", "--report-dir", t.TempDir())
	if strings.ContainsAny(stdout+stderr, "\r\033") {
		t.Errorf("control characters in non-terminal output:\n%q", stdout)
	}
}
