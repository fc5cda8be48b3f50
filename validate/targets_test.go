package validate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An index moved many times (its moves kept beside its data, folded in
// now and then) answers every lookup as the index built afresh from the
// entries it holds, in the same order, and saves the same bytes.
func TestTargetIndexMoves(t *testing.T) {
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	resources := []string{"prod/api/a", "prod/api/b", "staging/db/x", "prod/api/a/b"}
	entries := func(path string, r *rand.Rand) []string {
		var out []string
		start := day.Add(time.Duration(r.IntN(40)) * time.Hour)
		for _, res := range resources {
			if r.IntN(2) == 0 {
				out = append(out, indexEntry{resource: res, path: path, id: "CHG-" + path[len(path)-4:], start: start, end: start.Add(time.Duration(1+r.IntN(10)) * time.Hour)}.line())
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		seed  uint64
		moves int
		paths int
	}{
		{name: "adds only", seed: 1, moves: 1500, paths: 0},
		{name: "adds, edits and deletes", seed: 2, moves: 1500, paths: 200},
		{name: "few moves, no compaction", seed: 3, moves: 20, paths: 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tc.seed, 0))
			current := map[string][]string{} // path -> its lines
			for i := range tc.paths {
				p := fmt.Sprintf("changes/svc/CHG-2026-%04d.cue", i)
				current[p] = entries(p, r)
			}
			all := func() []string {
				var out []string
				for _, ls := range current {
					out = append(out, ls...)
				}
				slices.Sort(out)
				return out
			}
			x := newIndex(plumbing.ZeroHash, []byte(strings.Join(all(), "")))
			for m := range tc.moves {
				drop := map[string]bool{}
				var add []string
				for range 1 + r.IntN(3) {
					var p string
					switch {
					case len(current) > 0 && r.IntN(4) == 0: // edit or delete
						keys := slices.Sorted(func(yield func(string) bool) {
							for k := range current {
								if !yield(k) {
									return
								}
							}
						})
						p = keys[r.IntN(len(keys))]
						if drop[p] {
							continue // one change per path and move
						}
						if r.IntN(2) == 0 {
							delete(current, p)
							drop[p] = true
							continue
						}
					default:
						p = fmt.Sprintf("changes/svc/CHG-2027-%04d.cue", m)
					}
					if drop[p] {
						continue
					}
					drop[p] = true
					current[p] = entries(p, r)
					add = append(add, current[p]...)
				}
				x.move(plumbing.ZeroHash, drop, add)
				if m%151 == 0 || m == tc.moves-1 {
					fresh := newIndex(plumbing.ZeroHash, []byte(strings.Join(all(), "")))
					for _, res := range resources {
						for h := 0; h < 60; h += 11 {
							after := day.Add(time.Duration(h) * time.Hour)
							got, want := map[string]*Open{}, map[string]*Open{}
							x.lookup(got, res, after, after.Add(5*time.Hour))
							fresh.lookup(want, res, after, after.Add(5*time.Hour))
							require.Equal(t, want, got, "move %d, %s after %s", m, res, after)
						}
					}
				}
			}
			want := strings.Join(all(), "")
			x.compact()
			assert.Equal(t, want, string(x.data))
		})
	}
}
