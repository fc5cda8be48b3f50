package validate

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// BenchmarkCheckPR checks a pull request adding one ticket to repositories
// of growing size: the time must stay flat, since the gate reads only what
// the change touches, plus one tree object per service directory and the
// tickets of the changed ticket's service (for conflicts; cold here: the
// cache of ticket summaries starts empty in every repository).
func BenchmarkCheckPR(b *testing.B) {
	sizes := []int{100, 1000, 10000}
	if testing.Short() {
		sizes = []int{100}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			g := &gitRepo{t: b, dir: b.TempDir()}
			g.init(b)
			files := baseFiles()
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("CHG-2025-%05d", i)
				svc := fmt.Sprintf("svc%03d", i%200)
				if i%200 == 0 {
					svc = "payments" // the service of the new ticket: its conflicts are looked for
				}
				files["changes/"+svc+"/"+id+".cue"] = file(idTicket(id, nil))
			}
			base := g.commit("main", plumbing.ZeroHash, files)
			h := g.commit("pr", base, with(files, map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket))}))
			o := PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(approvedBy("github:1", "github:2"), h), Now: before}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := CheckPR(context.Background(), o)
				if err != nil || rep.Errors() > 0 || len(rep.Tickets) != 1 {
					b.Fatalf("err %v, report %v", err, rep.Diagnostics)
				}
			}
		})
	}
}
