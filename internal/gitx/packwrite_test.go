package gitx

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoreObjectsPack writes a pack through a store opened by Open and
// reads every object back: through the same store at once, through a
// fresh go-git repository (go-git's own index decoder) and, when git is
// installed, with git verify-pack, which checks the checksums and the
// CRC of every entry.
func TestStoreObjectsPack(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		size int
	}{
		{"small objects", 100, 10},
		{"sizes across header groups", 70, 5000},
		{"one large object", 64, 200 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := git.PlainInit(dir, false)
			require.NoError(t, err)
			repo, closeRepo, err := Open(dir)
			require.NoError(t, err)
			defer closeRepo()
			src := memory.NewStorage()
			var hs []plumbing.Hash
			want := map[plumbing.Hash][]byte{}
			for i := range tc.n {
				content := bytes.Repeat([]byte(fmt.Sprintf("object %d;", i)), tc.size/10+i%7)
				o := src.NewEncodedObject()
				o.SetType(plumbing.BlobObject)
				w, err := o.Writer()
				require.NoError(t, err)
				_, err = w.Write(content)
				require.NoError(t, err)
				require.NoError(t, w.Close())
				h, err := src.SetEncodedObject(o)
				require.NoError(t, err)
				hs = append(hs, h)
				want[h] = content
			}
			hs = append(hs, hs[0]) // a repeated id is packed once
			require.NoError(t, StoreObjects(repo.Storer, src, hs, 64, 0))
			packs, err := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*"))
			require.NoError(t, err)
			assert.Len(t, packs, 2, "one pack and its index, no temporary file")

			read := func(r *git.Repository) {
				for h, content := range want {
					o, err := r.Storer.EncodedObject(plumbing.BlobObject, h)
					require.NoError(t, err, h)
					rd, err := o.Reader()
					require.NoError(t, err)
					got, err := io.ReadAll(rd)
					require.NoError(t, err)
					assert.Equal(t, content, got, h)
				}
			}
			read(repo)
			plain, err := git.PlainOpen(dir)
			require.NoError(t, err)
			read(plain)
			if _, err := exec.LookPath("git"); err == nil {
				for _, p := range packs {
					if filepath.Ext(p) == ".idx" {
						out, err := exec.Command("git", "-C", dir, "verify-pack", p).CombinedOutput()
						require.NoError(t, err, string(out))
					}
				}
			}
		})
	}
}

// TestStoreObjectsPackFailure leaves no pack and no temporary file when an
// object cannot be read.
func TestStoreObjectsPackFailure(t *testing.T) {
	dir := t.TempDir()
	_, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	repo, closeRepo, err := Open(dir)
	require.NoError(t, err)
	defer closeRepo()
	hs := make([]plumbing.Hash, 64)
	for i := range hs {
		hs[i] = plumbing.NewHash(fmt.Sprintf("%040x", i+1))
	}
	require.Error(t, StoreObjects(repo.Storer, memory.NewStorage(), hs, 64, 0))
	left, err := os.ReadDir(filepath.Join(dir, ".git", "objects", "pack"))
	require.NoError(t, err)
	assert.Empty(t, left)
}
