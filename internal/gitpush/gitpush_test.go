package gitpush

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commit writes name=content on top of the work tree's HEAD and returns
// the new commit.
func commit(t *testing.T, repo *git.Repository, dir, name, content string) plumbing.Hash {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	wt, err := repo.Worktree()
	require.NoError(t, err)
	_, err = wt.Add(name)
	require.NoError(t, err)
	h, err := wt.Commit("add "+name, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1e9, 0)}})
	require.NoError(t, err)
	return h
}

func gitCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// TestPush sends linear runs of commits to a real bare repository (C git's
// receive-pack checks what arrives) and loses the swap when the branch is
// not where the caller thinks.
func TestPush(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	ctx := context.Background()
	root := t.TempDir()
	bare := filepath.Join(root, "remote.git")
	gitCmd(t, "init", "-q", "--bare", "-b", "main", bare)
	dir := filepath.Join(root, "work")
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{bare}})
	require.NoError(t, err)
	ref := plumbing.NewBranchReferenceName("main")

	var heads []plumbing.Hash
	for i := range 3 {
		heads = append(heads, commit(t, repo, dir, fmt.Sprintf("ledger/t%d/1.json", i), fmt.Sprint(i)))
	}
	require.NoError(t, Push(ctx, repo, "origin", nil, ref, plumbing.ZeroHash, heads[2], nil))
	assert.Equal(t, heads[2].String(), gitCmd(t, "-C", bare, "rev-parse", "main"))

	// More commits, one of them changing a file in a directory that
	// exists: only what each adds is sent, and the remote is complete.
	heads = append(heads, commit(t, repo, dir, "ledger/t0/2.json", "again"))
	heads = append(heads, commit(t, repo, dir, "top.txt", "x"))
	require.NoError(t, Push(ctx, repo, "origin", nil, ref, heads[2], heads[4], nil))
	assert.Equal(t, heads[4].String(), gitCmd(t, "-C", bare, "rev-parse", "main"))
	gitCmd(t, "-C", bare, "fsck", "--strict", "--no-dangling")

	// A pack the caller made is sent as it is (here with an object the
	// remote has already, which a pack may hold).
	heads = append(heads, commit(t, repo, dir, "ledger/t1/2.json", "packed"))
	hs, err := newObjects(repo.Storer, heads[4], heads[5])
	require.NoError(t, err)
	var pack bytes.Buffer
	_, err = packfile.NewEncoder(&pack, repo.Storer, false).Encode(append(hs, heads[4]), 0)
	require.NoError(t, err)
	require.NoError(t, PushPack(ctx, repo, "origin", nil, ref, heads[4], heads[5], pack.Bytes(), nil))
	assert.Equal(t, heads[5].String(), gitCmd(t, "-C", bare, "rev-parse", "main"))
	gitCmd(t, "-C", bare, "fsck", "--strict", "--no-dangling")
	heads = heads[:5]
	gitCmd(t, "-C", bare, "update-ref", "refs/heads/main", heads[4].String())

	// Pushing what is there already is a no-op; a stale old loses.
	require.NoError(t, Push(ctx, repo, "origin", nil, ref, heads[2], heads[4], nil))
	next := commit(t, repo, dir, "late.txt", "y")
	err = Push(ctx, repo, "origin", nil, ref, heads[3], next, nil)
	require.ErrorIs(t, err, ErrMoved)
	assert.Equal(t, heads[4].String(), gitCmd(t, "-C", bare, "rev-parse", "main"), "nothing moved")
	err = Push(ctx, repo, "origin", nil, ref, plumbing.ZeroHash, next, nil)
	require.ErrorIs(t, err, ErrMoved, "zero old means: the branch must not exist")
}

// TestNewObjects lists exactly what each commit adds to its parent.
func TestNewObjects(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	a := commit(t, repo, dir, "d/a", "1")
	b := commit(t, repo, dir, "d/b", "2")
	hs, err := newObjects(repo.Storer, a, b)
	require.NoError(t, err)
	cb, err := repo.CommitObject(b)
	require.NoError(t, err)
	tree, err := cb.Tree()
	require.NoError(t, err)
	d, err := tree.Tree("d")
	require.NoError(t, err)
	blob, err := d.File("b")
	require.NoError(t, err)
	assert.ElementsMatch(t, []plumbing.Hash{b, cb.TreeHash, d.Hash, blob.Hash}, hs, "the commit, the two trees on the path, the new blob; not d/a")
}
