package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit/logindex"
)

// byIDQuestions are questions naming tickets exactly, over the ids of h's
// rows and one no merge added.
func byIDQuestions(rows []*Change) map[string]Filter {
	all := []string{"CHG-2099-0001"}
	for _, c := range rows {
		all = append(all, c.ID)
	}
	qs := map[string]Filter{
		"every id":       {IDs: all},
		"unknown id":     {IDs: []string{"CHG-2099-0001"}},
		"ids and risk":   {IDs: all, Risks: []string{"low"}},
		"ids and period": {IDs: all, Since: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
	}
	services := []string{"zz"}
	for _, c := range rows {
		qs[c.ID] = Filter{IDs: []string{c.ID, c.ID}}
		services = append(services, c.Service)
		qs["service "+c.Service] = Filter{Services: []string{c.Service}}
		qs["service and id "+c.ID] = Filter{Services: []string{c.Service}, IDs: []string{c.ID}}
	}
	qs["every service"] = Filter{Services: services}
	qs["services and id pattern"] = Filter{Services: services, IDs: []string{"*1"}}
	qs["services and period"] = Filter{Services: services, Since: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	return qs
}

// asPatterns is f with each id and service written as a pattern matching
// only it ("[C]HG-2026-0001"), which the lookup section does not answer:
// the whole index does.
func asPatterns(f Filter) Filter {
	pat := func(vs []string) []string {
		out := slices.Clone(vs)
		for i, v := range out {
			if v != "" && !strings.ContainsAny(v, "*?[") {
				out[i] = "[" + v[:1] + "]" + v[1:]
			}
		}
		return out
	}
	f.IDs, f.Services = pat(f.IDs), pat(f.Services)
	return f
}

// checkByID asks every byIDQuestion of the warm index of h and compares
// each answer with the whole index's (rows, events, problems with the
// index's sticky notes, merged) and the rows with the full scan's.
func checkByID(t *testing.T, h *history, stage string) {
	t.Helper()
	_, res := logRows(t, h.dir, LogOptions{}) // bring the index up to date
	require.NotEqual(t, "off", res.Index.State)
	all, _ := logRows(t, h.dir, LogOptions{Index: IndexOff})
	for name, f := range byIDQuestions(all) {
		for _, reverse := range []bool{false, true} {
			scan, _ := logRows(t, h.dir, LogOptions{Index: IndexOff, Filter: f, Reverse: reverse})
			want, wantRes := logRows(t, h.dir, LogOptions{Filter: asPatterns(f), Reverse: reverse})
			require.Equal(t, IndexStats{State: "warm"}, wantRes.Index)
			got, res := logRows(t, h.dir, LogOptions{Filter: f, Reverse: reverse})
			assert.Equal(t, scan, got, "%s: %s reverse=%v", stage, name, reverse)
			assert.Equal(t, want, got, "%s: %s reverse=%v", stage, name, reverse)
			assert.Equal(t, wantRes.Rows, res.Rows, name)
			assert.Equal(t, wantRes.Merged, res.Merged, name)
			assert.Equal(t, wantRes.Problems, res.Problems, name)
			assert.Equal(t, wantRes.MainHead, res.MainHead, name)
			assert.Equal(t, wantRes.LedgerHead, res.LedgerHead, name)
			assert.Equal(t, IndexStats{State: "warm", Lookup: true}, res.Index, "%s: %s", stage, name)
		}
		var wantEv, gotEv []*EventRow
		_, err := LogEvents(context.Background(), LogOptions{Dir: h.dir, Filter: asPatterns(f)}, func(e *EventRow) error { wantEv = append(wantEv, e); return nil })
		require.NoError(t, err)
		res, err := LogEvents(context.Background(), LogOptions{Dir: h.dir, Filter: f}, func(e *EventRow) error { gotEv = append(gotEv, e); return nil })
		require.NoError(t, err)
		assert.Equal(t, wantEv, gotEv, "%s: events of %s", stage, name)
		assert.True(t, res.Index.Lookup)
	}
}

// A question naming its tickets is answered from the index's lookup
// section when the index is up to date, with the full scan's answer:
// tickets added twice, moved, nested, unreadable, with ledger events,
// with ledger problems of other tickets (reported on every run) and
// sticky notes.
func TestLogByIDMatchesFullScan(t *testing.T) {
	h := fixture(t)
	checkByID(t, h, "fixture")

	// Ledger problems of another ticket, and a rewritten ledger (a note).
	h.editLedger("tamper\n", func(f map[string]string) { delete(f, "ledger/01/CHG-2026-0001/3-applied.json") })
	checkByID(t, h, "broken ledger")
	h.setLedger(h.commit(map[string]string{"ledger/README": "x"}, nil, sig("Mallory", day), sig("Mallory", day), "rewritten\n"))
	checkByID(t, h, "rewritten ledger")
	_, res := logRows(t, h.dir, LogOptions{Filter: Filter{IDs: []string{"CHG-2026-0002"}}})
	assert.True(t, res.LedgerBroken(), "a note of another ticket is reported")

	checkByID(t, randomHistory(t, 7, 60), "random history")

	added := newHistory(t)
	added.root(day, map[string]string{"cab.cue": "x"})
	p := ticketFile("CHG-2026-0001", "payments")
	added.merge(1, "Alice", day.Add(time.Hour), map[string]string{p: ticketSource("CHG-2026-0001", "First", "normal", "low", "payments", "staging")})
	added.push("Bob", day.Add(2*time.Hour), "Remove it\n", map[string]string{p: ""})
	added.merge(2, "Carol", day.Add(3*time.Hour), map[string]string{p: ticketSource("CHG-2026-0001", "Second", "normal", "low", "payments", "staging")})
	checkByID(t, added, "ticket added twice")
}

// Where the lookup section cannot promise the full answer, the whole
// index answers (and brings itself up to date as before).
func TestLogByIDFallsBack(t *testing.T) {
	h := fixture(t)
	one := Filter{IDs: []string{"CHG-2026-0003"}}
	_, res := logRows(t, h.dir, LogOptions{Filter: one})
	assert.Equal(t, "cold", res.Index.State, "no index: built")
	assert.False(t, res.Index.Lookup)
	_, res = logRows(t, h.dir, LogOptions{Filter: one})
	assert.True(t, res.Index.Lookup)

	for name, o := range map[string]LogOptions{
		"pattern":         {Filter: Filter{IDs: []string{"CHG-2026-000[13]"}}},
		"service pattern": {Filter: Filter{Services: []string{"pay*"}}},
		"opened at":       {Filter: one, OpenedAt: true},
		"older main":      {Filter: one, Rev: "HEAD~1"},
		"index off":       {Filter: one, Index: IndexOff},
		"rebuild":         {Filter: one, Index: IndexRebuild},
		"other ledger":    {Filter: one, LedgerBranch: "cab/other"},
	} {
		want, _ := logRows(t, h.dir, LogOptions{Index: IndexOff, Filter: o.Filter, Rev: o.Rev, OpenedAt: o.OpenedAt, LedgerBranch: o.LedgerBranch})
		got, res := logRows(t, h.dir, o)
		assert.Equal(t, want, got, name)
		assert.False(t, res.Index.Lookup, name)
		_, _ = logRows(t, h.dir, LogOptions{}) // back to the default ledger's view
	}

	// Main or the ledger moved on: the whole index is brought up to date.
	h.merge(8, "Erin", time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), map[string]string{
		ticketFile("CHG-2026-0006", "search"): ticketSource("CHG-2026-0006", "New", "normal", "low", "search", "staging"),
	})
	_, res = logRows(t, h.dir, LogOptions{Filter: Filter{IDs: []string{"CHG-2026-0006"}}})
	assert.Equal(t, "extended", res.Index.State)
	assert.False(t, res.Index.Lookup)
	h.appendLedger(ledgerEvent4Signed(t, h))
	want, _ := logRows(t, h.dir, LogOptions{Index: IndexOff, Filter: Filter{IDs: []string{"CHG-2026-0005"}}})
	got, res := logRows(t, h.dir, LogOptions{Filter: Filter{IDs: []string{"CHG-2026-0005"}}})
	assert.Equal(t, want, got)
	assert.False(t, res.Index.Lookup, "the ledger moved")
	assert.True(t, res.Index.Written)
	got, res = logRows(t, h.dir, LogOptions{Filter: Filter{IDs: []string{"CHG-2026-0005"}}})
	assert.Equal(t, want, got)
	assert.True(t, res.Index.Lookup)
}

// resum rewrites the checksum of an index file edited by hand.
func resum(data []byte) {
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[:len(data)-4], crc32.MakeTable(crc32.Castagnoli)))
}

