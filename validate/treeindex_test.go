package validate

import (
	"os"

	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tree index is a cache: it reads back what was written, and anything
// else (cut short, padded, another kind, no final newline) reads as none.
func TestTreeIndexFile(t *testing.T) {
	repo, err := git.PlainInit(t.TempDir(), false)
	require.NoError(t, err)
	f := treeIndexFile{name: "test-v1.idx", header: "cab-test v1 "}
	tree := plumbing.NewHash(strings.Repeat("ab", 20))
	body := []byte("a\t1\nb\t2\n")

	_, _, ok := f.read(repo)
	assert.False(t, ok, "no file yet")
	f.write(repo, tree, body)
	got, back, ok := f.read(repo)
	require.True(t, ok)
	assert.Equal(t, tree, got)
	assert.Equal(t, body, back)

	good, err := os.ReadFile(f.path(repo))
	require.NoError(t, err)
	for name, bad := range map[string]string{
		"cut short":       strings.TrimSuffix(string(good), "b\t2\n"),
		"padded":          string(good) + "c\t3\n",
		"another kind":    strings.Replace(string(good), "cab-test", "cab-other", 1),
		"no last newline": strings.TrimSuffix(string(good), "\n"),
		"bad hash":        strings.Replace(string(good), tree.String(), "zz", 1),
		"empty":           "",
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(f.path(repo), []byte(bad), 0o644))
			_, _, ok := f.read(repo)
			assert.False(t, ok)
		})
	}

	// An empty index of no tree round-trips too.
	f.write(repo, plumbing.ZeroHash, nil)
	got, back, ok = f.read(repo)
	require.True(t, ok)
	assert.True(t, got.IsZero())
	assert.Empty(t, back)
}
