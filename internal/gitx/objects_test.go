package gitx

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitobj"
)

// gitCmd runs the git CLI in dir with a fixed identity and date.
func gitCmd(t *testing.T, dir string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.com",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	out, err := cmd.Output()
	require.NoError(t, err, "git %s", strings.Join(args, " "))
	return strings.TrimSpace(string(out))
}

// packedRepo writes a repository with the git CLI: commits of growing
// files, packed (with deltas), then more commits left loose.
func packedRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	gitCmd(t, dir, nil, "init", "-q", "-b", "main")
	body := strings.Repeat("a line of a ticket\n", 30)
	for i := range 12 {
		body += "edit\n"
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "changes", "svc"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "changes", "svc", "t.cue"), []byte(body), 0o644))
		gitCmd(t, dir, nil, "add", "-A")
		gitCmd(t, dir, nil, "commit", "-q", "-m", "commit")
		if i == 7 {
			gitCmd(t, dir, nil, "repack", "-q", "-a", "-d", "-f")
		}
	}
	return dir
}

// Every object reads through Open's storage as through go-git's: type,
// content and size; a missing object, or one of another type than asked,
// is plumbing.ErrObjectNotFound, as go-git says.
func TestOpenReadsAsGoGit(t *testing.T) {
	dir := packedRepo(t)
	plain, err := git.PlainOpen(dir)
	require.NoError(t, err)
	repo, closeRepo, err := Open(filepath.Join(dir, "changes"))
	require.NoError(t, err, "Open finds the repository above dir")
	defer closeRepo()
	_, ok := repo.Storer.(*objectStorage)
	require.True(t, ok, "objects are read through gitobj")

	iter, err := plain.Storer.IterEncodedObjects(plumbing.AnyObject)
	require.NoError(t, err)
	n := 0
	require.NoError(t, iter.ForEach(func(want plumbing.EncodedObject) error {
		got, err := repo.Storer.EncodedObject(want.Type(), want.Hash())
		require.NoError(t, err, "object %s", want.Hash())
		assert.Equal(t, want.Type(), got.Type(), "type of %s", want.Hash())
		assert.Equal(t, want.Hash(), got.Hash())
		assert.Equal(t, want.Size(), got.Size(), "size of %s", want.Hash())
		assert.Equal(t, readAll(t, want), readAll(t, got), "content of %s", want.Hash())
		size, err := repo.Storer.EncodedObjectSize(want.Hash())
		require.NoError(t, err)
		assert.Equal(t, want.Size(), size, "EncodedObjectSize of %s", want.Hash())
		assert.NoError(t, repo.Storer.HasEncodedObject(want.Hash()))
		n++
		return nil
	}))
	assert.Greater(t, n, 30)

	head, err := repo.Head()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		typ  plumbing.ObjectType
		hash plumbing.Hash
	}{
		{"missing", plumbing.AnyObject, plumbing.NewHash(strings.Repeat("e", 40))},
		{"a commit asked for as a tree", plumbing.TreeObject, head.Hash()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := repo.Storer.EncodedObject(tc.typ, tc.hash)
			assert.ErrorIs(t, err, plumbing.ErrObjectNotFound)
		})
	}
	_, err = repo.Storer.EncodedObjectSize(plumbing.NewHash(strings.Repeat("e", 40)))
	assert.ErrorIs(t, err, plumbing.ErrObjectNotFound)
	assert.ErrorIs(t, repo.Storer.HasEncodedObject(plumbing.NewHash(strings.Repeat("e", 40))), plumbing.ErrObjectNotFound)

	// The chores of this package work on it, and what it stores reads
	// back (a loose object written after it opened).
	c, err := repo.CommitObject(head.Hash())
	require.NoError(t, err)
	tree, err := c.Tree()
	require.NoError(t, err)
	src, err := ReadFile(tree, "changes/svc/t.cue", 1<<20)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(src), "edit\n"))
	h, err := StoreBlob(repo.Storer, []byte("stored after opening\n"))
	require.NoError(t, err)
	got, err := ReadBlob(repo.Storer, h, 100)
	require.NoError(t, err)
	assert.Equal(t, "stored after opening\n", string(got))
	_, err = ReadBlob(repo.Storer, h, 5)
	assert.ErrorIs(t, err, ErrTooLarge, "the size comes from the header")

	// An object read is not written to.
	o, err := repo.Storer.EncodedObject(plumbing.BlobObject, h)
	require.NoError(t, err)
	_, err = o.Writer()
	assert.Error(t, err)

	assert.Equal(t, filepath.Join(dir, ".git"), GitDir(repo))
	assert.Equal(t, filepath.Join(dir, ".git"), GitDir(plain))
}

