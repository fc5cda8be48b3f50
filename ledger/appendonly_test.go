package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendOnly(t *testing.T) {
	repo, err := git.PlainInit(t.TempDir(), false)
	require.NoError(t, err)
	l := Open(repo, "", "")
	for _, id := range []string{"CHG-2026-0001", "CHG-2026-0002"} {
		_, err := l.Update(context.Background(), func(*Log) ([]Event, error) {
			return []Event{{Ticket: id, Kind: KindSigned, Commit: "0123456789012345678901234567890123456789"}}, nil
		})
		require.NoError(t, err)
	}
	log, err := l.Read(context.Background())
	require.NoError(t, err)
	require.NoError(t, AppendOnly(context.Background(), repo, log.Head, plumbing.ZeroHash))

	// A later commit that removes the first event, written behind cab's back.
	head, err := repo.CommitObject(log.Head)
	require.NoError(t, err)
	tree, err := head.Tree()
	require.NoError(t, err)
	root := storeTree(t, repo, setEntry(t, repo, tree.Entries, Path("CHG-2026-0001", ""), nil))
	sig := object.Signature{Name: "x", Email: "x@example.com", When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: "drop\n", TreeHash: root, ParentHashes: []plumbing.Hash{log.Head}}
	obj := repo.Storer.NewEncodedObject()
	require.NoError(t, c.Encode(obj))
	bad, err := repo.Storer.SetEncodedObject(obj)
	require.NoError(t, err)

	err = AppendOnly(context.Background(), repo, bad, plumbing.ZeroHash)
	require.ErrorIs(t, err, ErrNotAppendOnly)
	require.NoError(t, AppendOnly(context.Background(), repo, log.Head, log.Head), "nothing to check past the checkpoint")
	assert.Contains(t, err.Error(), "deletes "+Path("CHG-2026-0001", ""))
}

func storeTree(t *testing.T, repo *git.Repository, entries []object.TreeEntry) plumbing.Hash {
	obj := repo.Storer.NewEncodedObject()
	require.NoError(t, (&object.Tree{Entries: entries}).Encode(obj))
	h, err := repo.Storer.SetEncodedObject(obj)
	require.NoError(t, err)
	return h
}
