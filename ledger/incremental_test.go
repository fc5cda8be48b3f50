package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitx"
)

// nextEvent is a legal next event for a ticket in state st (none for a
// ticket set aside).
func nextEvent(rng *rand.Rand, id string, st TicketState) []Event {
	env := []string{"staging", "prod"}[rng.IntN(2)]
	ev := func(kind string) []Event { return []Event{{Ticket: id, Env: env, Kind: kind}} }
	switch {
	case st.Status == StatusSetAside || st.Status == KindUnsigned:
		return nil
	case st.Status == "":
		if rng.IntN(8) == 0 {
			return []Event{{Ticket: id, Kind: KindUnsigned}}
		}
		return []Event{{Ticket: id, Kind: KindSigned}}
	case st.Status != KindSigned:
		return nil
	}
	switch st.Envs[env] {
	case "", KindScheduled:
		if rng.IntN(3) == 0 {
			return ev(KindScheduled)
		}
		return ev(KindApplying)
	case KindApplying:
		return ev(KindApplied)
	case KindApplied:
		if rng.IntN(4) == 0 {
			return ev(KindFailed)
		}
		return ev(KindVerified)
	case KindFailed:
		return ev(KindRolledBack)
	case KindVerified:
		if st.Drifts[env] > 0 {
			return ev(KindDriftCleared)
		}
		return ev(KindDrifted)
	}
	return nil
}

// TestIncrementalReadEqualsFullRead: over random sequences of appends,
// tampering (a stray file, a ticket or shard deleted, junk in ledger/)
// and a migration, a Ledger reading incrementally (only the directories
// whose tree changed) reads exactly what a full read of the same head
// reads.
func TestIncrementalReadEqualsFullRead(t *testing.T) {
	ctx := context.Background()
	ids := make([]string, 24)
	for i := range ids {
		ids[i] = fmt.Sprintf("CHG-2026-%04d", (i*37)%100+(i%3)*100) // some tickets share a shard
	}
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 12))
			repo, err := git.Init(memory.NewStorage(), nil)
			require.NoError(t, err)
			l := Open(repo, "", "")
			l.Now = fixedClock()
			_, err = l.Update(ctx, add(Event{Ticket: ids[0], Kind: KindSigned}))
			require.NoError(t, err)
			if seed%2 == 1 { // start as a layout 1 ledger
				head, err := repo.Reference(l.branchRef(), true)
				require.NoError(t, err)
				require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(l.branchRef(), layout1(t, repo, head.Hash()))))
			}
			var prev *Log
			for step := range 60 {
				var what string
				switch op := rng.IntN(20); {
				case op < 14:
					what = "append"
					_, err := l.Update(ctx, func(log *Log) ([]Event, error) {
						var evs []Event
						used := map[string]bool{}
						for range 1 + rng.IntN(3) {
							if id := ids[rng.IntN(len(ids))]; !used[id] {
								used[id] = true
								evs = append(evs, nextEvent(rng, id, log.State(id))...)
							}
						}
						return evs, nil
					})
					require.NoError(t, err, "step %d", step)
				case op == 14:
					what = "stray file"
					editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
						ls, err := List(StorerObjects(repo.Storer), root.Hash)
						require.NoError(t, err)
						if len(ls.Tickets) == 0 {
							return root.Entries
						}
						td := ls.Tickets[rng.IntN(len(ls.Tickets))]
						bh, err := gitx.StoreBlob(repo.Storer, []byte("x"))
						require.NoError(t, err)
						return setEntry(t, repo, root.Entries, td.Path+"/notes.txt", &object.TreeEntry{Mode: filemode.Regular, Hash: bh})
					})
				case op == 15:
					what = "ticket deleted"
					editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
						ls, err := List(StorerObjects(repo.Storer), root.Hash)
						require.NoError(t, err)
						if len(ls.Tickets) == 0 {
							return root.Entries
						}
						return setEntry(t, repo, root.Entries, ls.Tickets[rng.IntN(len(ls.Tickets))].Path, nil)
					})
				case op == 16:
					what = "junk in ledger/"
					editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
						bh, err := gitx.StoreBlob(repo.Storer, []byte(fmt.Sprint(step)))
						require.NoError(t, err)
						name := []string{"ledger/README", "ledger/" + ids[rng.IntN(len(ids))][11:] + "/junk"}[rng.IntN(2)]
						return setEntry(t, repo, root.Entries, name, &object.TreeEntry{Mode: filemode.Regular, Hash: bh})
					})
				case op == 17:
					what = "junk removed"
					editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
						return setEntry(t, repo, root.Entries, "ledger/README", nil)
					})
				default:
					what = "migrate"
					_, err := l.Migrate(ctx)
					var ce *CorruptError
					if !errorsAs(err, &ce) { // junk named like a shard blocks it
						require.NoError(t, err, "step %d", step)
					}
				}
				inc, err := l.Read(ctx)
				require.NoError(t, err, "step %d (%s)", step, what)
				full, err := ReadAt(repo, inc.Head)
				require.NoError(t, err)
				require.Equal(t, full.Events(), inc.Events(), "step %d (%s): events", step, what)
				require.Equal(t, full.States(), inc.States(), "step %d (%s): states", step, what)
				require.Equal(t, problemTexts(full), problemTexts(inc), "step %d (%s): problems", step, what)
				requireChanged(t, prev, inc, fmt.Sprintf("step %d (%s)", step, what))
				if what == "append" && prev != nil && seed%2 == 0 { // layout 2: read incrementally
					require.LessOrEqual(t, len(inc.Changed(prev)), 3, "step %d: an append of at most 3 tickets", step)
				}
				prev = inc
			}
		})
	}
}

