package runner

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkSpecScheduling is what a run costs besides the specs themselves: starting
// the binary and the reference tenant, loading and compiling the descriptions,
// building the spec tree, dealing out and walking every spec, writing every report.
// dry-run walks every spec without running one (Ginkgo does that in one process);
// one-spec runs a single short spec in one process and in two workers, which adds
// the workers' start and Ginkgo's parallel server.
func BenchmarkSpecScheduling(b *testing.B) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"dry-run", []string{"--ginkgo.dry-run"}},
		{"one-spec/procs=1", []string{"--procs", "1", "--label-filter", "MA-API-002"}},
		{"one-spec/procs=2", []string{"--procs", "2", "--label-filter", "MA-API-002"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				args := append([]string{"run", "--no-preflight", "--report-dir", b.TempDir()}, c.args...)
				out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
				cancel()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
		})
	}
}
