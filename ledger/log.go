package ledger

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Log is the ledger as read at one head. A malformed or forged entry
// costs only its own ticket: that ticket is set aside (see SetAside) and
// every other ticket reads as usual.
//
// A Log never changes once returned, and successive reads share what did
// not change: reading a ledger again after an append costs the ticket
// that changed, not the whole ledger. The whole-ledger views (Events,
// States) are built on first use.
type Log struct {
	// Head is the commit read; the zero hash for an empty or missing
	// branch. Keep it as a checkpoint for VerifyCheckpoint.
	Head plumbing.Hash
	// Problems maps each ticket id to what is wrong with its entries
	// (see TicketLog.Problems); the key "" holds the entries of the
	// branch that belong to no ticket.
	Problems map[string][]error

	// shards hold the tickets by the last two digits of their id (an
	// index of the log, whatever the layout of the branch), each sorted
	// by id; a new Log shares the shards that did not change.
	shards [100][]*logEntry
	all    *logViews
}

// logEntry is one ticket of a Log.
type logEntry struct {
	id string
	st *TicketState
	// events are the ticket's events but the outcomes that did not
	// verify; none when the ticket is set aside.
	events []Event
}

// logViews are the whole-ledger views of a Log, built once.
type logViews struct {
	once   sync.Once
	events []Event
	states map[string]*TicketState
}

// StatusSetAside is the TicketState.Status of a ticket whose ledger
// entries are broken (unreadable, out of sequence, an impossible
// transition): nothing is appended to it and readers that act leave it
// alone until a human repairs the ledger.
const StatusSetAside = "set-aside"

func emptyLog(head plumbing.Hash) *Log {
	return &Log{Head: head, Problems: map[string][]error{}, all: &logViews{}}
}

// shardIndex is the shard of the Log index holding ticket id.
func shardIndex(id string) int {
	if len(id) < 2 {
		return 0
	}
	a, b := id[len(id)-2], id[len(id)-1]
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0
	}
	return int(a-'0')*10 + int(b-'0')
}

func (l *Log) entry(id string) *logEntry {
	sh := l.shards[shardIndex(id)]
	i, ok := slices.BinarySearchFunc(sh, id, func(e *logEntry, id string) int { return strings.Compare(e.id, id) })
	if !ok {
		return nil
	}
	return sh[i]
}

// stateOf is the state of ticket id (nil when it has no event).
func (l *Log) stateOf(id string) *TicketState {
	if e := l.entry(id); e != nil {
		return e.st
	}
	return nil
}

// State returns the state of ticket (the zero state when it has no event);
// a ticket set aside has Status StatusSetAside and, as Seq, the highest
// sequence number on the branch.
func (l *Log) State(ticket string) TicketState {
	if st := l.stateOf(ticket); st != nil {
		c := *st
		c.Envs = maps.Clone(st.Envs)
		c.Drifts = maps.Clone(st.Drifts)
		return c
	}
	return TicketState{}
}

// SetAside reports whether ticket's entries are broken (see
// StatusSetAside).
func (l *Log) SetAside(ticket string) bool { return l.State(ticket).Status == StatusSetAside }

// Err is the strict reading of the log: every problem, joined, ticket by
// ticket (nil when there is none).
func (l *Log) Err() error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(l.Problems)) {
		errs = append(errs, l.Problems[id]...)
	}
	return errors.Join(errs...)
}

// Ticket returns the events of one ticket, in order (none for a ticket set
// aside), without the outcome events that did not verify.
func (l *Log) Ticket(id string) []Event {
	if e := l.entry(id); e != nil && len(e.events) > 0 {
		return slices.Clone(e.events)
	}
	return nil
}

// Events returns the events of every ticket not set aside, ordered by
// ticket id, then sequence number, without the outcome events that did
// not verify (when read with a verifier). The slice is the Log's: do not
// modify it.
func (l *Log) Events() []Event {
	l.build()
	return l.all.events
}

// States maps each ticket id to where it stands (see State). The map is
// the Log's: do not modify it.
func (l *Log) States() map[string]*TicketState {
	l.build()
	return l.all.states
}