// requireChanged checks that inc.Changed(prev) lists every ticket whose
// events or state differ between the two reads.
func requireChanged(t *testing.T, prev, inc *Log, step string) {
	t.Helper()
	changed := inc.Changed(prev)
	require.True(t, slices.IsSorted(changed), step)
	if prev == nil {
		prev = emptyLog(plumbing.ZeroHash)
	}
	ids := slices.Concat(slices.Collect(maps.Keys(prev.States())), slices.Collect(maps.Keys(inc.States())))
	for _, id := range ids {
		if !reflect.DeepEqual(prev.Ticket(id), inc.Ticket(id)) || !reflect.DeepEqual(prev.State(id), inc.State(id)) {
			require.Contains(t, changed, id, "%s: changed tickets", step)
		}
	}
	if prev.Head == inc.Head {
		require.Empty(t, changed, "%s: the same head", step)
	}
}

func problemTexts(l *Log) map[string][]string {
	out := map[string][]string{}
	for id := range maps.Keys(l.Problems) {
		for _, p := range l.Problems[id] {
			out[id] = append(out[id], p.Error())
		}
	}
	return out
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

// TestGrownTicketDecodesAsFresh: a ticket decoded again from the files it
// had (reusing what the last read decoded and verified) and those added
// reads exactly as decoding it afresh does, whatever was done to the
// files it had: an envelope dropped or swapped, an event rewritten, or
// only an event added.
func TestGrownTicketDecodesAsFresh(t *testing.T) {
	ctx := context.Background()
	rec := newTestKey(t)
	const id = "CHG-2026-0001"
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, repo *git.Repository, l *Ledger, evs []Event)
	}{
		{"appended", func(t *testing.T, repo *git.Repository, l *Ledger, evs []Event) {
			_, err := l.Update(ctx, add(Event{Ticket: id, Env: "staging", Kind: KindVerified}))
			require.NoError(t, err)
		}},
		{"envelope dropped", func(t *testing.T, repo *git.Repository, l *Ledger, evs []Event) {
			editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return setEntry(t, repo, root.Entries, Path(id, "2-applying.dsse"), nil)
			})
		}},
		{"envelope swapped", func(t *testing.T, repo *git.Repository, l *Ledger, evs []Event) {
			editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return addFile(t, repo, root, id, "2-applying.dsse", evs[2].Envelope)
			})
		}},
		{"event rewritten", func(t *testing.T, repo *git.Repository, l *Ledger, evs []Event) {
			forged := evs[2]
			forged.Actor, forged.Envelope = "someone else", nil
			data, err := encodeEvent(&forged)
			require.NoError(t, err)
			editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return addFile(t, repo, root, id, "3-applied.json", data)
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := git.Init(memory.NewStorage(), nil)
			require.NoError(t, err)
			l := Open(repo, "", "")
			l.Now, l.Signer = fixedClock(), rec
			l.SetVerifier(rec)
			log, err := l.Update(ctx, add(
				Event{Ticket: id, Kind: KindSigned},
				Event{Ticket: id, Env: "staging", Kind: KindApplying},
				Event{Ticket: id, Env: "staging", Kind: KindApplied},
			))
			require.NoError(t, err)
			require.Empty(t, log.Problems)
			tc.edit(t, repo, l, log.Ticket(id))

			kept, err := l.Read(ctx) // decodes the ticket from the last read's
			require.NoError(t, err)
			fresh := Open(repo, "", "")
			fresh.SetVerifier(rec)
			want, err := fresh.Read(ctx)
			require.NoError(t, err)
			require.Equal(t, want.Head, kept.Head)
			require.Equal(t, want.Ticket(id), kept.Ticket(id))
			require.Equal(t, want.State(id), kept.State(id))
			require.Equal(t, fmt.Sprint(want.Problems), fmt.Sprint(kept.Problems))
			if tc.name != "appended" {
				require.NotEmpty(t, kept.Problems[id], "the edit is seen")
			}
		})
	}
}
