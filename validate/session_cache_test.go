package validate

import (
	"os"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTicketIDsFollowMain: a session's ticket index, moved merge by
// merge along main, is at every step the index read from the tree.
func TestTicketIDsFollowMain(t *testing.T) {
	g := newGitRepo(t)
	files := baseFiles()
	steps := []map[string]*entry{
		{"changes/payments/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", nil)))},
		// the same id in another service, and a new service
		{"changes/search/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0002", nil))), "changes/alpha/CHG-2026-0003.cue": ptr(file(idTicket("CHG-2026-0003", nil)))},
		{"changes/payments/CHG-2026-0002.cue": nil},                                     // a deletion
		{"changes/search/CHG-2026-0002.cue": ptr(file(idTicket("CHG-2026-0009", nil)))}, // an edit
		{"changes/search/notes.md": ptr(file("# notes\n"))},                             // not a ticket
		// a directory where a ticket was: read afresh
		{"changes/alpha/CHG-2026-0003.cue": nil, "changes/alpha/CHG-2026-0003.cue/x": ptr(file("x"))},
		{"changes/beta/CHG-2026-0004.cue": ptr(entry{mode: filemode.Symlink, data: []byte("../x")})},
	}
	prev := g.commit("main", plumbing.ZeroHash, files)
	s := &Session{repo: g.repo}
	for i, step := range steps {
		files = with(files, step)
		next := g.commit("main", prev, files)
		base, err := resolveTree(g.repo, "base", prev.String())
		require.NoError(t, err)
		head, err := resolveTree(g.repo, "head", next.String())
		require.NoError(t, err)
		changes, _, err := diffTrees(g.repo.Storer, base, head, "")
		require.NoError(t, err)
		if i == 0 {
			// The session starts from the base.
			_, err := s.ticketIDs(base, base, nil)
			require.NoError(t, err)
		}
		got, err := s.ticketIDs(base, head, changes)
		require.NoError(t, err)
		want, err := ticketIndex(head)
		require.NoError(t, err)
		assert.Equal(t, want, got, "step %d", i)
		prev = next
	}
	assert.Equal(t, []string{"changes/search/CHG-2026-0002.cue"}, s.ids.ids["CHG-2026-0002"])
}

// TestTicketIDsStored: the index a check stores under the git directory
// is moved by the difference to the next check's head, by another
// session; a stored file that does not parse is only a cost.
func TestTicketIDsStored(t *testing.T) {
	g := newGitRepo(t)
	files := baseFiles()
	first := g.commit("main", plumbing.ZeroHash, files)
	tree := func(h plumbing.Hash) *object.Tree {
		tr, err := resolveTree(g.repo, "rev", h.String())
		require.NoError(t, err)
		return tr
	}
	s := &Session{repo: g.repo}
	_, err := s.ticketIDs(tree(first), tree(first), nil)
	require.NoError(t, err)
	path := idsFile.path(g.repo)
	require.FileExists(t, path)

	// Two merges later, in a new session: moved by the difference.
	files = with(files, map[string]*entry{"changes/search/CHG-2026-0005.cue": ptr(file(idTicket("CHG-2026-0005", nil)))})
	second := g.commit("main", first, files)
	files = with(files, map[string]*entry{"changes/payments/CHG-2026-0001.cue": nil, "changes/alpha/CHG-2026-0005.cue": ptr(file(idTicket("CHG-2026-0005", nil)))})
	third := g.commit("main", second, files)
	want, err := ticketIndex(tree(third))
	require.NoError(t, err)
	s = &Session{repo: g.repo}
	got, err := s.ticketIDs(tree(second), tree(third), nil) // no changes given: the stored tree is first's
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"changes/alpha/CHG-2026-0005.cue", "changes/search/CHG-2026-0005.cue"}, got["CHG-2026-0005"])
	assert.NotContains(t, got, "CHG-2026-0001")
	stored := loadIDs(g.repo)
	require.NotNil(t, stored)
	assert.Equal(t, changesHash(tree(third)), stored.tree)
	assert.Equal(t, want, stored.ids)

	for name, content := range map[string]string{
		"truncated":  "cab-ids v1 " + stored.tree.String() + " 5\nCHG-2026-0005\tchanges/alpha/CHG-2026-0005.cue\n",
		"not a path": "cab-ids v1 " + stored.tree.String() + " 1\nCHG-2026-0005\t/etc/passwd\n",
		"garbage":    "nonsense",
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			assert.Nil(t, loadIDs(g.repo))
			s := &Session{repo: g.repo}
			got, err := s.ticketIDs(tree(second), tree(third), nil)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}
