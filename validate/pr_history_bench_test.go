package validate

import (
	"context"
	"fmt"
	"net/mail"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/bench/synth"
	"github.com/cabhq/cab/forge"
)

// historyRepo returns a repository of bench/synth with tickets tickets
// and commits commits, generated once and cached under bench/.repos (the
// directory bench/gen and bench/run.sh use), and the check of its last
// merge as the pull request it was: base the merge's first parent, head
// the merge, with the approvals of its Approved-by: trailers as review
// evidence, judged at the time of the merge.
func historyRepo(b *testing.B, tickets, commits int) PROptions {
	b.Helper()
	dir := filepath.Join("..", "bench", ".repos", fmt.Sprintf("t%d-c%d-s1", tickets, commits))
	if _, err := synth.Generate(context.Background(), dir, synth.Options{Seed: 1, Tickets: tickets, Commits: commits}); err != nil {
		b.Fatal(err)
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		b.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		b.Fatal(err)
	}
	merge, err := repo.CommitObject(ref.Hash())
	if err != nil {
		b.Fatal(err)
	}
	if merge.NumParents() != 2 {
		b.Fatalf("main %s is not a merge", merge.Hash)
	}
	prHead, err := merge.Parent(1)
	if err != nil {
		b.Fatal(err)
	}
	ev := &forge.Evidence{Forge: "github", HeadSHA: prHead.Hash.String(), MergeCommit: merge.Hash.String(),
		Author: githubID(b, prHead.Author.Email), Labels: []string{}}
	ev.Pushers = []string{ev.Author}
	for _, line := range strings.Split(merge.Message, "\n") {
		v, ok := strings.CutPrefix(line, "Approved-by: ")
		if !ok {
			continue
		}
		a, err := mail.ParseAddress(v)
		if err != nil {
			b.Fatal(err)
		}
		ev.Approvals = append(ev.Approvals, forge.Approval{ID: githubID(b, a.Address), Commit: prHead.Hash.String(), At: merge.Committer.When.UTC().Format(time.RFC3339)})
	}
	return PROptions{Dir: dir, Base: merge.ParentHashes[0].String(), Head: merge.Hash.String(), Evidence: ev, Now: merge.Committer.When}
}

// cpuTimes returns the user and system CPU time of this process and of
// its children that ended (the evaluation children).
func cpuTimes(b *testing.B) (self, children time.Duration) {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return self, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// githubID reads "github:<id>" from a GitHub noreply address
// ("<id>+<login>@users.noreply.github.com"), as synth writes them.
func githubID(b *testing.B, email string) string {
	id, _, ok := strings.Cut(email, "+")
	if !ok {
		b.Fatalf("%q is not a GitHub noreply address", email)
	}
	return "github:" + id
}

// BenchmarkCheckPR checks the last pull request merged into
// repositories of growing history (100 tickets / 1k commits, 1k / 10k,
// 10k / 100k, and 1k / 100k; bench/synth, cached under bench/.repos): the gate must cost
// what the change touches, flat in the history below it. The index of
// targets under .git/cab/ is there, as on a runner that checked a pull
// request against this base before. -short runs the smallest only.
// Besides the wall time it reports the CPU time per check, the gate's
// own (gate-cpu-ms/op) and with its evaluation child's (cpu-ms/op): on a
// shared machine, the figures to compare.
func BenchmarkCheckPR(b *testing.B) {
	// 1k tickets / 100k commits has the rules (services, people, so the
	// size of cab.cue) of 1k / 10k and ten times its history: the two
	// differ by the history alone.
	sizes := [][2]int{{100, 1000}, {1000, 10000}, {10000, 100000}, {1000, 100000}}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, s := range sizes {
		b.Run(fmt.Sprintf("tickets=%d/commits=%d", s[0], s[1]), func(b *testing.B) {
			o := historyRepo(b, s[0], s[1])
			check := func() {
				rep, err := CheckPR(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				if len(rep.Tickets) == 0 || rep.Errors() > 0 {
					b.Fatalf("the last merge must pass the gate: %d ticket(s), %v", len(rep.Tickets), rep.Diagnostics)
				}
				for _, t := range rep.Tickets {
					if len(t.JSON) == 0 {
						b.Fatalf("%s was not judged: %v", t.File, t.Diags)
					}
				}
			}
			check()
			self, children := cpuTimes(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				check()
			}
			b.StopTimer()
			self2, children2 := cpuTimes(b)
			gate := (self2 - self).Seconds() * 1000 / float64(b.N)
			b.ReportMetric(gate, "gate-cpu-ms/op")
			b.ReportMetric(gate+(children2-children).Seconds()*1000/float64(b.N), "cpu-ms/op")
		})
	}
}
