package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit/logindex"
)

func indexFileOf(h *history) string { return logindex.Path(filepath.Join(h.dir, ".git")) }

// runState runs Log and returns the rows and how the index served.
func runState(t *testing.T, h *history, o LogOptions) ([]*Change, IndexStats) {
	t.Helper()
	rows, res := logRows(t, h.dir, o)
	return rows, res.Index
}

func TestIndexStates(t *testing.T) {
	h := fixture(t)
	want, _ := runState(t, h, LogOptions{Index: IndexOff})

	rows, st := runState(t, h, LogOptions{})
	assert.Equal(t, want, rows)
	assert.Equal(t, "cold", st.State)
	assert.Equal(t, 6, st.Commits, "the whole first-parent chain")
	assert.True(t, st.Written)

	rows, st = runState(t, h, LogOptions{})
	assert.Equal(t, want, rows)
	assert.Equal(t, IndexStats{State: "warm"}, st, "nothing walked, nothing read, nothing written")

	// A new merge: only it is walked.
	h.merge(8, "Erin", time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), map[string]string{
		ticketFile("CHG-2026-0006", "search"): ticketSource("CHG-2026-0006", "New", "normal", "low", "search", "staging"),
	})
	want, _ = runState(t, h, LogOptions{Index: IndexOff})
	rows, st = runState(t, h, LogOptions{})
	assert.Equal(t, want, rows)
	assert.Equal(t, "extended", st.State)
	assert.Equal(t, 1, st.Commits)
	assert.Equal(t, 1, st.Blobs)
	assert.Equal(t, "CHG-2026-0006", rows[0].ID)

	// An older revision is answered from the index, which stays as it is.
	before, err := os.ReadFile(indexFileOf(h))
	require.NoError(t, err)
	wantOld, _ := runState(t, h, LogOptions{Rev: "HEAD~2", Index: IndexOff})
	rows, st = runState(t, h, LogOptions{Rev: "HEAD~2"})
	assert.Equal(t, wantOld, rows)
	assert.Equal(t, "prefix", st.State)
	assert.False(t, st.Written)
	after, err := os.ReadFile(indexFileOf(h))
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// Main rewritten from HEAD~3 on: the index is spliced at the fork.
	c, err := h.repo.ResolveRevision("HEAD~3")
	require.NoError(t, err)
	h.head = *c
	commit, err := h.repo.CommitObject(*c)
	require.NoError(t, err)
	files, err := commit.Files()
	require.NoError(t, err)
	h.main = map[string]string{}
	require.NoError(t, files.ForEach(func(f *object.File) error { s, err := f.Contents(); h.main[f.Name] = s; return err }))
	h.merge(9, "Frank", time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC), map[string]string{
		ticketFile("CHG-2026-0007", "payments"): ticketSource("CHG-2026-0007", "Other", "normal", "low", "payments", "prod"),
	})
	want, _ = runState(t, h, LogOptions{Index: IndexOff})
	rows, st = runState(t, h, LogOptions{})
	assert.Equal(t, want, rows)
	assert.Equal(t, "extended", st.State)
	assert.Equal(t, 1, st.Commits)
	assert.Equal(t, []string{"CHG-2026-0007", "CHG-2026-0004", "CHG-2026-0003", "CHG-2026-0002", "CHG-2026-0001"}, ids(rows))

	rep, err := VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Empty(t, rep.Differences)
}

// Whatever a run emits and in which order, the index it leaves serves the
// next run warm, with the same rows.
func TestIndexAfterEveryKindOfRun(t *testing.T) {
	for name, o := range map[string]LogOptions{
		"reverse":   {Reverse: true},
		"opened at": {OpenedAt: true},
		"filtered":  {Filter: Filter{Services: []string{"search"}, Risks: []string{"low"}}},
		"events":    {},
	} {
		t.Run(name, func(t *testing.T) {
			h := fixture(t)
			want, _ := runState(t, h, LogOptions{Index: IndexOff})
			if name == "events" {
				_, err := LogEvents(context.Background(), LogOptions{Dir: h.dir}, func(*EventRow) error { return nil })
				require.NoError(t, err)
			} else {
				_, st := runState(t, h, o)
				require.Equal(t, "cold", st.State)
			}
			rows, st := runState(t, h, LogOptions{})
			assert.Equal(t, "warm", st.State)
			assert.Equal(t, want, rows)
		})
	}
}

func TestIndexDamagedIsRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"empty", func([]byte) []byte { return nil }},
		{"a flipped bit", func(b []byte) []byte { b[len(b)/3] ^= 0x10; return b }},
		{"another version", func(b []byte) []byte { b[len(logindex.Magic)] = 99; return b }},
		{"not an index", func([]byte) []byte { return []byte("hello") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t)
			want, _ := runState(t, h, LogOptions{Index: IndexOff})
			_, _ = runState(t, h, LogOptions{})
			b, err := os.ReadFile(indexFileOf(h))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(indexFileOf(h), tc.damage(b), 0o644))
			rows, st := runState(t, h, LogOptions{})
			assert.Equal(t, want, rows)
			assert.Equal(t, "cold", st.State)
			assert.True(t, st.Written)
			_, st = runState(t, h, LogOptions{})
			assert.Equal(t, "warm", st.State)
		})
	}
}

func TestIndexRoundTrip(t *testing.T) {
	h := fixture(t)
	r, err := run(context.Background(), LogOptions{Dir: h.dir, Index: IndexOff}, func(*runner, *mergeRec, *ticketRec, *ledgerTicket) error { return nil })
	require.NoError(t, err)
	r.idx.notes = []Problem{{What: ProblemLedgerRewritten, Message: "m"}}
	data := encodeIndex(r.idx)
	got, err := decodeIndex(data)
	require.NoError(t, err)
	assert.Empty(t, compareIndex(got, r.idx))
	assert.Equal(t, r.idx.notes, got.notes)
	assert.Equal(t, r.idx.ledgerRef, got.ledgerRef)
	assert.Equal(t, data, encodeIndex(got), "decode then encode gives the same bytes")
}

func TestVerifyIndexFindsAndFixesAForgedIndex(t *testing.T) {
	h := fixture(t)
	_, _ = runState(t, h, LogOptions{})
	b, err := os.ReadFile(indexFileOf(h))
	require.NoError(t, err)
	idx, err := decodeIndex(b)
	require.NoError(t, err)
	// A consistent index (good checksum) that lies: the index is a cache
	// trusted by ordinary runs, and --verify-index is what checks it.
	idx.merges[0].Tickets[0].Title = "forged"
	idx.ledger.Tickets[0].Events[0].Actor = "someone else"
	require.NoError(t, os.WriteFile(indexFileOf(h), encodeIndex(idx), 0o644))

	rep, err := VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"merge " + idx.merges[0].Commit.String() + ": changes/search/CHG-2026-0005.cue: the index holds other ticket data than the file",
		"ledger CHG-2026-0001: event 1 differs",
	}, rep.Differences)
	assert.Equal(t, 6, rep.Commits)
	assert.Equal(t, 5, rep.Tickets)

	rep, err = VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Empty(t, rep.Differences, "fixed by the first verification")
}

func FuzzDecodeIndex(f *testing.F) {
	idx := sampleIndex()
	full := encodeIndex(idx)
	body := full[len(logindex.Magic) : len(full)-4]
	got, err := decodeIndexBody(body)
	require.NoError(f, err)
	require.Empty(f, compareIndex(got, idx))
	f.Add(body)
	empty := encodeIndex(&logIndex{})
	f.Add(empty[len(logindex.Magic) : len(empty)-4])
	f.Fuzz(func(t *testing.T, body []byte) {
		idx, err := decodeIndexBody(body)
		if err != nil {
			return
		}
		// Whatever decodes encodes and decodes again to the same index.
		again, err := decodeIndex(encodeIndex(idx))
		require.NoError(t, err)
		assert.Empty(t, compareIndex(again, idx))
	})
}
