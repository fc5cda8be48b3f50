package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/cabhq/cab/audit/logindex"
)

// IndexReport is the verdict of VerifyIndex.
type IndexReport struct {
	// Differences name each place where the index and git disagree.
	Differences []string
	// What the index describes: main commits, merges adding tickets, the
	// tickets they added, and ledger tickets.
	Commits, Merges, Tickets, LedgerTickets int
}

// maxDifferences bounds the differences VerifyIndex lists.
const maxDifferences = 100

// VerifyIndex brings the index of cab log up to date (as Log does, reading
// every ticket), then re-derives everything it holds from git alone, at
// the same main and ledger heads, and compares. When they differ, the
// index is replaced by what git says, and the differences are returned.
func VerifyIndex(ctx context.Context, o LogOptions) (*IndexReport, error) {
	o.Index, o.Filter, o.Reverse, o.OpenedAt = IndexUse, Filter{}, false, false
	r, err := run(ctx, o, func(*runner, *mergeRec, *ticketRec, *ledgerTicket) error { return nil })
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(logindex.Path(r.gitDir))
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	have, err := decodeIndex(data)
	if err != nil {
		return nil, err
	}
	// The lookup section, which a question naming its tickets reads
	// instead of the records, must be the one the records give: the
	// index written from them is byte for byte the file.
	canonical := bytes.Equal(encodeIndex(have), data)
	main, led := have.head, have.ledger.Head
	o.Index, o.atMain, o.atLedger = IndexOff, &main, &led
	o.OpenedAt = slices.ContainsFunc(have.merges, func(m *mergeRec) bool { return m.OpenedKnown })
	fresh, err := run(ctx, o, func(*runner, *mergeRec, *ticketRec, *ledgerTicket) error { return nil })
	if err != nil {
		return nil, err
	}
	want := fresh.idx
	rep := &IndexReport{Commits: len(want.chain), Merges: len(want.merges), LedgerTickets: len(want.ledger.Tickets)}
	for _, m := range want.merges {
		rep.Tickets += len(m.Tickets)
	}
	if !canonical {
		rep.Differences = append(rep.Differences, "the index's lookup section (or its encoding) is not the one its records give")
	}
	rep.Differences = append(rep.Differences, compareIndex(have, want)...)
	if len(rep.Differences) > 0 {
		want.notes = have.notes
		fresh.gitDir = r.gitDir
		if err := fresh.saveIndex(); err != nil {
			return nil, fmt.Errorf("replacing the index: %w", err)
		}
	}
	return rep, nil
}

// compareIndex lists where have differs from want (derived from git).
func compareIndex(have, want *logIndex) []string {
	var out []string
	add := func(format string, args ...any) bool {
		if len(out) < maxDifferences {
			out = append(out, fmt.Sprintf(format, args...))
		}
		return len(out) < maxDifferences
	}
	if have.head != want.head || !slices.Equal(have.chain, want.chain) {
		add("main: the index has %d first-parent commits from %s, git %d from %s", len(have.chain), have.head, len(want.chain), want.head)
	}
	n := max(len(have.merges), len(want.merges))
	for i := 0; i < n; i++ {
		if i >= len(have.merges) {
			add("merge %s: missing from the index", want.merges[i].Commit)
			continue
		}
		if i >= len(want.merges) {
			add("merge %s: in the index, not in git", have.merges[i].Commit)
			continue
		}
		if d := diffMerge(have.merges[i], want.merges[i]); d != "" && !add("merge %s: %s", want.merges[i].Commit, d) {
			return out
		}
	}
	hl, wl := have.ledger, want.ledger
	if hl.Head != wl.Head || hl.Tree != wl.Tree || !slices.Equal(hl.Problems, wl.Problems) {
		add("ledger: the index read %s (tree %s), git says %s (tree %s)", hl.Head, hl.Tree, wl.Head, wl.Tree)
	}
	if len(hl.Tickets) != len(wl.Tickets) {
		add("ledger: the index has %d tickets, git %d", len(hl.Tickets), len(wl.Tickets))
	}
	for i := 0; i < min(len(hl.Tickets), len(wl.Tickets)); i++ {
		if d := diffLedgerTicket(hl.Tickets[i], wl.Tickets[i]); d != "" && !add("ledger %s: %s", wl.Tickets[i].ID, d) {
			return out
		}
	}
	return out
}