func (l *Log) build() {
	l.all.once.Do(func() {
		var entries []*logEntry
		n := 0
		for _, sh := range l.shards {
			entries = append(entries, sh...)
			for _, e := range sh {
				n += len(e.events)
			}
		}
		slices.SortFunc(entries, func(a, b *logEntry) int { return strings.Compare(a.id, b.id) })
		l.all.states = make(map[string]*TicketState, len(entries))
		if n > 0 {
			l.all.events = make([]Event, 0, n)
		}
		for _, e := range entries {
			l.all.states[e.id] = e.st
			l.all.events = append(l.all.events, e.events...)
		}
	})
}

// Changed lists, sorted, the tickets whose entries differ between prev
// (nil: none) and l: added, removed, or with events or a state that
// changed. It is for readers that derive something from every ticket
// and keep it between reads (the reconciler's index): successive reads of
// one Ledger share the entries of the tickets that did not change, so
// this costs the index shards that changed, not the ledger. Logs that
// share nothing (a full read after SetVerifier, another Ledger) list
// every ticket of both, which is still exact.
func (l *Log) Changed(prev *Log) []string {
	var out []string
	for i := range l.shards {
		var a []*logEntry
		if prev != nil {
			a = prev.shards[i]
		}
		b := l.shards[i]
		if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
			continue // the same shard
		}
		j, k := 0, 0
		for j < len(a) || k < len(b) {
			switch {
			case k == len(b) || (j < len(a) && a[j].id < b[k].id):
				out = append(out, a[j].id)
				j++
			case j == len(a) || b[k].id < a[j].id:
				out = append(out, b[k].id)
				k++
			default:
				if a[j] != b[k] {
					out = append(out, b[k].id)
				}
				j++
				k++
			}
		}
	}
	slices.Sort(out)
	return out
}

// newEntry is the entry of ticket t in a Log, and its problems.
func newEntry(t *TicketLog) *logEntry {
	e := &logEntry{id: t.ID, st: t.state()}
	if t.SetAside() {
		return e
	}
	for _, ev := range t.Events {
		if !t.ignored(ev.Seq) {
			e.events = append(e.events, ev)
		}
	}
	return e
}

// addTicket adds ticket t, the last by id so far, to lg (being built).
func addTicket(lg *Log, t *TicketLog) {
	if len(t.Problems) > 0 {
		lg.Problems[t.ID] = t.Problems
	}
	i := shardIndex(t.ID)
	lg.shards[i] = append(lg.shards[i], newEntry(t))
}

// splice returns prev at head with the tickets in changed replaced (nil:
// removed). prev is not modified; the shards no ticket of changed is in
// are shared.
func splice(prev *Log, head plumbing.Hash, changed map[string]*TicketLog) *Log {
	lg := &Log{Head: head, Problems: maps.Clone(prev.Problems), shards: prev.shards, all: &logViews{}}
	if len(changed) == 0 {
		if prev.all != nil {
			lg.all = prev.all // the same tickets: the same views
		}
		return lg
	}
	copied := map[int]bool{}
	for _, id := range slices.Sorted(maps.Keys(changed)) {
		t := changed[id]
		delete(lg.Problems, id)
		si := shardIndex(id)
		if !copied[si] {
			lg.shards[si], copied[si] = slices.Clone(lg.shards[si]), true
		}
		sh := lg.shards[si]
		i, found := slices.BinarySearchFunc(sh, id, func(e *logEntry, id string) int { return strings.Compare(e.id, id) })
		switch {
		case t == nil && found:
			sh = slices.Delete(sh, i, i+1)
		case t == nil:
		case found:
			sh[i] = newEntry(t)
		default:
			sh = slices.Insert(sh, i, newEntry(t))
		}
		lg.shards[si] = sh
		if t != nil && len(t.Problems) > 0 {
			lg.Problems[id] = t.Problems
		}
	}
	return lg
}

// LogOf is the Log of events already in hand, as a branch holding exactly
// them (in order) would read, its head unknown: for deciding on events
// without a branch (tests, a plan). Events the state machine refuses are
// an error (see Validate), never a ticket set aside.
func LogOf(events []Event) (*Log, error) {
	states, err := replay(nil, events)
	if err != nil {
		return nil, err
	}
	byTicket := map[string][]Event{}
	for _, ev := range events {
		byTicket[ev.Ticket] = append(byTicket[ev.Ticket], ev)
	}
	lg := emptyLog(plumbing.ZeroHash)
	for _, id := range slices.Sorted(maps.Keys(byTicket)) {
		addTicket(lg, &TicketLog{ID: id, Events: byTicket[id], State: *states[id]})
	}
	return lg, nil
}
