package main

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkSpecScheduling is what a run costs besides the specs themselves: starting
// the binary and the reference tenant, loading and compiling the descriptions,
// building the spec tree and walking every spec (Ginkgo's dry run, which runs no
// spec body), writing every report. Per run, in one process and in two workers.
func BenchmarkSpecScheduling(b *testing.B) {
	for _, procs := range []string{"1", "2"} {
		b.Run("procs="+procs, func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				out, err := exec.CommandContext(ctx, binary, "run", "--procs", procs, "--no-preflight", "--ginkgo.dry-run", "--report-dir", b.TempDir()).CombinedOutput()
				cancel()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
		})
	}
}