// A lookup section that is not the one its records give (a file made by
// hand, with a matching checksum) is what --verify-index reports, and it
// rewrites the index.
func TestVerifyIndexFindsALyingLookupSection(t *testing.T) {
	h := fixture(t)
	_, _ = logRows(t, h.dir, LogOptions{})
	data, err := os.ReadFile(indexFileOf(h))
	require.NoError(t, err)
	// Swap the first two entries of the lookup table.
	d, err := logindex.Open(data, indexVersion)
	require.NoError(t, err)
	l := d.At(uint64(d.Uint32()))
	l.Uvarint()
	l.Uvarint()
	l.Uvarint()
	l.Str()
	for range l.Count(1) {
		l.Uvarint()
	}
	require.GreaterOrEqual(t, l.Count(4), 2)
	require.NoError(t, l.Err())
	// The body starts after the magic, the version and the string table.
	start := len(logindex.Magic)
	_, n := binary.Uvarint(data[start:])
	start += n
	strs, n := binary.Uvarint(data[start:])
	start += n + int(strs)
	table := data[start+l.Offset():]
	var first [4]byte
	copy(first[:], table[:4])
	copy(table[:4], table[4:8])
	copy(table[4:8], first[:])
	resum(data)
	require.NoError(t, os.WriteFile(indexFileOf(h), data, 0o644))
	_, err = decodeIndex(data)
	require.NoError(t, err, "the records still decode")

	rep, err := VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Equal(t, []string{"the index's lookup section (or its encoding) is not the one its records give"}, rep.Differences)
	rep, err = VerifyIndex(context.Background(), LogOptions{Dir: h.dir})
	require.NoError(t, err)
	assert.Empty(t, rep.Differences, "rewritten by the first verification")
	checkByID(t, h, "after --verify-index")
}