// An object larger than gitobj returns is read by go-git, as before.
func TestOpenReadsLargeObjectsThroughGoGit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a blob of 64 MiB")
	}
	dir := packedRepo(t)
	big := make([]byte, gitobj.MaxObject+1)
	big[len(big)-1] = 'x'
	h := plumbing.NewHash(gitCmd(t, dir, big, "hash-object", "-w", "--stdin"))
	repo, closeRepo, err := Open(dir)
	require.NoError(t, err)
	defer closeRepo()
	size, err := repo.Storer.EncodedObjectSize(h)
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)), size)
	_, err = ReadBlob(repo.Storer, h, 1<<20)
	assert.ErrorIs(t, err, ErrTooLarge)
	b, err := object.GetBlob(repo.Storer, h)
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)), b.Size)
	r, err := b.Reader()
	require.NoError(t, err)
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)), n)
}

// A repository whose storage is not on disk is returned as it is.
func TestGitDirInMemory(t *testing.T) {
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	assert.Empty(t, GitDir(repo))
}

func readAll(t *testing.T, o plumbing.EncodedObject) []byte {
	t.Helper()
	r, err := o.Reader()
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}

// A fetch into a repository opened by Open stores the pack it receives
// (and its index) where C git reads them, readable at once through the
// repository; a fetch with nothing new leaves nothing behind.
func TestFetchStoresThePackReceived(t *testing.T) {
	src := packedRepo(t)
	dst := t.TempDir()
	gitCmd(t, dst, nil, "init", "-q")
	repo, closeRepo, err := Open(dst)
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeRepo() })
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{src}})
	require.NoError(t, err)
	ctx := context.Background()
	fetch := func() plumbing.Hash {
		t.Helper()
		h, err := FetchRef(ctx, repo, "origin", nil, "refs/heads/main", "refs/remotes/origin/main")
		require.NoError(t, err)
		return h
	}
	packs := func() []string {
		names, err := filepath.Glob(filepath.Join(dst, ".git", "objects", "pack", "*"))
		require.NoError(t, err)
		return names
	}

	head := fetch()
	assert.Equal(t, gitCmd(t, src, nil, "rev-parse", "main"), head.String())
	c, err := repo.CommitObject(head)
	require.NoError(t, err, "the fetched head reads through the repository")
	_, err = c.Tree()
	require.NoError(t, err)
	require.Len(t, packs(), 2, "one pack and its index: %v", packs())
	gitCmd(t, dst, nil, "fsck", "--strict", "--no-dangling", head.String())

	// Another commit: a second pack, its objects readable at once.
	require.NoError(t, os.WriteFile(filepath.Join(src, "later.txt"), []byte("later\n"), 0o644))
	gitCmd(t, src, nil, "add", "-A")
	gitCmd(t, src, nil, "commit", "-q", "-m", "later")
	later := fetch()
	require.NotEqual(t, head, later)
	f, err := repo.CommitObject(later)
	require.NoError(t, err)
	assert.Equal(t, "later\n", f.Message)
	require.Len(t, packs(), 4)

	// Nothing new: no pack, no temporary file.
	assert.Equal(t, later, fetch())
	assert.Len(t, packs(), 4, "%v", packs())
	gitCmd(t, dst, nil, "fsck", "--strict", "--no-dangling", later.String())
}
