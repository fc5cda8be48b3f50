package git

import (
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTrailers(t *testing.T) {
	msg := "Merge pr/1\n\nBody mentioning Approved-by: nobody in prose.\n\nApproved-by: Alice <Alice@Example.com>\nSigned-off-by: Bob <bob@example.com>\napproved-by: Carol <carol@example.com>\n"
	assert.Equal(t, []string{"Alice <Alice@Example.com>", "Carol <carol@example.com>"}, Trailers(msg, "Approved-by"))
	assert.Empty(t, Trailers("no trailers", "Approved-by"))
}

// A real repository: main, a branch with two commits by the author and a
// pusher, and a merge commit by a maintainer carrying the approvals.
func TestReview(t *testing.T) {
	repo, err := gogit.PlainInit(t.TempDir(), false)
	require.NoError(t, err)
	empty := &object.Tree{}
	obj := repo.Storer.NewEncodedObject()
	require.NoError(t, empty.Encode(obj))
	tree, err := repo.Storer.SetEncodedObject(obj)
	require.NoError(t, err)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	commit := func(email, msg string, parents ...plumbing.Hash) plumbing.Hash {
		sig := object.Signature{Name: email, Email: email, When: at}
		c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}
		obj := repo.Storer.NewEncodedObject()
		require.NoError(t, c.Encode(obj))
		h, err := repo.Storer.SetEncodedObject(obj)
		require.NoError(t, err)
		return h
	}
	main := commit("root@example.com", "root\n")
	c1 := commit("author@example.com", "add ticket\n", main)
	c2 := commit("helper@example.com", "fix typo\n", c1)
	merge := commit("maintainer@example.com", "Merge\n\nApproved-by: Alice <alice@example.com>\nApproved-by: Author <AUTHOR@example.com>\n", main, c2)
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", main)))

	r, err := Review(repo, "main", merge.String())
	require.NoError(t, err)
	assert.Equal(t, "git:author@example.com", r.Author)
	assert.ElementsMatch(t, []string{"git:author@example.com", "git:helper@example.com"}, r.Pushers, "the maintainer who merged is not a pusher")
	require.Len(t, r.Approvals, 2)
	assert.Equal(t, "git:alice@example.com", r.Approvals[0].ID)
	assert.Equal(t, "git:author@example.com", r.Approvals[1].ID, "identities are case-normalised, so the author's own approval is recognised (and excluded by policy)")

	_, err = Review(repo, "nope", merge.String())
	require.Error(t, err)
}
