package sign

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
)

// lastRecorded stops the walk of main at the newest commit of its first
// parent chain that the ledger names; a commit the ledger names that is
// not on that chain (a side branch merged in) is no place to stop.
func TestLastRecorded(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	sh(t, dir, "git", "init", "-q", "-b", "main")
	commit := func(msg string) plumbing.Hash {
		sh(t, dir, "git", "commit", "-q", "--allow-empty", "-m", msg)
		return plumbing.NewHash(sh(t, dir, "git", "rev-parse", "HEAD"))
	}
	commit("one")
	c2, c3 := commit("two"), commit("three")
	sh(t, dir, "git", "checkout", "-q", "-b", "side")
	side := commit("side")
	sh(t, dir, "git", "checkout", "-q", "main")
	c4 := commit("four")
	sh(t, dir, "git", "merge", "-q", "--no-ff", "side", "-m", "merge side")
	head := plumbing.NewHash(sh(t, dir, "git", "rev-parse", "HEAD"))

	for _, tc := range []struct {
		name     string
		recorded []plumbing.Hash
		kind     string
		want     plumbing.Hash
	}{
		{name: "nothing recorded", want: plumbing.ZeroHash},
		{name: "one on the main line", recorded: []plumbing.Hash{c2}, want: c2},
		{name: "the newest of several", recorded: []plumbing.Hash{c4, c2, c3}, want: c4},
		{name: "unsigned counts", recorded: []plumbing.Hash{c3}, kind: ledger.KindUnsigned, want: c3},
		{name: "the head itself", recorded: []plumbing.Hash{c2, head}, want: head},
		{name: "only a side commit: walk it all", recorded: []plumbing.Hash{side}, want: plumbing.ZeroHash},
		{name: "a side commit newer than the main line one", recorded: []plumbing.Hash{c2, side}, want: c2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clone := filepath.Join(t.TempDir(), "clone")
			sh(t, "", "git", "clone", "-q", dir, clone)
			repo, err := git.PlainOpen(clone)
			require.NoError(t, err)
			l := ledger.Open(repo, "", "")
			kind := tc.kind
			if kind == "" {
				kind = ledger.KindSigned
			}
			var evs []ledger.Event
			for i, h := range tc.recorded {
				evs = append(evs, ledger.Event{Ticket: fmt.Sprintf("CHG-2026-%04d", i+1), Kind: kind, Actor: "ci", Commit: h.String()})
			}
			log, err := l.Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) { return evs, nil })
			require.NoError(t, err)
			got, err := lastRecorded(context.Background(), clone, log, "HEAD")
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
