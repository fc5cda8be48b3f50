package validate

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
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
		changes, _, err := diffTrees(base, head, "")
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
