package gitx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
)

// A store holding a head's commit but not its tree is not mended by
// FetchRef: go-git wants nothing
// whose commit it holds. Refetch fetches the branch whole and writes, as
// one pack, what the store lacks; a branch the remote lacks is zero and
// its tracking ref goes.
func TestRefetch(t *testing.T) {
	r := newRemote(t)
	work := filepath.Join(t.TempDir(), "work")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", r.url, work)
	require.NoError(t, os.WriteFile(filepath.Join(work, "a.txt"), []byte("a\n"), 0o644))
	gittest.Git(t, work, "add", "a.txt")
	gittest.Git(t, work, "-c", "user.name=w", "-c", "user.email=w@example.com", "commit", "-q", "-m", "a")
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:refs/heads/main")
	head := r.head(t)
	full, err := git.PlainOpen(work)
	require.NoError(t, err)

	repo, err := git.PlainInit(t.TempDir(), true)
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
	require.NoError(t, err)
	c, err := full.Storer.EncodedObject(plumbing.CommitObject, head)
	require.NoError(t, err)
	_, err = repo.Storer.SetEncodedObject(c)
	require.NoError(t, err)
	tr := plumbing.NewRemoteReferenceName("origin", "main")
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(tr, head)))

	got, err := FetchRef(t.Context(), repo, "origin", nil, mainRef, tr)
	require.NoError(t, err)
	assert.Equal(t, head, got)
	commit, err := object.GetCommit(repo.Storer, head)
	require.NoError(t, err)
	_, err = commit.Tree()
	require.ErrorIs(t, err, plumbing.ErrObjectNotFound, "FetchRef does not mend it")

	packs := func() []string {
		m, err := filepath.Glob(filepath.Join(repo.Storer.(*filesystem.Storage).Filesystem().Root(), "objects", "pack", "*.pack"))
		require.NoError(t, err)
		return m
	}
	require.Empty(t, packs())
	got, err = Refetch(t.Context(), repo, "origin", nil, mainRef, tr)
	require.NoError(t, err)
	assert.Equal(t, head, got)
	assert.Equal(t, head, tracking(t, repo))
	assert.Len(t, packs(), 1, "what was missing, as one pack")
	for c, err := range FirstParents(t.Context(), repo.Storer, head) {
		require.NoError(t, err)
		tree, err := c.Tree()
		require.NoError(t, err)
		data, err := ReadFile(tree, "a.txt", 10)
		if c.Hash == head {
			require.NoError(t, err)
			assert.Equal(t, "a\n", string(data))
		}
	}

	gone := plumbing.NewRemoteReferenceName("origin", "gone")
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(gone, head)))
	got, err = Refetch(t.Context(), repo, "origin", nil, plumbing.NewBranchReferenceName("gone"), gone)
	require.NoError(t, err)
	assert.True(t, got.IsZero())
	_, err = repo.Storer.Reference(gone)
	assert.ErrorIs(t, err, plumbing.ErrReferenceNotFound)
}