func diffMerge(h, w *mergeRec) string {
	switch {
	case h.Commit != w.Commit:
		return "commit " + h.Commit.String() + " in the index"
	case h.Parent != w.Parent:
		return "first parent " + h.Parent.String() + " in the index, " + w.Parent.String() + " in git"
	case !h.Time.Equal(w.Time):
		return "time " + rfc3339(h.Time) + " in the index, " + rfc3339(w.Time) + " in git"
	case h.Author != w.Author || h.PR != w.PR:
		return fmt.Sprintf("author %q, PR %d in the index; %q, %d in git", h.Author, h.PR, w.Author, w.PR)
	case h.OpenedKnown && w.OpenedKnown && !h.Opened.Equal(w.Opened):
		return "opened " + rfc3339(h.Opened) + " in the index, " + rfc3339(w.Opened) + " in git"
	case h.pos != w.pos:
		return fmt.Sprintf("at position %d on the chain in the index, %d in git", h.pos, w.pos)
	case len(h.Tickets) != len(w.Tickets):
		return fmt.Sprintf("%d tickets in the index, %d in git", len(h.Tickets), len(w.Tickets))
	}
	for i := range h.Tickets {
		a, b := h.Tickets[i], w.Tickets[i]
		if a.Path != b.Path || a.Mode != b.Mode || a.Blob != b.Blob || a.ID != b.ID || a.Service != b.Service {
			return fmt.Sprintf("ticket %s (%s) in the index, %s (%s) in git", a.Path, a.Blob, b.Path, b.Blob)
		}
		if a.MetaRead && b.MetaRead && (a.Title != b.Title || a.Kind != b.Kind || a.Risk != b.Risk || a.Owner != b.Owner ||
			!slices.Equal(a.Environments, b.Environments) || a.Problem != b.Problem) {
			return fmt.Sprintf("%s: the index holds other ticket data than the file", a.Path)
		}
	}
	return ""
}

func diffLedgerTicket(h, w *ledgerTicket) string {
	switch {
	case h.ID != w.ID:
		return "ticket " + h.ID + " in the index"
	case h.Tree != w.Tree:
		return "tree " + h.Tree.String() + " in the index, " + w.Tree.String() + " in git"
	case !slices.Equal(h.Problems, w.Problems):
		return "other problems in the index than in git"
	case len(h.Events) != len(w.Events):
		return fmt.Sprintf("%d events in the index, %d in git", len(h.Events), len(w.Events))
	}
	for i := range h.Events {
		a, b := h.Events[i], w.Events[i]
		if a.Seq != b.Seq || a.Kind != b.Kind || a.Env != b.Env || !a.At.Equal(b.At) || a.Actor != b.Actor ||
			a.Commit != b.Commit || a.Reason != b.Reason || (a.Signed == nil) != (b.Signed == nil) {
			return fmt.Sprintf("event %d differs", b.Seq)
		}
		if a.Signed != nil && !equalSigned(a.Signed, b.Signed) {
			return fmt.Sprintf("event %d: the signed predicate differs", b.Seq)
		}
	}
	return ""
}

func equalSigned(a, b *signedInfo) bool {
	return a.PR == b.PR && a.Author == b.Author && a.SignedAt.Equal(b.SignedAt) && a.Repository == b.Repository &&
		a.KeyID == b.KeyID && slices.Equal(a.Environments, b.Environments) &&
		slices.EqualFunc(a.Approvals, b.Approvals, func(x, y approval) bool { return x.ID == y.ID && x.Login == y.Login && x.At.Equal(y.At) })
}
