package main

// The migration of a layout 1 ledger to layout 2 through the cab binary,
// against real git (git http-backend on loopback): the genuine migration is
// accepted by the reconciler and cab verify, and writers go on in layout 2;
// a "migration" pushed by an attacker that drops, edits or adds an event,
// or moves one to another ticket, is a rewrite that stops the reconciler
// and that cab verify names.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toLayout1 replaces the remote ledger, before any reconciler read it,
// with a layout 1 ledger holding the same files (as cab wrote before
// layout 2): one root commit with every ticket at ledger/<id>/.
func (w *lworld) toLayout1() {
	t := w.t
	t.Helper()
	lgit(t, w.attacker, "fetch", "-q", "origin", "+cab/ledger:refs/remotes/origin/cab/ledger")
	lgit(t, w.attacker, "checkout", "-q", "--orphan", "v1", "origin/cab/ledger")
	lgit(t, w.attacker, "rm", "-q", "-f", "LEDGER-VERSION")
	shards, err := filepath.Glob(filepath.Join(w.attacker, "ledger", "[0-9][0-9]", "CHG-*"))
	require.NoError(t, err)
	require.NotEmpty(t, shards)
	for _, d := range shards {
		lgit(t, w.attacker, "mv", d, filepath.Join(w.attacker, "ledger", filepath.Base(d)))
	}
	lgit(t, w.attacker, "-c", "user.name=cab", "-c", "user.email=cab@localhost", "commit", "-q",
		"-m", "signed CHG-2026-0001", "-m", "Cab-Ticket: CHG-2026-0001\nCab-Event: signed")
	lgit(t, w.attacker, "push", "-q", "-f", "origin", "v1:cab/ledger")
}

// migrateByHand migrates the remote ledger in the attacker's clone as
// cab ledger migrate would, then lets forge change the result, and pushes.
func (w *lworld) migrateByHand(forge func(dir string)) {
	t := w.t
	t.Helper()
	lgit(t, w.attacker, "fetch", "-q", "origin", "+cab/ledger:refs/remotes/origin/cab/ledger")
	lgit(t, w.attacker, "checkout", "-q", "-B", "l", "origin/cab/ledger")
	dirs, err := filepath.Glob(filepath.Join(w.attacker, "ledger", "CHG-*"))
	require.NoError(t, err)
	for _, d := range dirs {
		id := filepath.Base(d)
		require.NoError(t, os.MkdirAll(filepath.Join(w.attacker, "ledger", id[len(id)-2:]), 0o755))
		lgit(t, w.attacker, "mv", d, filepath.Join(w.attacker, "ledger", id[len(id)-2:], id))
	}
	require.NoError(t, os.WriteFile(filepath.Join(w.attacker, "LEDGER-VERSION"), []byte("2\n"), 0o644))
	forge(w.attacker)
	lgit(t, w.attacker, "add", "-A", "ledger", "LEDGER-VERSION")
	lgit(t, w.attacker, "-c", "user.name=Mallory", "-c", "user.email=mallory@example.com", "commit", "-q", "-m", "migrate the ledger to layout 2")
	lgit(t, w.attacker, "push", "-q", "origin", "l:cab/ledger")
}

// blobs maps each file of the remote ledger at rev to its blob id.
func (w *lworld) blobs(rev string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(lgit(w.t, w.changes, "ls-tree", "-r", rev), "\n") {
		meta, path, ok := strings.Cut(l, "\t")
		if ok {
			out[path] = strings.Fields(meta)[2]
		}
	}
	return out
}

// layout1World is a world whose ledger is in layout 1, on which a
// reconciler applied CHG-2026-0001 (events 1 to 7, appended in layout 1)
// and cab verify recorded its checkpoint (returned).
func layout1World(t *testing.T) (*lworld, string) {
	w := newLWorld(t)
	w.mergeAndSign("CHG-2026-0001", "app:v1", "")
	w.toLayout1()
	out, code := w.reconcile()
	require.Zero(t, code, out)
	require.Equal(t, "app:v1", w.image("prod"))
	files := w.ledgerFiles()
	require.Contains(t, files, "ledger/CHG-2026-0001/7-verified.json", "a layout 1 ledger is appended in layout 1")
	require.NotContains(t, files, "LEDGER-VERSION")
	vcp := filepath.Join(t.TempDir(), "verify-checkpoint")
	vout, code := lrun(t, w.rc, "cab", "verify", "--checkpoint", vcp)
	require.Zero(t, code, vout)
	return w, vcp
}

