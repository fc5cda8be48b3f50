package prof_tmp

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cabhq/cab/validate"
)

func BenchmarkGen(b *testing.B) {
	root := "/tmp/gen10k"
	cfg, _ := os.ReadFile(root + "/cab.cue")
	job := validate.Job{Config: &validate.File{Name: "cab.cue", Source: cfg}, Mode: "local", Now: time.Now()}
	ps, _ := filepath.Glob(root + "/policy/*.cue")
	for _, p := range ps {
		src, _ := os.ReadFile(p)
		job.Policies = append(job.Policies, validate.File{Name: p, Source: src})
	}
	files, _ := filepath.Glob(root + "/changes/*/*.cue")
	var tickets []validate.File
	for _, f := range files[:500] {
		src, _ := os.ReadFile(f)
		rel, _ := filepath.Rel(root, f)
		tickets = append(tickets, validate.File{Name: rel, Source: src})
	}
	var ev *validate.Evaluator
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%250 == 0 {
			var err error
			ev, err = validate.NewEvaluator(job, nil)
			if err != nil {
				b.Fatal(err)
			}
		}
		r := ev.Check(tickets[i%len(tickets)])
		if r.Diags.Errors() > 0 {
			b.Fatal(r.Diags)
		}
	}
}
