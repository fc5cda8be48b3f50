package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitobj"
	"github.com/cabhq/cab/validate"
)

// randomHistory writes a main line of n commits mixing merges, squash
// merges and direct pushes that add, edit, delete, rename and move
// tickets, nest them, and add files that are not tickets.
func randomHistory(t *testing.T, seed uint64, n int) *history {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := newHistory(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.root(at, map[string]string{"cab.cue": "x"})
	next := 1
	var live []string
	services := []string{"a", "b", "c"}
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rng.IntN(48)+1) * time.Hour)
		files := map[string]string{}
		for range rng.IntN(3) + 1 {
			switch op := rng.IntN(10); {
			case op < 5 || len(live) == 0: // add a ticket
				id := fmt.Sprintf("CHG-2026-%04d", next)
				next++
				p := ticketFile(id, services[rng.IntN(len(services))])
				if rng.IntN(8) == 0 {
					p = "changes/" + services[rng.IntN(len(services))] + "/nested/" + id + ".cue"
				}
				files[p] = ticketSource(id, "T"+id, "normal", "low", "a", "staging")
				live = append(live, p)
			case op < 7: // edit
				p := live[rng.IntN(len(live))]
				files[p] = h.main[p] + "// edited\n"
			case op < 8: // delete
				k := rng.IntN(len(live))
				files[live[k]] = ""
				live = slices.Delete(live, k, k+1)
			case op < 9: // move to another service (an add on main)
				k := rng.IntN(len(live))
				p := live[k]
				to := "changes/" + services[rng.IntN(len(services))] + "/moved-" + fmt.Sprint(i) + "-" + p[len(p)-17:]
				files[to], files[p] = h.main[p], ""
				live[k] = to
			default: // not a ticket
				files[fmt.Sprintf("changes/README-%d.md", i)] = "x"
				files[fmt.Sprintf("docs/%d.cue", i)] = "x"
			}
		}
		switch rng.IntN(3) {
		case 0:
			h.merge(i+1, "Alice", at, files)
		case 1:
			h.push("Bob", at, fmt.Sprintf("Squash (#%d)\n", i+1), files)
		default:
			h.push("Carol", at, "Direct push\n", files)
		}
	}
	return h
}

// The scanner's answer is validate.Mainline's: main by first parent, what
// a commit added its diff to its first parent.
func TestWalkMatchesMainline(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := randomHistory(t, seed, 40)
			want, err := validate.Mainline(t.Context(), h.dir, "HEAD", plumbing.ZeroHash)
			require.NoError(t, err)
			obj, err := gitobj.Open(h.dir+"/.git/objects", h.repo.Storer)
			require.NoError(t, err)
			defer obj.Close()
			w := &mainWalker{obj: obj}
			var got []validate.Merge
			end, err := w.walk(context.Background(), h.head, func(plumbing.Hash) bool { return false }, func(m *mergeRec) error {
				var paths []string
				for _, tk := range m.Tickets {
					paths = append(paths, tk.Path)
				}
				parent := ""
				if !m.Parent.IsZero() {
					parent = m.Parent.String()
				}
				got = append(got, validate.Merge{Commit: m.Commit.String(), Parent: parent, Tickets: paths})
				return nil
			})
			require.NoError(t, err)
			slices.Reverse(got)
			require.Len(t, got, len(want))
			for i := range want {
				assert.Equal(t, want[i].Commit, got[i].Commit)
				assert.Equal(t, want[i].Parent, got[i].Parent)
				assert.ElementsMatch(t, want[i].Tickets, got[i].Tickets, "commit %s", want[i].Commit)
			}
			assert.Len(t, end.Chain, 41)
			assert.True(t, end.Stop.IsZero())

			// Cold, warm and incremental runs of Log give the rows of a
			// run without index.
			off, _ := logRows(t, h.dir, LogOptions{Index: IndexOff})
			on, _ := logRows(t, h.dir, LogOptions{})
			assert.Equal(t, off, on)
		})
	}
}

func TestLogIncrementalMatchesFullScan(t *testing.T) {
	h := randomHistory(t, 99, 10)
	rng := rand.New(rand.NewPCG(99, 1))
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 15 {
		for range rng.IntN(3) {
			at = at.Add(time.Hour)
			id := fmt.Sprintf("CHG-2027-%04d", i*10+rng.IntN(10))
			h.merge(100+i, "Dana", at, map[string]string{ticketFile(id, "d"): ticketSource(id, "t", "normal", "low", "d", "prod")})
		}
		rev := "HEAD"
		if rng.IntN(4) == 0 {
			rev = "HEAD~1"
		}
		f := Filter{Services: []string{"a", "d"}}
		off, _ := logRows(t, h.dir, LogOptions{Index: IndexOff, Rev: rev, Filter: f})
		on, _ := logRows(t, h.dir, LogOptions{Rev: rev, Filter: f})
		require.Equal(t, off, on, "step %d", i)
	}
	rep, err := VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Empty(t, rep.Differences)
}

func TestOpenedAt(t *testing.T) {
	h := fixture(t)
	rows, _ := logRows(t, h.dir, LogOptions{OpenedAt: true})
	opened := map[string]time.Time{}
	for _, c := range rows {
		opened[c.ID] = c.OpenedAt
	}
	// Merges: the branch commit, an hour before the merge; pushes: the
	// commit itself.
	assert.Equal(t, day.Add(-time.Hour), opened["CHG-2026-0001"])
	assert.Equal(t, day.Add(36*24*time.Hour-time.Hour), opened["CHG-2026-0002"])
	assert.Equal(t, time.Date(2026, 4, 1, 1, 30, 0, 0, time.UTC), opened["CHG-2026-0004"])
	// Remembered by the index, and only shown when asked for.
	rows, res := logRows(t, h.dir, LogOptions{})
	assert.Equal(t, "warm", res.Index.State)
	for _, c := range rows {
		assert.True(t, c.OpenedAt.IsZero())
	}
	rows, res = logRows(t, h.dir, LogOptions{OpenedAt: true})
	assert.Equal(t, "warm", res.Index.State)
	assert.Equal(t, day.Add(-time.Hour), rows[len(rows)-1].OpenedAt)
	rep, err := VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Empty(t, rep.Differences)
}
