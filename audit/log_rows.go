package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/ledger"
)

// scan walks main from head back to where the index already knows the
// chain (or to the root), emits the rows of the new merges as it finds
// them, then those the index holds, and splices the index.
func (r *runner) scan(ctx context.Context, head plumbing.Hash, row rowFunc) error {
	idx := r.idx
	if head.IsZero() {
		if r.res.Index.State == "" {
			r.res.Index.State = "cold"
		}
		if idx.mainRead {
			r.dirty = true
		}
		idx.mainRead, idx.head, idx.chain, idx.merges = false, plumbing.ZeroHash, nil, nil
		return nil
	}
	// Where the index's chain is, by commit.
	var onIndexed map[plumbing.Hash]int
	stop := func(plumbing.Hash) bool { return false }
	switch {
	case !idx.mainRead:
	case idx.head == head:
		stop = func(h plumbing.Hash) bool { return h == head }
		onIndexed = map[plumbing.Hash]int{head: 0}
	default:
		onIndexed = make(map[plumbing.Hash]int, len(idx.chain))
		for i, h := range idx.chain {
			onIndexed[h] = i
		}
		stop = func(h plumbing.Hash) bool { _, ok := onIndexed[h]; return ok }
	}

	// The walk finds merges; workers, each with its own reader over the
	// shared packs and cache, compare trees and read the ticket files the
	// rows need (the costly part of a cold run); rows are emitted here in
	// the walk's order as soon as each merge is ready, or all at the end
	// when they must wait for the whole chain: oldest first, or OpenedAt
	// (which needs to know what is on main).
	buffer := r.o.Reverse || r.o.OpenedAt
	f := &r.o.Filter
	var (
		all    []*mergeRec // in walk order: the new merges, then the tail
		tail   []*mergeRec
		stopAt = -1
	)
	p := pipeline{obj: r.obj, workers: r.workers(), progress: r.o.Progress,
		prepare: func(w *mainWalker, m *mergeRec) int {
			blobs := 0
			if f.matchTime(m.Time) {
				for i := range m.Tickets {
					if t := &m.Tickets[i]; !t.MetaRead && f.matchPath(t) {
						w.readMeta(t)
						blobs++
					}
				}
			}
			return blobs
		}}
	end, err := walkPipeline(ctx, p, head, stop, func(end *walkEnd) []*mergeRec {
		if end.Stop.IsZero() {
			return nil
		}
		// The indexed part below the stop commit.
		stopAt = onIndexed[end.Stop]
		i, _ := slices.BinarySearchFunc(idx.merges, stopAt, func(m *mergeRec, pos int) int { return m.pos - pos })
		tail = idx.merges[i:]
		return tail
	}, func(m *mergeRec, blobs int) error {
		if blobs > 0 {
			r.res.Index.Blobs += blobs
			r.dirty = true
		}
		r.res.Merged += len(m.Tickets)
		all = append(all, m)
		if buffer {
			return nil
		}
		return r.emitMerge(m, row)
	})
	if err != nil {
		return err
	}
	fresh := all[:len(all)-len(tail)]
	r.res.Index.Commits = len(end.Chain)
	chainPos := make(map[plumbing.Hash]int, len(end.Chain))
	for i, h := range end.Chain {
		chainPos[h] = i
	}
	for _, m := range fresh {
		m.pos = chainPos[m.Commit]
	}
	// The chain read, for OpenedAt: the new part then the indexed one.
	var chain []plumbing.Hash
	if stopAt >= 0 {
		chain = append(slices.Clip(end.Chain), idx.chain[stopAt:]...)
	} else {
		chain = end.Chain
	}
	r.chain = chain
	shift := len(end.Chain) - max(stopAt, 0)

	switch {
	case stopAt < 0:
		if r.res.Index.State == "" { // not "off"
			r.res.Index.State = "cold"
		}
	case len(end.Chain) == 0 && stopAt == 0:
		r.res.Index.State = "warm"
	case len(end.Chain) == 0:
		r.res.Index.State = "prefix"
	default:
		r.res.Index.State = "extended"
	}
	if buffer {
		emitted := all
		if r.o.Reverse {
			emitted = slices.Clone(all)
			slices.Reverse(emitted)
		}
		for _, m := range emitted {
			if err := r.emitMerge(m, row); err != nil {
				return err
			}
		}
	}
	if r.res.Index.State == "warm" || r.res.Index.State == "prefix" {
		return nil
	}
	// Splice: the new merges, then the indexed ones re-positioned on the
	// new chain.
	merges := make([]*mergeRec, 0, len(fresh)+len(tail))
	merges = append(merges, fresh...)
	for _, m := range tail {
		m.pos += shift
		merges = append(merges, m)
	}
	idx.mainRead, idx.head, idx.chain, idx.merges = true, head, chain, merges
	r.dirty = true
	return nil
}

