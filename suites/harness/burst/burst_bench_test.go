package burst

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/myaccount-conformance/myaccount-conformance/suites/harness/harnesstest"
)

// BenchmarkPacer measures how precisely a burst keeps its rate on loopback against
// a server that answers at once: each iteration sends 2 s worth of requests. Metrics:
// rate-err-% (|achieved − requested| / requested), the send jitter p99 and max (how
// far the gaps between sends strayed from 1/rate), and the answer latency p99.
// `make bench` runs it.
func BenchmarkPacer(b *testing.B) {
	for _, rps := range []float64{25, 100, 500} {
		b.Run(fmt.Sprintf("%grps", rps), func(b *testing.B) {
			c := harnesstest.Client(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"factors":[]}`))
			}))
			n := int(2 * rps)
			var rateErr, p99, worst, lat99 float64
			iters := 0
			for b.Loop() {
				res, err := Send(context.Background(), c, Spec{Name: "bench", Rate: rps, Count: n, Request: meFactors})
				if err != nil {
					b.Fatal(err)
				}
				if st := res.Statuses(); st[200] != n {
					b.Fatalf("statuses %v", st)
				}
				iters++
				rateErr += math.Abs(res.Achieved-rps) / rps * 100
				p99 += float64(res.JitterP99) / float64(time.Microsecond)
				worst = math.Max(worst, float64(res.JitterMax)/float64(time.Microsecond))
				lat99 += float64(res.LatencyP99) / float64(time.Microsecond)
			}
			k := float64(iters)
			b.ReportMetric(rateErr/k, "rate-err-%")
			b.ReportMetric(p99/k, "jitter-p99-µs")
			b.ReportMetric(worst, "jitter-max-µs")
			b.ReportMetric(lat99/k, "latency-p99-µs")
			b.ReportMetric(0, "ns/op") // an iteration is 2 s by design
		})
	}
}
