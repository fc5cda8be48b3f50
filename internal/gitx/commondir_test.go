package gitx

import (
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CommonDir is where the objects are: the git directory, or for a linked
// worktree the main one's; "" off disk.
func TestCommonDir(t *testing.T) {
	dir := packedRepo(t)
	wt := filepath.Join(t.TempDir(), "wt")
	gitCmd(t, dir, nil, "worktree", "add", "-q", wt)
	for _, tc := range []struct{ name, dir, gitDir string }{
		{"repository", dir, filepath.Join(dir, ".git")},
		{"linked worktree", wt, filepath.Join(dir, ".git", "worktrees", "wt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, closeRepo, err := Open(tc.dir)
			require.NoError(t, err)
			defer closeRepo()
			gitDir, err := filepath.EvalSymlinks(GitDir(repo))
			require.NoError(t, err)
			want, err := filepath.EvalSymlinks(tc.gitDir)
			require.NoError(t, err)
			assert.Equal(t, want, gitDir)
			common, err := filepath.EvalSymlinks(CommonDir(repo))
			require.NoError(t, err)
			wantCommon, err := filepath.EvalSymlinks(filepath.Join(dir, ".git"))
			require.NoError(t, err)
			assert.Equal(t, wantCommon, common)
		})
	}
	mem, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	assert.Empty(t, CommonDir(mem))
}
