package validate

import (
	"context"
	"flag"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cabhq/cab/bench/synth"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/policy"
)

// Benchmarks of the hot paths of `cab check` on synthetic repositories
// (bench/synth). `make bench` runs them with -benchmem; `make test` runs
// each once (-benchtime 1x), so the inputs stay small then.

// quick reports whether the benchmarks run for a smoke test only (-short
// or -benchtime 1x).
func quick() bool {
	if testing.Short() {
		return true
	}
	f := flag.Lookup("test.benchtime")
	return f != nil && f.Value.String() == "1x"
}

// benchRepo generates a repository with the services and config of the
// default benchmark repository (200 services) and n tickets.
func benchRepo(b *testing.B, n, services int) *synth.Repo {
	b.Helper()
	r, err := synth.New(synth.Options{Seed: 1, Tickets: n, Services: services})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func jobOf(r *synth.Repo, now time.Time) (Job, []File) {
	job := Job{Mode: policy.Local, Now: now, Config: &File{Name: r.Config.Path, Source: r.Config.Source}}
	for _, p := range r.Policies {
		job.Policies = append(job.Policies, File{Name: p.Path, Source: p.Source})
	}
	files := make([]File, len(r.Tickets))
	for i, t := range r.Tickets {
		files[i] = File{Name: t.Path, Source: t.Source}
	}
	return job, files
}

func requireClean(b *testing.B, name string, ds diag.List) {
	b.Helper()
	if ds.Errors() > 0 {
		b.Fatalf("%s: %d error(s), want 0; first: %s", name, ds.Errors(), ds[0].Message)
	}
}

// BenchmarkCheck is the whole `cab check` path on a 10-ticket repository
// (3 services): listing files, the sandboxed child (re-exec of the test
// binary), schema, config, policies and the repository-wide checks. One op
// is one check of the repository.
func BenchmarkCheck(b *testing.B) {
	r := benchRepo(b, 10, 0)
	dir := b.TempDir()
	if err := r.WriteTree(dir); err != nil {
		b.Fatal(err)
	}
	b.Chdir(dir) // `cab check` in the repository, as users run it
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := CheckPaths(ctx, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Tickets) != 10 {
			b.Fatalf("checked %d tickets, want 10", len(rep.Tickets))
		}
		requireClean(b, "check", rep.Diagnostics)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/ticket")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "child-peak-MiB")
	}
}

// BenchmarkEvaluateOne is the CUE work on one ticket in process, after the
// schema, cab.cue (200 services) and policies are compiled: parse, unify
// with #Ticket, export, and every policy. One op is one ticket.
func BenchmarkEvaluateOne(b *testing.B) {
	r := benchRepo(b, 200, 200)
	job, files := jobOf(r, time.Now())
	newEval := func() *Evaluator {
		ev, err := NewEvaluator(job, nil)
		if err != nil {
			b.Fatal(err)
		}
		requireClean(b, "setup", ev.Setup)
		return ev
	}
	ev := newEval()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// Recycle the context as the child does: contexts only grow.
		if i > 0 && i%recycleEvery == 0 {
			b.StopTimer()
			ev = newEval()
			b.StartTimer()
		}
		res := ev.Check(files[i%len(files)])
		requireClean(b, files[i%len(files)].Name, res.Diags)
		i++
	}
}

// BenchmarkEvaluate1000 is the body of the sandboxed child on 1,000
// tickets (100 under -short or -benchtime 1x), in process, with
// GOMAXPROCS workers: evaluator setup per worker included. One op is the
// whole batch; ns/ticket divides by the tickets.
func BenchmarkEvaluate1000(b *testing.B) {
	n := 1000
	if quick() {
		n = 100
	}
	r := benchRepo(b, n, 200)
	job, files := jobOf(r, time.Now())
	req := request{Job: job, Tickets: files, Workers: runtime.GOMAXPROCS(0)}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var bad atomic.Int64
		err := evaluate(req, func(ev event) { // called by every worker
			switch {
			case ev.Kind == "setup":
				bad.Add(int64(ev.Setup.Errors()))
			case ev.Kind == "done":
				bad.Add(int64(ev.Result.Diags.Errors()))
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		if n := bad.Load(); n > 0 {
			b.Fatalf("%d error(s) in a batch of valid tickets, want 0", n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/ticket")
}

// BenchmarkEvaluateOneInContext is BenchmarkEvaluateOne with every ticket
// in a context of its own time, as cab sign judges merges in a shared
// child (see CheckPRs): each ticket binds the policies' shared input
// again. The difference to BenchmarkEvaluateOne is the cost of sharing.
func BenchmarkEvaluateOneInContext(b *testing.B) {
	r := benchRepo(b, 200, 200)
	now := time.Now()
	job, files := jobOf(r, now)
	newEval := func() *Evaluator {
		ev, err := NewEvaluator(job, nil)
		if err != nil {
			b.Fatal(err)
		}
		requireClean(b, "setup", ev.Setup)
		return ev
	}
	ev := newEval()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i > 0 && i%recycleEvery == 0 {
			b.StopTimer()
			ev = newEval()
			b.StartTimer()
		}
		c := contextOf(job)
		c.Now = now.Add(time.Duration(i+1) * time.Second)
		res, err := ev.CheckIn(files[i%len(files)], c)
		if err != nil {
			b.Fatal(err)
		}
		requireClean(b, files[i%len(files)].Name, res.Diags)
		i++
	}
}