// TestLedgerMigrationIsLossless: cab ledger migrate moves every file, the
// same blob, to its layout 2 path in one commit; the reconciler (holding a
// layout 1 checkpoint) and cab verify accept it, and events are appended
// in layout 2 from then on.
func TestLedgerMigrationIsLossless(t *testing.T) {
	w, vcp := layout1World(t)
	before := w.blobs("cab/ledger")
	logBefore, code := lrun(t, w.rc, "cab", "log", "--fetch", "--format", "csv")
	require.Zero(t, code, logBefore)

	out, code := lrun(t, w.work, "cab", "ledger", "migrate")
	require.Zero(t, code, out)
	assert.Contains(t, out, "migrated ledger cab/ledger from layout 1 to 2: 1 ticket(s) moved in commit ")
	after := w.blobs("cab/ledger")
	assert.Equal(t, "2\n", lgit(t, w.changes, "show", "cab/ledger:LEDGER-VERSION")+"\n")
	assert.Len(t, after, len(before)+1, "every file moved, the marker added, nothing else")
	for path, blob := range before {
		moved := strings.Replace(path, "ledger/CHG-2026-0001/", "ledger/01/CHG-2026-0001/", 1)
		assert.Equal(t, blob, after[moved], "%s moved byte for byte to %s", path, moved)
	}
	assert.Equal(t, "1\n", lgit(t, w.changes, "rev-list", "--count", "cab/ledger~1..cab/ledger")+"\n", "one commit")
	out, code = lrun(t, w.work, "cab", "ledger", "migrate")
	require.Zero(t, code, out)
	assert.Contains(t, out, "already in layout 2")
	logAfter, code := lrun(t, w.rc, "cab", "log", "--fetch", "--format", "csv")
	assert.Zero(t, code, "cab log, whose index read the ledger before, accepts the migration:\n%s", logAfter)
	assert.Equal(t, logBefore, logAfter, "the same rows")

	w.mergeAndSign("CHG-2026-0002", "app:v2", "second.yaml")
	out, code = w.reconcile()
	require.Zero(t, code, out)
	assert.NotContains(t, out, "STOPPED")
	assert.Equal(t, "app:v2", w.imageIn("prod", "second.yaml"), "the reconciler went on:\n%s", out)
	files := w.ledgerFiles()
	assert.Contains(t, files, "ledger/02/CHG-2026-0002/1-signed.json", "cab sign appends in layout 2")
	assert.Contains(t, files, "ledger/02/CHG-2026-0002/7-verified.json", "the reconciler appends in layout 2")
	for _, f := range files {
		assert.False(t, strings.HasPrefix(f, "ledger/CHG-"), "nothing left in layout 1: %s", f)
	}

	vout, code := lrun(t, w.rc, "cab", "verify", "--checkpoint", vcp)
	assert.Zero(t, code, vout)
	assert.Contains(t, vout, "chain intact")
	vout, code = lrun(t, w.rc, "cab", "verify")
	assert.Zero(t, code, vout)
}

// TestForgedMigrationIsARewrite: a commit that moves the ledger to layout
// 2 but drops, edits or adds an event, or moves one to another ticket,
// stops the reconciler (nothing applied, the tickets and paths named) and
// is named by cab verify, with or without a checkpoint.
func TestForgedMigrationIsARewrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		forge func(t *testing.T, dir string)
		want  []string
	}{
		{"drop one event", func(t *testing.T, dir string) {
			rm(t, dir, "ledger/01/CHG-2026-0001/7-verified.json", "ledger/01/CHG-2026-0001/7-verified.dsse")
		}, []string{"deletes ledger/01/CHG-2026-0001/7-verified.json"}},
		{"edit one event", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "ledger/01/CHG-2026-0001/5-applying.json")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, bytes.Replace(b, []byte(`"actor": "rc"`), []byte(`"actor": "rc2"`), 1), 0o644))
		}, []string{"modifies ledger/01/CHG-2026-0001/5-applying.json"}},
		{"add one event", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "ledger/01/CHG-2026-0001/7-verified.json"))
			require.NoError(t, err)
			b = []byte(strings.NewReplacer(`"seq": 7`, `"seq": 8`, `"verified"`, `"drifted"`).Replace(string(b)))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "ledger/01/CHG-2026-0001/8-drifted.json"), b, 0o644))
		}, []string{"adds ledger/01/CHG-2026-0001/8-drifted.json"}},
		{"move one event to another ticket", func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "ledger/02/CHG-2026-0002"), 0o755))
			for _, ext := range []string{".json", ".dsse"} {
				require.NoError(t, os.Rename(filepath.Join(dir, "ledger/01/CHG-2026-0001/7-verified"+ext), filepath.Join(dir, "ledger/02/CHG-2026-0002/7-verified"+ext)))
			}
		}, []string{"deletes ledger/01/CHG-2026-0001/7-verified.json", "adds ledger/02/CHG-2026-0002"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, vcp := layout1World(t)
			w.migrateByHand(func(dir string) { tc.forge(t, dir) })
			w.mergeAndSign("CHG-2026-0003", "app:v3", "second.yaml")
			envBefore := lgit(t, w.env, "rev-parse", "main")

			out, code := w.reconcile()
			assert.Equal(t, 1, code, out)
			assert.Contains(t, out, "STOPPED, nothing applied")
			assert.Contains(t, out, "CHG-2026-0001")
			for _, want := range tc.want {
				assert.Contains(t, out, want)
			}
			assert.Equal(t, envBefore, lgit(t, w.env, "rev-parse", "main"), "nothing applied")

			vout, code := lrun(t, w.rc, "cab", "verify", "--checkpoint", vcp)
			assert.Equal(t, 1, code, vout)
			assert.Contains(t, vout, "BROKEN CHG-2026-0001 ")
			assert.Contains(t, vout, "ledger-rewritten: events dropped or rewritten since the checkpoint")
			for _, want := range tc.want {
				assert.Contains(t, vout, want)
			}
			vout, code = lrun(t, w.rc, "cab", "verify")
			assert.Equal(t, 1, code, vout)
			assert.Contains(t, vout, "is not a lossless migration to layout 2")
		})
	}
}
