package reconcile

import (
	"slices"
	"strings"
	"sync"

	"github.com/cabhq/cab/ledger"
)

// ledgerIndex is what a pass needs from every ticket of the ledger: which
// signed tickets still have work (open) and where each signed ticket
// stands in each environment its statement names (count). Both are
// functions of one ticket's entries alone, so the index keeps them per
// ticket and, given a newer log, recomputes only the tickets that
// changed since the log it last indexed (ledger.Log.Changed): a kept
// Reconciler's round costs the tickets that moved, not the ledger. A
// ticket whose entries changed in any way is recomputed from the new log
// as a whole; nothing is carried over from an entry that changed.
type ledgerIndex struct {
	mu    sync.Mutex
	log   *ledger.Log
	stmts *statementEnvs
	// tickets holds what each signed ticket (with a signed event that
	// counts) contributes; tickets with nothing are absent.
	tickets map[string]indexed
	// open are the ids of the tickets with work.
	open map[string]bool
	// states counts the states of tickets (see count), kept as tickets
	// change.
	states map[string]int
}

// indexed is what one ticket contributes.
type indexed struct {
	// work, when not nil, is the ticket to act on (not read or verified):
	// a template, copied for each round.
	work *ticket
	// states is, per environment its statement names, where it stands
	// (see count).
	states []string
}

func newLedgerIndex(stmts *statementEnvs) *ledgerIndex {
	return &ledgerIndex{stmts: stmts}
}

// update brings the index to log.
func (x *ledgerIndex) update(log *ledger.Log) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.log == log {
		return
	}
	if x.tickets == nil {
		x.tickets, x.open, x.states = map[string]indexed{}, map[string]bool{}, map[string]int{}
	}
	for _, id := range log.Changed(x.log) {
		in := indexTicket(log, id, x.stmts)
		for _, k := range x.tickets[id].states {
			if x.states[k]--; x.states[k] == 0 {
				delete(x.states, k)
			}
		}
		for _, k := range in.states {
			x.states[k]++
		}
		if in.work == nil && in.states == nil {
			delete(x.tickets, id)
		} else {
			x.tickets[id] = in
		}
		if in.work != nil {
			x.open[id] = true
		} else {
			delete(x.open, id)
		}
	}
	x.log = log
}

// openTickets lists the signed tickets of the log last indexed that still
// have work (see indexTicket), in merge order, each a new *ticket; only,
// when not empty, limits them to those ids.
func (x *ledgerIndex) openTickets(only []string) []*ticket {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*ticket
	for id := range x.open {
		if len(only) > 0 && !slices.Contains(only, id) {
			continue
		}
		tk := *x.tickets[id].work
		out = append(out, &tk)
	}
	slices.SortFunc(out, func(a, b *ticket) int {
		if c := a.order.Compare(b.order); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

// count adds to sum.States where every signed ticket of the log last
// indexed (of only, when not empty) stands in each environment its
// statement names.
func (x *ledgerIndex) count(sum *Summary, only []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	add := func(in indexed) {
		for _, k := range in.states {
			sum.States[k]++
		}
	}
	if len(only) > 0 {
		for _, id := range slices.Compact(slices.Sorted(slices.Values(only))) {
			add(x.tickets[id])
		}
		return
	}
	for k, n := range x.states {
		sum.States[k] += n
	}
}

// indexTicket is what ticket id of log contributes. It has work when it
// is signed and not quarantined (unless for a cause a retry can fix, see
// setAside) or expired as a whole, and not terminal in every environment
// its signature names. Its states are, for each of those environments,
// the kind of its last event there, its ticket-wide status when
// quarantined or expired, or "pending". A ticket set aside has no events
// (ledger.Log.Ticket): it contributes nothing.
func indexTicket(log *ledger.Log, id string, stmts *statementEnvs) indexed {
	ev := signedEvent(log, id)
	if ev == nil {
		return indexed{}
	}
	st := log.State(id)
	envs := stmts.of(id, ev.Envelope)
	var in indexed
	done := len(envs) > 0
	for _, e := range envs {
		k := st.Envs[e]
		done = done && terminal(k)
		switch {
		case st.Status == ledger.KindQuarantined || st.Status == ledger.KindExpired:
			k = st.Status
		case k == "":
			k = "pending"
		}
		in.states = append(in.states, k)
	}
	if in.states == nil {
		in.states = []string{}
	}
	switch st.Status {
	case ledger.KindSigned:
	case ledger.KindQuarantined:
		if setAside(log, id) == "" {
			return in // for good
		}
	default:
		return in
	}
	if !done {
		in.work = ticketOf(ev)
	}
	return in
}
