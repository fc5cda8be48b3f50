package ledger

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/require"
)

// benchLedger is a ledger of n signed tickets, one commit each, in
// layout 2 (in memory: the benchmarks measure the ledger, not the disk).
func benchLedger(b *testing.B, n int) (*git.Repository, plumbing.Hash) {
	b.Helper()
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(b, err)
	l := Open(repo, "", "")
	l.Now = fixedClock()
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Ticket: fmt.Sprintf("CHG-2026-%06d", i), Kind: KindSigned}
	}
	log, err := l.Update(context.Background(), add(evs...))
	require.NoError(b, err)
	return repo, log.Head
}

// flatten replaces the ledger at head by one root commit holding its
// tickets in layout 1 (the tree every layout 1 append rewrites).
func flatten(b *testing.B, repo *git.Repository, head plumbing.Hash) plumbing.Hash {
	c, err := repo.CommitObject(head)
	require.NoError(b, err)
	ls, err := List(StorerObjects(repo.Storer), c.TreeHash)
	require.NoError(b, err)
	var entries []object.TreeEntry
	for _, td := range ls.Tickets {
		entries = append(entries, object.TreeEntry{Name: td.ID, Mode: filemode.Dir, Hash: td.Tree})
	}
	lh, err := storeSorted(repo.Storer, entries)
	require.NoError(b, err)
	root, err := storeSorted(repo.Storer, []object.TreeEntry{{Name: dir, Mode: filemode.Dir, Hash: lh}})
	require.NoError(b, err)
	h, err := storeObject(repo.Storer, &object.Commit{Author: c.Author, Committer: c.Committer, Message: c.Message, TreeHash: root})
	require.NoError(b, err)
	return h
}

// BenchmarkUpdate appends one event per operation (a read of what
// changed, the append, the re-read) to a ledger of 1,000 and 10,000
// tickets: in layout 2 the cost stays flat; layout 1 is shown beside it.
func BenchmarkUpdate(b *testing.B) {
	for _, layout := range []int{2, 1} {
		for _, n := range []int{1_000, 10_000} {
			b.Run(fmt.Sprintf("layout=%d/tickets=%d", layout, n), func(b *testing.B) {
				if testing.Short() && n > 1_000 {
					b.Skip("-short: the small ledger only")
				}
				repo, head := benchLedger(b, n)
				if layout == 1 {
					head = flatten(b, repo, head)
				}
				require.NoError(b, repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(DefaultBranch), head)))
				l := Open(repo, "", "")
				l.Now = fixedClock()
				ctx := context.Background()
				_, err := l.Read(ctx)
				require.NoError(b, err)
				i := 0
				for b.Loop() {
					id := fmt.Sprintf("CHG-2026-%06d", (i*7919)%n)
					i++
					if _, err := l.Update(ctx, add(Event{Ticket: id, Env: "prod", Kind: KindScheduled})); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAppendOnly checks the whole history of a ledger of 1,000 and
// 10,000 events (one commit each): in layout 2 the cost per commit stays
// flat (linear in the commits); layout 1 (1,000 and 2,000 commits) grows
// with the tickets (quadratic).
func BenchmarkAppendOnly(b *testing.B) {
	for _, tc := range []struct{ layout, n int }{{2, 1_000}, {2, 10_000}, {1, 1_000}, {1, 2_000}} {
		b.Run(fmt.Sprintf("layout=%d/commits=%d", tc.layout, tc.n), func(b *testing.B) {
			if testing.Short() && tc.n > 1_000 {
				b.Skip("-short: the small ledger only")
			}
			repo, head := benchLedger(b, tc.n)
			if tc.layout == 1 {
				head = layout1(b, repo, head)
			}
			for b.Loop() {
				if err := AppendOnly(context.Background(), repo, head, plumbing.ZeroHash); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.n), "ns/commit")
		})
	}
}