// emitMerge emits the rows of one merge that pass the cheap filters.
func (r *runner) emitMerge(m *mergeRec, row rowFunc) error {
	if err := r.awaitLedger(); err != nil {
		return err
	}
	f := &r.o.Filter
	if !f.matchTime(m.Time) {
		return nil
	}
	for i := range m.Tickets {
		t := &m.Tickets[i]
		if !f.matchPath(t) {
			continue
		}
		if !t.MetaRead {
			r.reader.readMeta(t)
			r.res.Index.Blobs++
			r.dirty = true
		}
		if r.o.OpenedAt && !m.OpenedKnown {
			if err := r.reader.opened(m, r.onMain); err != nil {
				return err
			}
			r.dirty = true
		}
		if err := row(r, m, t, r.ledgerFor(m, t)); err != nil {
			return err
		}
	}
	return nil
}

// onMain reports whether h is on the first-parent chain read.
func (r *runner) onMain(h plumbing.Hash) bool {
	if r.mainSet == nil {
		r.mainSet = make(map[plumbing.Hash]struct{}, len(r.chain))
		for _, c := range r.chain {
			r.mainSet[c] = struct{}{}
		}
	}
	_, ok := r.mainSet[h]
	return ok
}

// ledgerFor returns the ledger events of t, unless its signed or unsigned
// event judged another merge commit: then they are another row's (a
// ticket removed and added again), or of a merge no longer on main, and
// this merge was never judged.
func (r *runner) ledgerFor(m *mergeRec, t *ticketRec) *ledgerTicket {
	lt := r.ledger.ticket(t.ID)
	if lt == nil {
		return nil
	}
	for _, ev := range lt.Events {
		if (ev.Kind == ledger.KindSigned || ev.Kind == ledger.KindUnsigned) && ev.Commit != "" && ev.Commit != m.Commit.String() {
			return nil
		}
	}
	return lt
}

// change builds the row of ticket t added by merge m, with its ledger
// events lt (nil: none).
func (r *runner) change(m *mergeRec, t *ticketRec, lt *ledgerTicket) *Change {
	c := &Change{
		ID: t.ID, Title: t.Title, Service: t.Service, Kind: t.Kind, Risk: t.Risk, Owner: t.Owner, Path: t.Path,
		Author: m.Author, Approvers: []string{}, PR: m.PR, MergeCommit: m.Commit.String(), MergedAt: m.Time.UTC(),
		Environments: []EnvOutcome{}, Fixes: t.Fixes, PostReviewOf: t.PostReviewOf,
	}
	if m.OpenedKnown && r.o.OpenedAt {
		c.OpenedAt = m.Opened.UTC()
	}
	if t.Problem != "" {
		c.Problems = append(c.Problems, t.Path+": "+t.Problem)
	}
	repository := r.repository
	envs := t.Environments
	var events []ledgerEvent
	if lt != nil {
		events = lt.Events
		c.Problems = append(c.Problems, lt.Problems...)
	}
	for _, ev := range events {
		switch ev.Kind {
		case ledger.KindSigned:
			c.Signature, c.SignedBy, c.SignedAt = "signed", ev.Actor, ev.At.UTC()
			if s := ev.Signed; s != nil {
				if s.Author != "" {
					c.Author = s.Author
				}
				c.Merger = s.Merger
				if s.PR != 0 {
					c.PR = s.PR
				}
				if !s.SignedAt.IsZero() {
					c.SignedAt = s.SignedAt.UTC()
				}
				c.SignedKey = s.KeyID
				for _, a := range s.Approvals {
					c.Approvers = append(c.Approvers, a.ID)
					if a.At.After(c.ApprovedAt) {
						c.ApprovedAt = a.At.UTC()
					}
				}
				if s.Repository != "" {
					repository = s.Repository
				}
				if len(envs) == 0 {
					envs = s.Environments
				}
			}
		case ledger.KindUnsigned:
			c.Signature = "unsigned"
		}
	}
	c.Environments, c.Outcome = outcomes(envs, events, c.Signature)
	c.PRURL, c.CommitURL = forgeLinks(repository, c.PR, c.MergeCommit)
	return c
}

