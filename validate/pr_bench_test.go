package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// prBenchRepo makes a repository of n merged tickets in 200 services and a
// pull request "pr" adding one ticket to main.
func prBenchRepo(b *testing.B, n int) (*gitRepo, PROptions) {
	g := &gitRepo{t: b, dir: b.TempDir()}
	g.init(b)
	files := baseFiles()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("CHG-2025-%05d", i)
		svc := fmt.Sprintf("svc%03d", i%200)
		if i%200 == 0 {
			svc = "payments" // the service of the new ticket
		}
		files["changes/"+svc+"/"+id+".cue"] = file(idTicket(id, nil))
	}
	base := g.commit("main", plumbing.ZeroHash, files)
	h := g.commit("pr", base, with(files, map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))}))
	return g, PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(approvedBy("github:1", "github:2"), h), Now: before}
}

func checkPRBench(b *testing.B, o PROptions) {
	rep, err := CheckPR(context.Background(), o)
	if err != nil || rep.Errors() > 0 || len(rep.Tickets) != 1 {
		b.Fatalf("err %v, report %v", err, rep.Diagnostics)
	}
}

// BenchmarkCheckPROneCommit checks a pull request adding one ticket to
// repositories of growing size, each one commit (BenchmarkCheckPR runs on
// real histories): the time must stay flat, since the gate reads only what
// the change touches, plus one tree object per service directory and the
// entries of the index of targets that the new ticket's resources match.
// The index under .git/cab/ is there, as on any runner that checked a pull
// request against this base before (BenchmarkTargetIndexCold measures the
// first one of a clone).
func BenchmarkCheckPROneCommit(b *testing.B) {
	sizes := []int{100, 1000, 10000}
	if testing.Short() {
		sizes = []int{100}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			_, o := prBenchRepo(b, n)
			checkPRBench(b, o)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				checkPRBench(b, o)
			}
		})
	}
}

// BenchmarkTargetIndexCold is the first check of a clone: the index of
// targets is derived from every merged ticket (once; later checks move it
// by the difference between bases).
func BenchmarkTargetIndexCold(b *testing.B) {
	sizes := []int{1000, 10000}
	if testing.Short() {
		sizes = []int{1000}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			g, o := prBenchRepo(b, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := os.RemoveAll(filepath.Join(g.dir, ".git", "cab")); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				checkPRBench(b, o)
			}
		})
	}
}
