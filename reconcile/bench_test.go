package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile"
)

// BenchmarkReconcile1000 measures a whole pass of the reconciler over
// 1,000 signed tickets, each promoting an image (an oci apply with read
// back) in one environment of an in-process registry, with every step
// recorded on a ledger pushed to a real git remote. It reports
// ticket-environments per second. -short runs 50 tickets.
func BenchmarkReconcile1000(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CAB_BENCH_TICKETS")); err == nil {
		n = v
	}
	if testing.Short() {
		n = 50
	}
	for range b.N {
		b.StopTimer()
		f := newFixture(b, "", nil)
		img := f.reg.push(b, "build/payments")
		specs := make([]spec, n)
		for i := range specs {
			specs[i] = spec{id: fmt.Sprintf("CHG-2026-%04d", i+1), image: img, envs: []string{"staging"}}
		}
		f.signAll(f.merge(specs...), specs)
		o := f.options(f.clone())
		b.StartTimer()
		start := time.Now()
		sum, err := reconcile.Run(context.Background(), o)
		elapsed := time.Since(start)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, n, sum.Count("verified"))
		b.ReportMetric(float64(n)/elapsed.Seconds(), "ticket-envs/s")
	}
}
