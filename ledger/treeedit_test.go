package ledger

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"
)

// setEntry returns entries (a tree) with the entry at path (slash
// separated, below entries) set to e, or removed when e is nil, storing
// the trees rewritten on the way: what an attacker's commit does.
func setEntry(t *testing.T, repo *git.Repository, entries []object.TreeEntry, path string, e *object.TreeEntry) []object.TreeEntry {
	t.Helper()
	first, rest, deeper := strings.Cut(path, "/")
	out := slices.Clone(entries)
	i := slices.IndexFunc(out, func(x object.TreeEntry) bool { return x.Name == first })
	if !deeper {
		switch {
		case e == nil && i >= 0:
			return slices.Delete(out, i, i+1)
		case e == nil:
			return out
		}
		ne := *e
		ne.Name = first
		if i >= 0 {
			out[i] = ne
		} else {
			out = append(out, ne)
		}
		sortEntries(out)
		return out
	}
	var sub []object.TreeEntry
	if i >= 0 {
		st, err := object.GetTree(repo.Storer, out[i].Hash)
		require.NoError(t, err)
		sub = st.Entries
	}
	sub = setEntry(t, repo, sub, rest, e)
	if len(sub) == 0 {
		return setEntry(t, repo, out, first, nil)
	}
	h, err := storeSorted(repo.Storer, sub)
	require.NoError(t, err)
	return setEntry(t, repo, out, first, &object.TreeEntry{Mode: filemode.Dir, Hash: h})
}

// entryAt returns the entry at path below root.
func entryAt(t *testing.T, root *object.Tree, path string) object.TreeEntry {
	t.Helper()
	e, err := root.FindEntry(path)
	require.NoError(t, err, path)
	return *e
}

// TestSortEntries: entries sort as git sorts them (go-git refuses to
// encode a tree otherwise): a directory as if its name ended in "/".
func TestSortEntries(t *testing.T) {
	e := func(name string, dir bool) object.TreeEntry {
		if dir {
			return object.TreeEntry{Name: name, Mode: filemode.Dir}
		}
		return object.TreeEntry{Name: name, Mode: filemode.Regular}
	}
	got := []object.TreeEntry{e("42", true), e("42.txt", false), e("4", true), e("LEDGER-VERSION", false), e("ledger", true), e("42-a", false)}
	sortEntries(got)
	var names []string
	for _, x := range got {
		names = append(names, x.Name)
	}
	require.Equal(t, []string{"4", "42-a", "42.txt", "42", "LEDGER-VERSION", "ledger"}, names)
	require.True(t, slices.IsSortedFunc(got, func(a, b object.TreeEntry) int {
		return strings.Compare(sortName(a), sortName(b))
	}))
}

func sortName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}
