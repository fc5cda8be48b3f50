package gitx

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/stretchr/testify/require"
)

// node is a tree entry to build: a file (content), a symlink ("-> x"), a
// submodule (gitlink), or a directory (dir).
type node struct {
	content string
	mode    filemode.FileMode
	dir     map[string]node
	hash    plumbing.Hash // a gitlink's commit, or an object not stored
}

func file(s string) node  { return node{content: s, mode: filemode.Regular} }
func exe(s string) node   { return node{content: s, mode: filemode.Executable} }
func link(to string) node { return node{content: to, mode: filemode.Symlink} }
func gitlink() node {
	return node{mode: filemode.Submodule, hash: plumbing.NewHash(strings.Repeat("ab", 20))}
}
func dir(m map[string]node) node { return node{mode: filemode.Dir, dir: m} }

// buildTree stores the tree m in s (entries in git's order) and returns it.
func buildTree(t testing.TB, s storer.EncodedObjectStorer, m map[string]node) *object.Tree {
	t.Helper()
	h := storeTree(t, s, m)
	tree, err := object.GetTree(s, h)
	require.NoError(t, err)
	return tree
}

func storeTree(t testing.TB, s storer.EncodedObjectStorer, m map[string]node) plumbing.Hash {
	t.Helper()
	var entries []object.TreeEntry
	for name, n := range m {
		e := object.TreeEntry{Name: name, Mode: n.mode, Hash: n.hash}
		switch {
		case n.mode == filemode.Dir && n.hash.IsZero():
			e.Hash = storeTree(t, s, n.dir)
		case n.mode != filemode.Submodule && n.hash.IsZero():
			h, err := StoreBlob(s, []byte(n.content))
			require.NoError(t, err)
			e.Hash = h
		}
		entries = append(entries, e)
	}
	sort.Sort(object.TreeEntrySorter(entries))
	return storeRawTree(t, s, entries)
}

// storeRawTree stores entries as they are (in their order, names
// unchecked), as a hostile writer could.
func storeRawTree(t testing.TB, s storer.EncodedObjectStorer, entries []object.TreeEntry) plumbing.Hash {
	t.Helper()
	var raw []byte
	for _, e := range entries {
		raw = fmt.Appendf(raw, "%o %s\x00", e.Mode, e.Name)
		raw = append(raw, e.Hash[:]...)
	}
	o := s.NewEncodedObject()
	o.SetType(plumbing.TreeObject)
	w, err := o.Writer()
	require.NoError(t, err)
	_, err = w.Write(raw)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	h, err := s.SetEncodedObject(o)
	require.NoError(t, err)
	return h
}
