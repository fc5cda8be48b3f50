package prof_tmp

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cabhq/cab/validate"
)

func BenchmarkEval(b *testing.B) {
	cfg, _ := os.ReadFile("/tmp/perf/cab.cue")
	job := validate.Job{Config: &validate.File{Name: "cab.cue", Source: cfg}, Mode: "local", Now: time.Now()}
	ps, _ := filepath.Glob("/tmp/perf/policy/*.cue")
	for _, p := range ps {
		src, _ := os.ReadFile(p)
		job.Policies = append(job.Policies, validate.File{Name: p, Source: src})
	}
	src, _ := os.ReadFile("/tmp/perf/changes/platform/CHG-2026-0001.cue")
	ev, err := validate.NewEvaluator(job, nil)
	if err != nil {
		b.Fatal(err)
	}
	f := validate.File{Name: "changes/platform/CHG-2026-0001.cue", Source: src}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := ev.Check(f)
		if r.Diags.Errors() > 0 {
			b.Fatal(r.Diags)
		}
	}
}
