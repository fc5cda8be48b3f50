package audit

import (
	"context"
	"errors"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitobj"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/validate"
)

// storeBlob and storeTree write objects into s.
func storeBlob(t *testing.T, s *memory.Storage, data string) plumbing.Hash {
	t.Helper()
	o := s.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	w, err := o.Writer()
	require.NoError(t, err)
	_, err = w.Write([]byte(data))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	h, err := s.SetEncodedObject(o)
	require.NoError(t, err)
	return h
}

func storeTree(t *testing.T, s *memory.Storage, entries ...object.TreeEntry) plumbing.Hash {
	t.Helper()
	o := s.NewEncodedObject()
	require.NoError(t, (&object.Tree{Entries: entries}).Encode(o))
	h, err := s.SetEncodedObject(o)
	require.NoError(t, err)
	return h
}

// The directory cache reads what gitx.ReadFile reads from the root, with
// the same refusals: a directory reached through a symlink or a submodule
// entry is not a directory, even when the entry names a tree object.
func TestDirCacheReadsAsReadFile(t *testing.T) {
	s := memory.NewStorage()
	ticket := storeBlob(t, s, "ticket")
	svc := storeTree(t, s, object.TreeEntry{Name: "CHG-2026-0001.cue", Mode: filemode.Regular, Hash: ticket},
		object.TreeEntry{Name: "CHG-2026-0002.cue", Mode: filemode.Symlink, Hash: ticket})
	changes := storeTree(t, s,
		object.TreeEntry{Name: "ads", Mode: filemode.Symlink, Hash: svc}, // a symlink naming a tree
		object.TreeEntry{Name: "big", Mode: filemode.Dir, Hash: storeTree(t, s, object.TreeEntry{Name: "CHG-2026-0003.cue", Mode: filemode.Regular, Hash: storeBlob(t, s, "0123456789")})},
		object.TreeEntry{Name: "mod", Mode: filemode.Submodule, Hash: svc},
		object.TreeEntry{Name: "payments", Mode: filemode.Dir, Hash: svc},
	)
	rootHash := storeTree(t, s, object.TreeEntry{Name: "changes", Mode: filemode.Dir, Hash: changes},
		object.TreeEntry{Name: "top.cue", Mode: filemode.Regular, Hash: ticket})
	root, err := object.GetTree(s, rootHash)
	require.NoError(t, err)

	objs, err := gitobj.Open(t.TempDir(), s) // no packs: every object from s
	require.NoError(t, err)
	defer objs.Close()
	for _, fast := range []bool{false, true} {
		c := newDirCache(s, root)
		if fast {
			c.blobs = ledgerObjects{&objects{objs}}
		}
		checkDirCache(t, c, root)
	}
}

func checkDirCache(t *testing.T, c *dirCache, root *object.Tree) {
	for _, p := range []string{
		"changes/payments/CHG-2026-0001.cue", "changes/payments/CHG-2026-0001.cue", // twice: cached
		"changes/payments/CHG-2026-0002.cue", "changes/payments/missing.cue",
		"changes/ads/CHG-2026-0001.cue", "changes/mod/CHG-2026-0001.cue",
		"changes/big/CHG-2026-0003.cue", "changes/none/CHG-2026-0001.cue", "top.cue",
	} {
		t.Run(p, func(t *testing.T) {
			want, wantErr := gitx.ReadFile(root, p, 5)
			got, err := c.read(p, 5)
			assert.Equal(t, want, got)
			if wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, wantErr.Error(), err.Error())
			for _, sentinel := range []error{gitx.ErrNotFound, gitx.ErrNotRegular, gitx.ErrTooLarge} {
				assert.Equal(t, errors.Is(wantErr, sentinel), errors.Is(err, sentinel), "%v", sentinel)
			}
		})
	}
	assert.Nil(t, c.dir("changes/ads"), "a symlink is not a directory")
	assert.Nil(t, c.dir("changes/mod"), "a submodule is not a directory")
	assert.NotNil(t, c.dir("changes/payments"))
}

// judgeAll gives each job its own verdict, in the order of the jobs,
// whatever the number of workers, and stops when ctx is done.
func TestJudgeAllKeepsOrder(t *testing.T) {
	var jobs []ticketJob
	for i := range 7 {
		j := ticketJob{p: "changes/payments/x.cue", id: "CHG-2026-000" + string(rune('1'+i)), m: validate.Merge{Commit: "c"}, base: &base{}}
		if i%2 == 0 {
			j.src = []byte("not cue {")
		} else {
			j.src = []byte(`id: "x"`) // parses as CUE, not as a ticket
		}
		jobs = append(jobs, j)
	}
	for _, workers := range []int{1, 2, 5, 20} {
		brks, err := judgeAll(context.Background(), jobs, workers)
		require.NoError(t, err)
		require.Len(t, brks, len(jobs))
		for i, vd := range brks {
			b := vd.brk
			require.NotNil(t, b)
			assert.Equal(t, jobs[i].id, b.Ticket, "workers %d", workers)
			assert.Equal(t, "changed", b.What)
			assert.Nil(t, vd.parsed, "a ticket that does not parse leaves no parse to cache")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := judgeAll(ctx, jobs, 2)
	require.ErrorIs(t, err, context.Canceled)
	brks, err := judgeAll(context.Background(), nil, 2)
	require.NoError(t, err)
	assert.Empty(t, brks)
}
