package reconcile_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile"
)

// BenchmarkReconcile1000 measures a whole pass of the reconciler over
// 1,000 signed tickets, each promoting an image (an oci apply with read
// back) in one environment of an in-process registry, with every step
// recorded on a ledger pushed to a real git remote. It reports
// ticket-environments per second, and the CPU time (user and system) per
// ticket-environment. CAB_BENCH_TICKETS sets the number of tickets;
// -short runs 50.
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
			specs[i] = spec{id: fmt.Sprintf("CHG-2026-%05d", i+1), image: img, envs: []string{"staging"}}
		}
		f.signLookalikes(f.merge(specs...), specs)
		o := f.options(f.clone())
		b.StartTimer()
		start := time.Now()
		c0 := cpuTime(b)
		sum, err := reconcile.Run(context.Background(), o)
		cpu := cpuTime(b) - c0
		elapsed := time.Since(start)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, n, sum.Count("verified"))
		b.ReportMetric(float64(n)/elapsed.Seconds(), "ticket-envs/s")
		b.ReportMetric(cpu.Seconds()*1000/float64(n), "cpu-ms/ticket-env")
	}
}

// BenchmarkReconcileInFlight measures a pass with 10 tickets in flight
// (each promoted to staging: verify, evaluate, claim, apply with read
// back, verify, three signed events pushed to the remote) over a ledger
// that already holds `ledger` tickets verified in staging (signed,
// applying, applied, verified: 4 events each). The pass should cost the
// same whatever the ledger's size (issue 12: within 20% from 1,000 to
// 100,000 tickets). "warm" is a Reconciler kept between passes (cab
// serve), reading only what the ledger added; "cold" a new one per pass
// (cab reconcile), which reads the whole ledger once. CAB_BENCH_LEDGER
// sets the size (default 1000: building a 10,000-ticket ledger takes over
// ten minutes, bench/scale.sh asks for it; -short 100).
func BenchmarkReconcileInFlight(b *testing.B) {
	sizes := []int{1000}
	if v, err := strconv.Atoi(os.Getenv("CAB_BENCH_LEDGER")); err == nil {
		sizes = []int{v}
	}
	if testing.Short() {
		sizes = []int{100}
	}
	const inFlight = 10
	ctx := context.Background()
	for _, size := range sizes {
		// One fixture per size, built against this benchmark: a
		// sub-benchmark's function runs twice (b.N = 1, then b.N) and
		// cleans up after each run. Cold passes follow the warm ones on
		// the same ledger and checkout.
		start := time.Now()
		phase := func(what string) {
			fmt.Fprintf(os.Stderr, "ledger=%d: %s at %s\n", size, what, time.Since(start).Round(100*time.Millisecond))
		}
		// The tickets done are spread over 200 services, as bench/synth
		// spreads its tickets (at 100,000, 500 a directory): a merge of the
		// tickets in flight rewrites their service's directory, not one of
		// the whole ledger's size.
		var services strings.Builder
		for k := range doneServices {
			fmt.Fprintf(&services, "services: %q: approvers: \"payments\"\n", doneService(k))
		}
		f := newFixture(b, services.String(), nil)
		img := f.reg.push(b, "build/payments")
		done := make([]spec, size)
		for i := range done {
			done[i] = spec{id: fmt.Sprintf("CHG-2025-%06d", i+1), image: img, envs: []string{"staging"}, service: doneService(i % doneServices)}
		}
		merged := f.merge(done...)
		phase("merged")
		f.signedVerified(merged, done, "staging")
		phase("ledger written")
		o := f.options(f.clone())
		o.MainRemote = "origin"
		phase("cloned")
		next := 0
		var kept *reconcile.Reconciler
		for _, mode := range []string{"warm", "cold"} {
			b.Run(fmt.Sprintf("ledger=%d/%s", size, mode), func(b *testing.B) {
				if mode == "warm" && kept == nil {
					var err error
					kept, err = reconcile.New(o)
					require.NoError(b, err)
					_, err = kept.Pass(ctx) // reads the ledger; nothing in flight
					require.NoError(b, err)
					fmt.Fprintf(os.Stderr, "ledger=%d: first pass of the kept reconciler done\n", size)
				}
				var cpu, children time.Duration
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					specs := make([]spec, inFlight)
					for i := range specs {
						next++
						specs[i] = spec{id: fmt.Sprintf("CHG-2026-%05d", next), image: img, envs: []string{"staging"}}
					}
					f.signAll(f.merge(specs...), specs)
					r := kept
					if mode == "cold" {
						var err error
						r, err = reconcile.New(o)
						require.NoError(b, err)
					}
					stop := profilePass(b, fmt.Sprintf("ledger=%d-%s", size, mode))
					b.StartTimer()
					c0, k0 := cpuTimes(b)
					sum, err := r.Pass(ctx)
					c1, k1 := cpuTimes(b)
					cpu, children = cpu+c1-c0, children+k1-k0
					b.StopTimer()
					stop()
					if mode == "cold" {
						require.NoError(b, r.Close())
					}
					require.NoError(b, err)
					require.Equal(b, inFlight, sum.Count("verified"), "%v", sum.Problems)
					require.Equal(b, size+next, sum.States["verified"])
				}
				b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/pass")
				b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/pass")
				b.ReportMetric(children.Seconds()*1000/float64(b.N), "children-cpu-ms/pass")
			})
		}
	}
}

// doneServices is how many services the tickets already done belong to.
const doneServices = 200

func doneService(k int) string { return fmt.Sprintf("svc-%03d", k) }

// profilePass starts a CPU profile of one timed pass when
// CAB_BENCH_PASSPROFILE names a directory (go test's -cpuprofile would
// also profile building the fixture, which dominates at 100,000 tickets);
// the returned function stops it. Merge the files with go tool pprof.
func profilePass(b *testing.B, name string) func() {
	dir := os.Getenv("CAB_BENCH_PASSPROFILE")
	if dir == "" {
		return func() {}
	}
	require.NoError(b, os.MkdirAll(dir, 0o755))
	out, err := os.CreateTemp(dir, name+"-*.pprof")
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(out))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, out.Close())
	}
}

// cpuTime is the CPU time (user and system) the process has used: the
// machine is shared, so wall time alone says little.
func cpuTime(b *testing.B) time.Duration {
	self, _ := cpuTimes(b)
	return self
}

// cpuTimes is cpuTime and the CPU time of the children waited for: the
// sandboxed evaluation children, and the git processes of the fixture's
// remote (upload-pack and receive-pack, the work a forge does for a
// fetch or a push).
func cpuTimes(b *testing.B) (self, children time.Duration) {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru))
	return self, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
