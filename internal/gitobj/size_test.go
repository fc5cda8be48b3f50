package gitobj

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Size tells, from headers alone, the size Read returns and go-git
// reports, for objects packed whole, as offset or reference deltas, and
// loose; a missing object is ErrNotFound.
func TestSizeMatchesRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		repo func(t *testing.T) string
	}{
		{"offset deltas", func(t *testing.T) string { return gitRepo(t, nil, "-a", "-d", "-f", "--depth=20") }},
		{"reference deltas", func(t *testing.T) string {
			return gitRepo(t, []string{"repack.usedeltabaseoffset=false", "pack.usedeltabaseoffset=false"}, "-a", "-d", "-f")
		}},
		{"incremental pack and loose objects", func(t *testing.T) string { return gitRepo(t, nil, "-d") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.repo(t)
			r, err := git.PlainOpen(dir)
			require.NoError(t, err)
			obj, err := Open(filepath.Join(dir, ".git", "objects"), nil)
			require.NoError(t, err)
			defer obj.Close()
			iter, err := r.Storer.IterEncodedObjects(plumbing.AnyObject)
			require.NoError(t, err)
			n := 0
			require.NoError(t, iter.ForEach(func(o plumbing.EncodedObject) error {
				got, err := obj.Size(o.Hash())
				require.NoError(t, err, "object %s", o.Hash())
				assert.Equal(t, o.Size(), got, "size of %s: got %d, want go-git's %d", o.Hash(), got, o.Size())
				_, data, err := obj.Read(o.Hash())
				require.NoError(t, err)
				assert.Equal(t, int64(len(data)), got, "size of %s: got %d, want Read's %d", o.Hash(), got, len(data))
				n++
				return nil
			}))
			assert.Greater(t, n, 150)
			_, err = obj.Size(plumbing.NewHash(strings.Repeat("e", 40)))
			assert.ErrorIs(t, err, ErrNotFound)
		})
	}
}

// What is in no pack and no loose file of a reader that borrows objects
// (alternates) has its size asked of the fallback storer.
func TestSizeFallsBackToGoGit(t *testing.T) {
	dir := gitRepo(t, nil, "-a", "-d")
	r, err := git.PlainOpen(dir)
	require.NoError(t, err)
	head, err := r.Head()
	require.NoError(t, err)
	want, err := r.Storer.EncodedObjectSize(head.Hash())
	require.NoError(t, err)
	obj, err := Open(borrowing(t, dir), r.Storer)
	require.NoError(t, err)
	got, err := obj.Size(head.Hash())
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = obj.Size(plumbing.NewHash(strings.Repeat("e", 40)))
	assert.ErrorIs(t, err, ErrNotFound)
}