// FuzzIndexLookup reads arbitrary index bodies through the lookup
// section: nothing panics, and for an index in its canonical form (the
// bytes encodeIndex writes for what the body decodes to) the records
// looked up are those of the whole index: the merges that added the id,
// newest first, its ledger ticket, and the ledger tickets with problems.
func FuzzIndexLookup(f *testing.F) {
	for _, idx := range []*logIndex{sampleIndex(), {}} {
		full := encodeIndex(idx)
		f.Add(full[len(logindex.Magic):len(full)-4], "CHG-2026-0001")
		f.Add(full[len(logindex.Magic):len(full)-4], "s")
	}
	f.Add([]byte{}, "p")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		d, err := logindex.OpenBody(body, indexVersion)
		if err != nil {
			return
		}
		lk, lerr := lookupIndex(d, []string{id}, nil, &Filter{IDs: []string{id}})
		idx, err := decodeIndexBody(body)
		if err != nil || lerr != nil || lk == nil {
			return
		}
		file := append(append([]byte(logindex.Magic), body...), 0, 0, 0, 0)
		resum(file)
		if !bytes.Equal(encodeIndex(idx), file) {
			return // not canonical: --verify-index reports it
		}
		var want []*mergeRec
		merged := 0
		for _, m := range idx.merges {
			merged += len(m.Tickets)
			if slices.ContainsFunc(m.Tickets, func(t ticketRec) bool { return t.ID == id }) {
				want = append(want, m)
			}
		}
		require.Equal(t, idx.head, lk.head)
		require.Equal(t, merged, lk.merged)
		require.Len(t, lk.merges, len(want))
		for i, m := range want {
			require.Equal(t, m.Commit, lk.merges[i].Commit)
			require.Equal(t, m.Tickets, lk.merges[i].Tickets)
		}
		require.Equal(t, idx.notes, lk.notes)
		require.Equal(t, idx.ledgerRef, lk.ledgerRef)
		require.Equal(t, repositoryOf(idx.ledger), lk.repository)
		for _, lt := range idx.ledger.Tickets {
			if lt.ID == id || len(lt.Problems) > 0 {
				require.Equal(t, lt, lk.ledger.ticket(lt.ID))
			}
		}

		// The same string as a service.
		d, err = logindex.OpenBody(body, indexVersion)
		require.NoError(t, err)
		lk, err = lookupIndex(d, nil, []string{id}, &Filter{Services: []string{id}})
		require.NoError(t, err)
		want = want[:0]
		for _, m := range idx.merges {
			if slices.ContainsFunc(m.Tickets, func(t ticketRec) bool { return t.Service == id }) {
				want = append(want, m)
			}
		}
		if lk == nil {
			return // a ticket of the service without its metadata
		}
		require.Len(t, lk.merges, len(want))
		for i, m := range want {
			require.Equal(t, m.Commit, lk.merges[i].Commit)
			for _, tk := range m.Tickets {
				if lt := idx.ledger.ticket(tk.ID); lt != nil && tk.Service == id {
					require.Equal(t, lt, lk.ledger.ticket(tk.ID))
				}
			}
		}
	})
}
