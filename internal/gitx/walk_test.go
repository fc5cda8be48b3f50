package gitx

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeCommit stores a commit with message msg and parents.
func storeCommit(t testing.TB, s storer.EncodedObjectStorer, msg string, parents ...plumbing.Hash) plumbing.Hash {
	t.Helper()
	tree := storeTree(t, s, map[string]node{"f": file(msg)})
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1e9, 0)}
	o := s.NewEncodedObject()
	require.NoError(t, (&object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}).Encode(o))
	h, err := s.SetEncodedObject(o)
	require.NoError(t, err)
	return h
}

func TestFirstParents(t *testing.T) {
	s := memory.NewStorage()
	// main: root ← m1 ← merge(m1, side2) ← m3; side: root ← side1 ← side2
	root := storeCommit(t, s, "root")
	m1 := storeCommit(t, s, "m1", root)
	side1 := storeCommit(t, s, "side1", root)
	side2 := storeCommit(t, s, "side2", side1)
	merge := storeCommit(t, s, "merge", m1, side2)
	m3 := storeCommit(t, s, "m3", merge)
	// A second-parent-first merge: its first parent is the side branch.
	swapped := storeCommit(t, s, "swapped", side2, m1)
	dangling := storeCommit(t, s, "dangling", plumbing.NewHash(strings.Repeat("ee", 20)))

	tests := []struct {
		name    string
		from    plumbing.Hash
		limit   int // stop after this many (0: all)
		want    []string
		wantErr string
	}{
		{name: "through a merge by its first parent", from: m3, want: []string{"m3", "merge", "m1", "root"}},
		{name: "first parent is what counts", from: swapped, want: []string{"swapped", "side2", "side1", "root"}},
		{name: "a root", from: root, want: []string{"root"}},
		{name: "zero walks nothing", from: plumbing.ZeroHash},
		{name: "break stops", from: m3, limit: 2, want: []string{"m3", "merge"}},
		{name: "a missing parent is an error", from: dangling, want: []string{"dangling"}, wantErr: "reading commit eeee"},
		{name: "a missing start is an error", from: plumbing.NewHash(strings.Repeat("ff", 20)), wantErr: "object not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var gotErr error
			for c, err := range FirstParents(context.Background(), s, tt.from) {
				if err != nil {
					require.Nil(t, c)
					require.NoError(t, gotErr, "one error, then the walk stops")
					gotErr = err
					continue
				}
				got = append(got, c.Message)
				if tt.limit > 0 && len(got) == tt.limit {
					break
				}
			}
			assert.Equal(t, tt.want, got)
			if tt.wantErr == "" {
				assert.NoError(t, gotErr)
			} else {
				assert.ErrorContains(t, gotErr, tt.wantErr)
			}
		})
	}
}

func TestFirstParentsCancel(t *testing.T) {
	s := memory.NewStorage()
	h := storeCommit(t, s, "c0")
	for i := 1; i < 10; i++ {
		h = storeCommit(t, s, fmt.Sprintf("c%d", i), h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	var errs []error
	for c, err := range FirstParents(ctx, s, h) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, c.Message)
		if len(got) == 3 {
			cancel()
		}
	}
	assert.Equal(t, []string{"c9", "c8", "c7"}, got, "no commit is read once ctx is cancelled")
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)

	// Cancelled before it starts: nothing but the error.
	got, errs = nil, nil
	for c, err := range FirstParents(ctx, s, h) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, c.Message)
	}
	assert.Empty(t, got)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)
}
