package gitx

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func blobHash(s string) plumbing.Hash { return plumbing.ComputeHash(plumbing.BlobObject, []byte(s)) }

func TestDiffTrees(t *testing.T) {
	base := map[string]node{
		"cab.cue": file("config"),
		"run.sh":  file("#!/bin/sh"),
		"changes": dir(map[string]node{
			"payments": dir(map[string]node{"CHG-1.cue": file("one"), "CHG-2.cue": file("two")}),
			"orders":   dir(map[string]node{"CHG-3.cue": file("three")}),
		}),
		"policy": dir(map[string]node{"a.cue": file("a")}),
	}
	// with returns base changed by edit (a deep copy).
	with := func(edit func(m map[string]node)) map[string]node {
		var cp func(map[string]node) map[string]node
		cp = func(m map[string]node) map[string]node {
			out := map[string]node{}
			for k, v := range m {
				if v.dir != nil {
					v.dir = cp(v.dir)
				}
				out[k] = v
			}
			return out
		}
		m := cp(base)
		edit(m)
		return m
	}
	reg, exec := filemode.Regular, filemode.Executable
	tests := []struct {
		name   string
		a, b   map[string]node // nil: a nil tree
		prefix string
		want   []Change
	}{
		{name: "identical", a: base, b: base},
		{name: "add nested", a: base, b: with(func(m map[string]node) {
			m["changes"].dir["payments"].dir["CHG-4.cue"] = file("four")
		}), want: []Change{{Path: "changes/payments/CHG-4.cue", To: blobHash("four"), ToMode: reg}}},
		{name: "delete nested", a: base, b: with(func(m map[string]node) {
			delete(m["changes"].dir["orders"].dir, "CHG-3.cue")
			m["changes"].dir["orders"].dir["CHG-5.cue"] = file("five")
		}), want: []Change{
			{Path: "changes/orders/CHG-3.cue", From: blobHash("three"), FromMode: reg},
			{Path: "changes/orders/CHG-5.cue", To: blobHash("five"), ToMode: reg},
		}},
		{name: "modify", a: base, b: with(func(m map[string]node) { m["cab.cue"] = file("config 2") }),
			want: []Change{{Path: "cab.cue", From: blobHash("config"), To: blobHash("config 2"), FromMode: reg, ToMode: reg}}},
		{name: "mode change only", a: base, b: with(func(m map[string]node) { m["run.sh"] = exe("#!/bin/sh") }),
			want: []Change{{Path: "run.sh", From: blobHash("#!/bin/sh"), To: blobHash("#!/bin/sh"), FromMode: reg, ToMode: exec}}},
		{name: "file to symlink", a: base, b: with(func(m map[string]node) { m["cab.cue"] = link("other.cue") }),
			want: []Change{{Path: "cab.cue", From: blobHash("config"), To: blobHash("other.cue"), FromMode: reg, ToMode: filemode.Symlink}}},
		{name: "directory becomes a file", a: base, b: with(func(m map[string]node) { m["policy"] = file("now a file") }),
			want: []Change{
				{Path: "policy/a.cue", From: blobHash("a"), FromMode: reg},
				{Path: "policy", To: blobHash("now a file"), ToMode: reg},
			}},
		{name: "file becomes a directory", a: base, b: with(func(m map[string]node) {
			m["cab.cue"] = dir(map[string]node{"x": file("x")})
		}), want: []Change{
			{Path: "cab.cue/x", To: blobHash("x"), ToMode: reg},
			{Path: "cab.cue", From: blobHash("config"), FromMode: reg},
		}},
		{name: "submodule not entered", a: base, b: with(func(m map[string]node) { m["vendor"] = gitlink() }),
			want: []Change{{Path: "vendor", To: gitlink().hash, ToMode: filemode.Submodule}}},
		{name: "nil to tree", a: nil, b: map[string]node{"d": dir(map[string]node{"f": file("f")}), "g": file("g")},
			want: []Change{{Path: "d/f", To: blobHash("f"), ToMode: reg}, {Path: "g", To: blobHash("g"), ToMode: reg}}},
		{name: "tree to nil", a: map[string]node{"g": file("g")}, b: nil,
			want: []Change{{Path: "g", From: blobHash("g"), FromMode: reg}}},
		{name: "nil to nil", a: nil, b: nil},
		{name: "prefix", a: map[string]node{"CHG-1.cue": file("1")}, b: map[string]node{"CHG-1.cue": file("2")}, prefix: "changes/payments",
			want: []Change{{Path: "changes/payments/CHG-1.cue", From: blobHash("1"), To: blobHash("2"), FromMode: reg, ToMode: reg}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memory.NewStorage()
			var a, b *object.Tree
			if tt.a != nil {
				a = buildTree(t, s, tt.a)
			}
			if tt.b != nil {
				b = buildTree(t, s, tt.b)
			}
			got, err := DiffTrees(a, b, tt.prefix)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			for _, c := range got {
				assert.Equal(t, c.From.IsZero() && c.FromMode == filemode.Empty, c.Added(), "Added of %s", c.Path)
				assert.Equal(t, c.To.IsZero() && c.ToMode == filemode.Empty, c.Deleted(), "Deleted of %s", c.Path)
			}
		})
	}
}

