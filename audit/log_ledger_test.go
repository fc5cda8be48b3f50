package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledgerFiles reads every file of the ledger commit c.
func (h *history) ledgerFiles(c plumbing.Hash) map[string]string {
	h.t.Helper()
	commit, err := h.repo.CommitObject(c)
	require.NoError(h.t, err)
	files, err := commit.Files()
	require.NoError(h.t, err)
	out := map[string]string{}
	require.NoError(h.t, files.ForEach(func(f *object.File) error {
		s, err := f.Contents()
		out[f.Name] = s
		return err
	}))
	return out
}

// editLedger commits, on top of the ledger head, the ledger's files as
// edit leaves them: what cab never writes.
func (h *history) editLedger(msg string, edit func(files map[string]string)) plumbing.Hash {
	h.t.Helper()
	head := h.ledgerHead()
	files := h.ledgerFiles(head)
	edit(files)
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	c := h.commit(files, []plumbing.Hash{head}, sig("Mallory", at), sig("Mallory", at), msg)
	h.setLedger(c)
	return c
}

func problemsOf(res *LogResult, what string) []string {
	var out []string
	for _, p := range res.Problems {
		if p.What == what {
			out = append(out, p.Ticket+": "+p.Message)
		}
	}
	return out
}

func TestLogBrokenLedgerIsReportedRowsStillShown(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(files map[string]string)
		want string // the problem reported for CHG-2026-0001
		// outcome of CHG-2026-0001 from what is still readable
		outcome string
	}{
		{"gap", func(f map[string]string) { delete(f, "ledger/01/CHG-2026-0001/3-applied.json") },
			"CHG-2026-0001: ledger/01/CHG-2026-0001/event 3 is missing", "rolled-back"},
		{"gap at the end", func(f map[string]string) {
			delete(f, "ledger/01/CHG-2026-0001/7-failed.json")
		}, "CHG-2026-0001: ledger/01/CHG-2026-0001/event 7 is missing", "rolled-back"},
		{"undecodable event", func(f map[string]string) { f["ledger/01/CHG-2026-0001/2-applying.json"] = "{not json" },
			"CHG-2026-0001: ledger/01/CHG-2026-0001/2-applying.json: invalid character 'n' looking for beginning of object key string", "rolled-back"},
		{"event disagreeing with its name", func(f map[string]string) {
			f["ledger/01/CHG-2026-0001/2-applying.json"] = strings.Replace(f["ledger/01/CHG-2026-0001/2-applying.json"], `"seq": 2`, `"seq": 3`, 1)
		}, "CHG-2026-0001: ledger/01/CHG-2026-0001/2-applying.json: holds applying event 3 of CHG-2026-0001", "rolled-back"},
		{"impossible transition", func(f map[string]string) {
			f["ledger/01/CHG-2026-0001/9-verified.json"] = strings.NewReplacer(`"seq": 8`, `"seq": 9`, `"rolled-back"`, `"verified"`).
				Replace(f["ledger/01/CHG-2026-0001/8-rolled-back.json"])
		}, "CHG-2026-0001: ledger: CHG-2026-0001 event 9 in prod: impossible transition rolled-back → verified: not applied", "verified"},
		{"stray file", func(f map[string]string) { f["ledger/01/CHG-2026-0001/notes.txt"] = "x" },
			"CHG-2026-0001: ledger/01/CHG-2026-0001/notes.txt: not <seq>-<kind>.json or .dsse", "rolled-back"},
		{"not a ticket directory", func(f map[string]string) { f["ledger/README"] = "x" },
			": ledger/README: not a ticket directory", "rolled-back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t)
			h.editLedger("tamper\n", tc.edit)
			for _, mode := range []IndexMode{IndexOff, IndexUse, IndexUse} {
				rows, res := logRows(t, h.dir, LogOptions{Index: mode})
				require.Len(t, rows, 5, "rows are still shown")
				assert.True(t, res.LedgerBroken())
				assert.Contains(t, problemsOf(res, ProblemLedgerBroken), tc.want)
				for _, c := range rows {
					if c.ID == "CHG-2026-0001" {
						assert.Equal(t, tc.outcome, c.Outcome)
						assert.Equal(t, "signed", c.Signature)
						if tc.want[0] != ':' {
							assert.NotEmpty(t, c.Problems)
						}
					} else if c.ID != "CHG-2026-0005" { // whose file has a problem of its own
						assert.Empty(t, c.Problems, "%s: other tickets unaffected", c.ID)
					}
				}
			}
		})
	}
}

func TestLogLedgerRewrittenSinceLastRead(t *testing.T) {
	h := fixture(t)
	_, res := logRows(t, h.dir, LogOptions{})
	require.False(t, res.LedgerBroken())
	head := h.ledgerHead()
	c, err := h.repo.CommitObject(head)
	require.NoError(t, err)
	older, err := c.Parent(0)
	require.NoError(t, err)
	// A force-push drops the last event (CHG-2026-0004's unsigned).
	h.setLedger(older.Hash)
	for i := range 2 { // reported on every run since, not once
		rows, res := logRows(t, h.dir, LogOptions{})
		require.Len(t, rows, 5)
		require.True(t, res.LedgerBroken(), "run %d", i)
		got := problemsOf(res, ProblemLedgerRewritten)
		require.Len(t, got, 1)
		assert.Contains(t, got[0], "the ledger was rewritten: "+head.String())
		for _, c := range rows {
			if c.ID == "CHG-2026-0004" {
				assert.Equal(t, "", c.Signature, "the dropped event is gone from the rows")
			}
		}
	}
	// Without the index there is no memory of the earlier head.
	_, res = logRows(t, h.dir, LogOptions{Index: IndexOff})
	assert.False(t, res.LedgerBroken())
}

func TestLogLedgerEditedInPlace(t *testing.T) {
	h := fixture(t)
	_, res := logRows(t, h.dir, LogOptions{})
	require.False(t, res.LedgerBroken())
	h.editLedger("fix a typo\n", func(f map[string]string) {
		f["ledger/01/CHG-2026-0001/7-failed.json"] = strings.Replace(f["ledger/01/CHG-2026-0001/7-failed.json"], "0.41", "0.21", 1)
	})
	rows, res := logRows(t, h.dir, LogOptions{})
	require.Len(t, rows, 5)
	require.True(t, res.LedgerBroken())
	got := problemsOf(res, ProblemLedgerRewritten)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "modifies ledger/01/CHG-2026-0001/7-failed.json")
}

func TestLogLedgerAppendedIncrementally(t *testing.T) {
	h := fixture(t)
	_, _ = logRows(t, h.dir, LogOptions{})
	h.appendLedger(ledgerEvent4Signed(t, h))
	rows, res := logRows(t, h.dir, LogOptions{Filter: Filter{IDs: []string{"CHG-2026-0005"}}})
	require.Len(t, rows, 1)
	assert.False(t, res.LedgerBroken(), "%v", res.Problems)
	assert.Equal(t, "signed", rows[0].Signature)
	off, _ := logRows(t, h.dir, LogOptions{Index: IndexOff, Filter: Filter{IDs: []string{"CHG-2026-0005"}}})
	assert.Equal(t, off, rows)
}
