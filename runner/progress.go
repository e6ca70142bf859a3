package runner

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// progress shows how far a run is. On a terminal it keeps one live line —
// specs done/total, failures so far, the current spec — redrawn in place (Ginkgo's
// dots are drawn over, its failure blocks and summary are left alone). Otherwise
// it writes a plain line at most every plainEvery, so CI logs of a long run against
// a paced tenant show it is alive without drowning the failures.
type progress struct {
	mu        sync.Mutex
	out       io.Writer
	live      bool
	width     int
	every     time.Duration
	total     int
	done      int
	failed    int
	lastPlain time.Time
}

const plainEvery = 15 * time.Second

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newProgress writes to stdout, where Ginkgo writes, so that the two interleave in
// order. live: a terminal, and Ginkgo is not already printing every spec (-v).
func newProgress(verbose bool) *progress {
	p := &progress{out: os.Stdout, live: isTerminal(os.Stdout) && !verbose, every: plainEvery, lastPlain: time.Now()}
	p.width = 100
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 20 {
		p.width = c
	}
	return p
}

// register adds the reporting nodes; call it before RunSpecs.
func (p *progress) register() {
	ReportBeforeSuite(func(r Report) {
		p.mu.Lock()
		p.total = r.PreRunStats.SpecsThatWillRun
		p.mu.Unlock()
	})
	ReportBeforeEach(func(s SpecReport) {
		if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.show(s.FullText())
	})
	ReportAfterEach(func(s SpecReport) {
		if s.LeafNodeType != types.NodeTypeIt || (s.State == types.SpecStateSkipped && s.Failure.Message == "") {
			return // left out by the filters: not counted in SpecsThatWillRun
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.done++
		if s.State.Is(types.SpecStateFailureStates) {
			p.failed++
		}
		if p.live {
			fmt.Fprint(p.out, "\r\033[K") // Ginkgo prints the spec's outcome on a clean line
		}
	})
}

// show draws the live line, or a plain line when one is due.
func (p *progress) show(current string) {
	status := fmt.Sprintf("[%d/%d] %d failed", p.done, p.total, p.failed)
	if p.live {
		line := status + " · " + current
		fmt.Fprint(p.out, "\r\033[K"+truncate(line, p.width-1))
		return
	}
	if time.Since(p.lastPlain) >= p.every {
		p.lastPlain = time.Now()
		fmt.Fprintf(p.out, "\nprogress: %d of %d specs done, %d failed; running: %s\n", p.done, p.total, p.failed, current)
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max(0, n-1)])) + "…"
}