// TestDiffTreesSkipsEqualSubtrees shows that a subtree with the same hash
// on both sides is never read: here it is not even stored.
func TestDiffTreesSkipsEqualSubtrees(t *testing.T) {
	s := memory.NewStorage()
	absent := plumbing.NewHash(strings.Repeat("cd", 20))
	one, err := StoreBlob(s, []byte("1"))
	require.NoError(t, err)
	two, err := StoreBlob(s, []byte("2"))
	require.NoError(t, err)
	tree := func(f plumbing.Hash) *object.Tree {
		h := storeRawTree(t, s, []object.TreeEntry{
			{Name: "big", Mode: filemode.Dir, Hash: absent},
			{Name: "f", Mode: filemode.Regular, Hash: f},
		})
		tr, err := object.GetTree(s, h)
		require.NoError(t, err)
		return tr
	}
	got, err := DiffTrees(tree(one), tree(two), "")
	require.NoError(t, err)
	assert.Equal(t, []Change{{Path: "f", From: one, To: two, FromMode: filemode.Regular, ToMode: filemode.Regular}}, got)

	// Where that subtree differs, it is read, and its absence is an error.
	other := storeRawTree(t, s, []object.TreeEntry{{Name: "f", Mode: filemode.Regular, Hash: one}})
	b, err := object.GetTree(s, storeRawTree(t, s, []object.TreeEntry{{Name: "big", Mode: filemode.Dir, Hash: other}}))
	require.NoError(t, err)
	_, err = DiffTrees(tree(one), b, "")
	assert.Error(t, err, "a subtree that differs is read")
}

// TestDiffTreesUnsafeNames refuses entries a hostile writer named to
// leave their directory, and still lists the other changes.
func TestDiffTreesUnsafeNames(t *testing.T) {
	s := memory.NewStorage()
	blob, err := StoreBlob(s, []byte("x"))
	require.NoError(t, err)
	inner := storeRawTree(t, s, []object.TreeEntry{{Name: "evil", Mode: filemode.Regular, Hash: blob}})
	h := storeRawTree(t, s, []object.TreeEntry{
		{Name: ".", Mode: filemode.Regular, Hash: blob},
		{Name: "..", Mode: filemode.Dir, Hash: inner},
		{Name: ".GIT", Mode: filemode.Dir, Hash: inner},
		{Name: "a/b", Mode: filemode.Regular, Hash: blob},
		{Name: "ok.cue", Mode: filemode.Regular, Hash: blob},
	})
	b, err := object.GetTree(s, h)
	require.NoError(t, err)

	got, err := DiffTrees(nil, b, "changes")
	require.ErrorIs(t, err, ErrUnsafeName)
	assert.Equal(t, []Change{{Path: "changes/ok.cue", To: blob, ToMode: filemode.Regular}}, got, "the safe changes are still listed")
	ue, ok := errors.AsType[*UnsafeNameError](err)
	require.True(t, ok, "got %T", err)
	assert.Equal(t, []UnsafeEntry{{"changes", "."}, {"changes", ".."}, {"changes", ".GIT"}, {"changes", "a/b"}}, ue.Entries, "named as they are, never entered")
	assert.Equal(t, `refused tree entries whose names could leave their directory: "." in "changes", ".." in "changes", ".GIT" in "changes", "a/b" in "changes"`, err.Error())

	for _, n := range []string{"", ".", "..", "a/b", "a\x00", ".git", ".Git"} {
		assert.True(t, UnsafeName(n), "%q is unsafe", n)
	}
	for _, n := range []string{"a", "..a", ".gitignore", "CHG-1.cue"} {
		assert.False(t, UnsafeName(n), "%q is safe", n)
	}
}
