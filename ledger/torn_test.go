package ledger

import (
	"context"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/internal/gitx"
)

// TestIncompleteStoreIsRefetched: a repository whose store holds the
// ledger head's commit but not everything it reaches is not mended by a
// fetch — go-git asks for nothing whose commit it holds — and read
// "object not found" for ever (the errors TestRunSignsOnceAndRecordsBypasses
// showed under load). The ledger fetches the branch whole, once, and
// reads and appends as usual: every event, no ticket set aside, the new
// event appended once.
func TestIncompleteStoreIsRefetched(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	tests := []struct {
		name string
		// keep says which objects of the writer's store the torn
		// repository holds.
		keep func(o plumbing.EncodedObject, eventBlob plumbing.Hash) bool
	}{
		{"the commits only", func(o plumbing.EncodedObject, _ plumbing.Hash) bool {
			return o.Type() == plumbing.CommitObject
		}},
		{"all but one event file", func(o plumbing.EncodedObject, eventBlob plumbing.Hash) bool {
			return o.Hash() != eventBlob
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := srv.Bare(t, "torn"+string(rune('a'+i)))
			w := Open(clone(t, url), "origin", "")
			w.Now = fixedClock()
			written, err := w.Update(ctx, add(
				Event{Ticket: "CHG-2026-0001", Kind: KindSigned, Actor: "ci"},
				Event{Ticket: "CHG-2026-0002", Kind: KindSigned, Actor: "ci"},
				Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: KindScheduled, Actor: "ci"},
			))
			require.NoError(t, err)
			eventBlob := fileBlob(t, w.repo, written.Head, Path("CHG-2026-0002", "1-signed.json"))

			torn := clone(t, url)
			iter, err := w.repo.Storer.IterEncodedObjects(plumbing.AnyObject)
			require.NoError(t, err)
			require.NoError(t, iter.ForEach(func(o plumbing.EncodedObject) error {
				if tt.keep(o, eventBlob) {
					_, err := torn.Storer.SetEncodedObject(o)
					return err
				}
				return nil
			}))
			tracking := plumbing.NewRemoteReferenceName("origin", DefaultBranch)
			require.NoError(t, torn.Storer.SetReference(plumbing.NewHashReference(tracking, written.Head)))

			// A fetch does not mend it.
			h, err := gitx.FetchRef(ctx, torn, "origin", nil, plumbing.NewBranchReferenceName(DefaultBranch), tracking)
			require.NoError(t, err)
			require.Equal(t, written.Head, h)
			broken, err := ReadAt(torn, written.Head)
			if err == nil {
				require.NotEmpty(t, broken.Problems, "the torn store reads as a broken ledger")
			}

			l := Open(torn, "origin", "")
			l.Now = fixedClock()
			log, err := l.Read(ctx)
			require.NoError(t, err)
			assert.Empty(t, log.Problems, "no ticket set aside")
			assert.Equal(t, written.Events(), log.Events())

			out, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0002", Env: "prod", Kind: KindScheduled, Actor: "ci"}))
			require.NoError(t, err)
			assert.Empty(t, out.Problems)
			assert.Len(t, out.Events(), 4)
			again, err := w.Read(ctx)
			require.NoError(t, err)
			assert.Equal(t, out.Events(), again.Events(), "the writer reads the one event appended")
		})
	}
}

// fileBlob is the blob of the file at path in commit head.
func fileBlob(t *testing.T, repo *git.Repository, head plumbing.Hash, path string) plumbing.Hash {
	t.Helper()
	c, err := object.GetCommit(repo.Storer, head)
	require.NoError(t, err)
	tree, err := c.Tree()
	require.NoError(t, err)
	e, err := tree.FindEntry(path)
	require.NoError(t, err)
	return e.Hash
}