// outcomes replays a ticket's events over its environments (promotion
// order; environments only the ledger names follow, sorted) through the
// ledger's state machine, tolerantly (a broken ledger still shows where it
// says the ticket went; its problems are reported by the decoder), and
// sums them up. What each environment shows is where the state machine
// leaves the ticket there; the times, reasons and burn rates are read off
// the events that moved it.
func outcomes(envs []string, events []ledgerEvent, signature string) ([]EnvOutcome, string) {
	evs := make([]ledger.Event, len(events))
	for i, ev := range events {
		evs[i] = ledger.Event{Seq: ev.Seq, Kind: ev.Kind, Env: ev.Env, At: ev.At}
	}
	rp := ledger.Replay(evs, envs, ledger.Tolerant)
	out := make([]EnvOutcome, len(rp.Envs))
	for i, e := range rp.Envs {
		o := &out[i]
		o.Env, o.Outcome = e.Env, e.Status
		for _, j := range e.Steps {
			ev := &events[j]
			t := ev.At.UTC()
			if ev.Env != "" && ev.Kind == ledger.KindScheduled && causeKind(ev.Cause) == "prechecks" {
				o.PrecheckHolds = append(o.PrecheckHolds, t)
			}
			o.At = t
			if ev.Reason != "" {
				o.Reason = ev.Reason
			}
			if ev.Env == "" {
				continue // a ticket-wide wait or end reached this environment
			}
			switch ev.Kind {
			case ledger.KindApplying:
				o.Applying = t
				o.BurnBefore, o.BurnAfter = ev.BurnRate, nil
			case ledger.KindApplied:
				o.Applied = t
			case ledger.KindVerified:
				o.Verified = t
				o.BurnAfter = ev.BurnRate
			case ledger.KindFailed:
				o.Failed = t
				if ev.BurnRate != nil {
					o.BurnAfter = ev.BurnRate
				}
			case ledger.KindRolledBack:
				o.RolledBack = t
			case ledger.KindRollbackFailed:
				o.RollbackFailed = t
			}
		}
	}
	return out, summarize(out, signature, rp.State.Status)
}

// summarize is Change.Outcome: the most pressing of the environments'
// outcomes; status is the ticket-wide state (ledger.TicketState.Status).
func summarize(envs []EnvOutcome, signature, status string) string {
	has := func(kinds ...string) bool {
		for _, e := range envs {
			if slices.Contains(kinds, e.Outcome) {
				return true
			}
		}
		return false
	}
	all := func(kind string) bool {
		for _, e := range envs {
			if e.Outcome != kind {
				return false
			}
		}
		return len(envs) > 0
	}
	switch {
	case signature == "unsigned":
		return "unsigned"
	case status == ledger.KindQuarantined:
		return "quarantined"
	case has(ledger.KindRollbackFailed):
		return "rollback-failed"
	case has(ledger.KindRolledBack):
		return "rolled-back"
	case has(ledger.KindFailed):
		return "failed"
	case has(ledger.KindApplying, ledger.KindApplied):
		return "in-progress"
	case status == ledger.KindExpired:
		return "expired"
	case all(ledger.KindVerified):
		return "verified"
	case has(ledger.KindVerified):
		return "in-progress"
	case has(ledger.KindQuarantined):
		return "quarantined"
	case has(ledger.KindExpired):
		return "expired"
	case has(ledger.KindScheduled):
		return "scheduled"
	}
	return "pending"
}

// Outcomes lists the values of Change.Outcome.
var Outcomes = []string{"verified", "rolled-back", "rollback-failed", "failed", "expired", "quarantined", "unsigned", "in-progress", "scheduled", "pending"}

// forgeLinks returns the pull request and commit addresses on the forge
// a repository name ("github.com/acme/changes", "gitlab.example.com/g/p")
// points at; none when it is not recognisably GitHub or GitLab.
func forgeLinks(repository string, pr int64, commit string) (string, string) {
	host, path, ok := strings.Cut(repository, "/")
	if !ok || host == "" || path == "" || strings.ContainsAny(repository, " \t\n?#") {
		return "", ""
	}
	base := "https://" + repository
	var prURL, commitURL string
	switch {
	case strings.Contains(host, "github"):
		prURL, commitURL = base+"/pull/%d", base+"/commit/"+commit
	case strings.Contains(host, "gitlab"):
		prURL, commitURL = base+"/-/merge_requests/%d", base+"/-/commit/"+commit
	default:
		return "", ""
	}
	if pr > 0 {
		prURL = fmt.Sprintf(prURL, pr)
	} else {
		prURL = ""
	}
	return prURL, commitURL
}

// causeKind is the kind of a reconciler's wait cause ("prechecks" of
// "prechecks:prod").
func causeKind(cause string) string {
	k, _, _ := strings.Cut(cause, ":")
	return k
}
