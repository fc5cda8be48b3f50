package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
)

// objectFiles counts the loose objects and the packs of a git directory.
func objectFiles(t *testing.T, gitDir string) (loose, packs int) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(gitDir, "objects"))
	require.NoError(t, err)
	for _, e := range entries {
		if len(e.Name()) != 2 || !e.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(gitDir, "objects", e.Name()))
		require.NoError(t, err)
		loose += len(files)
	}
	files, err := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "*.pack"))
	require.NoError(t, err)
	return loose, len(files)
}

// TestUpdateWritesPacks: an Update of many events stores its commits as
// one pack (and index) and no loose object; one of a few events stores
// them loose. Either way C git finds the ledger whole (fsck), and the
// ledger reads back, pushes and is read by another clone as before.
func TestUpdateWritesPacks(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	remoteDir, url := srv.Bare(t, "packs")
	for _, tc := range []struct {
		name         string
		remote       string
		events       int
		loose, packs int
	}{
		{name: "batch, local", events: 40, packs: 1},
		{name: "few, local", events: 2, loose: 1 + 2*7}, // the layout marker; per event its two files, four trees and the commit
		{name: "batch, pushed", remote: "origin", events: 40, packs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			repo, err := git.PlainInit(dir, true)
			require.NoError(t, err)
			ref := "refs/heads/cab/ledger"
			if tc.remote != "" {
				_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
				require.NoError(t, err)
				ref = "refs/remotes/origin/cab/ledger"
			}
			l := Open(repo, tc.remote, "")
			l.Now = fixedClock()
			var evs []Event
			for i := range tc.events {
				evs = append(evs, Event{Ticket: fmt.Sprintf("CHG-2026-%04d", i+1), Kind: KindSigned, Actor: "ci", Commit: "abc", Envelope: fmt.Appendf(nil, `{"payloadType":"x","n":%d}`, i)})
			}
			log, err := l.Update(ctx, add(evs...))
			require.NoError(t, err)
			require.Len(t, log.Events(), tc.events)
			loose, packs := objectFiles(t, dir)
			assert.Equal(t, tc.loose, loose, "loose objects")
			assert.Equal(t, tc.packs, packs, "packs")
			runGit(t, dir, "fsck", "--strict", "--no-dangling")
			assert.Equal(t, fmt.Sprint(tc.events), strings.TrimSpace(runGit(t, dir, "rev-list", "--count", ref)), "one commit per event")
			require.NoError(t, AppendOnly(context.Background(), repo, log.Head, [20]byte{}))

			// Read afresh from the same store, and from another clone.
			again, err := Open(repo, tc.remote, "").Read(ctx)
			require.NoError(t, err)
			assert.Equal(t, log.Head, again.Head)
			assert.Len(t, again.Events(), tc.events)
			if tc.remote != "" {
				other, err := Open(clone(t, url), "origin", "").Read(ctx)
				require.NoError(t, err)
				assert.Len(t, other.Events(), tc.events)
				runGit(t, remoteDir, "fsck", "--strict", "--no-dangling")
			}
		})
	}
}
