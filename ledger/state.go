package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrTransition is matched (errors.Is) by every *TransitionError.
var ErrTransition = errors.New("impossible ledger transition")

// TransitionError reports an event that the state machine forbids, e.g.
// applied before applying, applying before signed, or a second signed.
type TransitionError struct {
	Ticket string
	Env    string // empty for ticket-wide events
	Seq    int
	From   string // the state before the event ("none" when there is none)
	To     string // the event kind
	Reason string
}

func (e *TransitionError) Error() string {
	where := ""
	if e.Env != "" {
		where = " in " + e.Env
	}
	return fmt.Sprintf("ledger: %s event %d%s: impossible transition %s → %s: %s",
		e.Ticket, e.Seq, where, e.From, e.To, e.Reason)
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// TicketState is where one ticket stands after the events read so far.
type TicketState struct {
	// Seq is the sequence number of the ticket's last event.
	Seq int
	// Signed reports whether a signed event was recorded.
	Signed bool
	// Status is the ticket-wide state: "" (nothing yet), signed, unsigned,
	// quarantined or expired.
	Status string
	// Envs maps each environment to the kind of its last event there,
	// drifted and drift-cleared aside (they leave it verified).
	Envs map[string]string
	// Drifts counts, per environment, the drifted events not yet followed
	// by a drift-cleared.
	Drifts map[string]int
}

func none(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// apply checks ev against the state and advances it; an event the state
// machine refuses leaves the state as it was.
func (st *TicketState) apply(ev *Event) error { return st.step(ev, false) }

// step checks ev against the state and advances it. Tolerant, it
// advances even when the state machine refuses the event, as if it had
// been allowed, and returns why it refused.
func (st *TicketState) step(ev *Event, tolerant bool) error {
	err := st.check(ev)
	if err != nil && !tolerant {
		return err
	}
	st.advance(ev)
	return err
}

// check reports whether the state machine allows ev in this state: nil,
// an *InvalidError or a *TransitionError.
func (st *TicketState) check(ev *Event) error {
	if err := ev.check(); err != nil {
		return err
	}
	if ev.Seq != st.Seq+1 {
		return &InvalidError{Ticket: ev.Ticket, Seq: ev.Seq, Field: "seq",
			Reason: fmt.Sprintf("want %d after %d", st.Seq+1, st.Seq)}
	}
	envState := ""
	if ev.Env != "" {
		envState = st.Envs[ev.Env]
	}
	from := none(st.Status)
	if ev.Env != "" && envState != "" {
		from = envState
	}
	deny := func(reason string) error {
		return &TransitionError{Ticket: ev.Ticket, Env: ev.Env, Seq: ev.Seq, From: from, To: ev.Kind, Reason: reason}
	}
	if st.Status == KindUnsigned {
		return deny("unsigned is terminal")
	}
	if st.Status == StatusSetAside {
		return deny("the ticket is set aside: its ledger entries are broken")
	}
	inFlight := func() bool {
		for _, k := range st.Envs {
			if k == KindApplying || k == KindApplied || k == KindFailed {
				return true
			}
		}
		return false
	}
	// usable: the ticket may still be acted on in ev.Env.
	usable := func() error {
		switch {
		case !st.Signed:
			return deny("ticket not signed")
		case st.Status != KindSigned:
			return deny("ticket is " + st.Status)
		case envState != "" && envState != KindScheduled:
			return deny("environment already " + envState)
		}
		return nil
	}

	switch ev.Kind {
	case KindSigned, KindUnsigned:
		if st.Status != "" {
			return deny("ticket already " + st.Status)
		}
	case KindQuarantined:
		if ev.Env == "" && st.Status == KindQuarantined {
			return deny("ticket already quarantined")
		}
		if ev.Env != "" && envState == KindQuarantined {
			return deny("environment already quarantined")
		}
	case KindScheduled, KindApplying:
		if readmits(st, ev) {
			return nil
		}
		return usable()
	case KindExpired:
		if err := usable(); err != nil {
			return err
		}
		if ev.Env == "" && inFlight() {
			return deny("an environment is being applied")
		}
	case KindApplied:
		if envState != KindApplying {
			return deny("not applying")
		}
	case KindVerified:
		if envState != KindApplied {
			return deny("not applied")
		}
	case KindFailed:
		if envState != KindApplying && envState != KindApplied {
			return deny("not applying or applied")
		}
	case KindRolledBack, KindRollbackFailed:
		if envState != KindFailed {
			return deny("not failed")
		}
	case KindDrifted, KindDriftCleared:
		if envState != KindVerified {
			return deny("not verified")
		}
		if ev.Kind == KindDriftCleared && st.Drifts[ev.Env] == 0 {
			return deny("no drift to clear")
		}
	}
	return nil
}

// readmits reports whether ev readmits a quarantined ticket: the
// reconciler judged a ticket set aside for a cause a retry can fix (its
// merge commit not yet fetched) again; it is back in the running and
// judged afresh.
func readmits(st *TicketState, ev *Event) bool {
	return ev.Kind == KindScheduled && ev.Env == "" && st.Status == KindQuarantined
}

// advance moves the state on by ev (checked or not).
func (st *TicketState) advance(ev *Event) {
	switch ev.Kind {
	case KindSigned, KindUnsigned:
		st.Status = ev.Kind
		st.Signed = ev.Kind == KindSigned
	case KindQuarantined, KindExpired:
		if ev.Env == "" {
			st.Status = ev.Kind
		}
	case KindScheduled:
		if readmits(st, ev) {
			st.Status = KindSigned
		}
	case KindDrifted, KindDriftCleared:
		if st.Drifts == nil {
			st.Drifts = map[string]int{}
		}
		if ev.Kind == KindDrifted {
			st.Drifts[ev.Env]++
		} else if st.Drifts[ev.Env] > 0 {
			st.Drifts[ev.Env]--
		}
	}
	if ev.Env != "" && !driftKind(ev.Kind) {
		if st.Envs == nil {
			st.Envs = map[string]string{}
		}
		st.Envs[ev.Env] = ev.Kind
	}
	st.Seq = ev.Seq
}

// Validate checks a sequence of events, in order, against the state
// machine: sequence numbers per ticket from 1 without gaps, and only legal
// transitions. It returns the first problem, a *InvalidError or a
// *TransitionError naming the ticket, the sequence number and the
// transition.
func Validate(events []Event) error {
	_, err := replay(nil, events)
	return err
}

// replay applies events on top of the states that state gives (nil: none;
// not modified) and returns the new states of the tickets the events concern:
// the cost is the events', not the ledger's.
func replay(state func(id string) *TicketState, events []Event) (map[string]*TicketState, error) {
	out := map[string]*TicketState{}
	for i := range events {
		ev := &events[i]
		st := out[ev.Ticket]
		if st == nil {
			var prev *TicketState
			if state != nil {
				prev = state(ev.Ticket)
			}
			st = prev.clone()
			out[ev.Ticket] = st
		}
		if err := st.apply(ev); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// clone is a deep copy of st (the zero state for nil).
func (st *TicketState) clone() *TicketState {
	if st == nil {
		return &TicketState{}
	}
	c := *st
	c.Envs = maps.Clone(st.Envs)
	c.Drifts = maps.Clone(st.Drifts)
	return &c
}

// ReplayMode says what Replay does with an event the state machine
// refuses.
type ReplayMode int

const (
	// Strict stops at the first event the state machine refuses: the
	// state is where the events before it left the ticket.
	Strict ReplayMode = iota
	// Tolerant records why the state machine refuses an event and goes
	// on as if it had been allowed, so that a reader shows where the
	// ledger says the ticket went (cab log, the web UI), and what is
	// wrong with it.
	Tolerant
)

// StatusPending is the EnvReplay.Status of an environment no event has
// reached yet.
const StatusPending = "pending"

// Replayed is one ticket's events run through the state machine.
type Replayed struct {
	// State is where the events leave the ticket.
	State TicketState
	// Envs is where they leave it in each environment: those given, in
	// that order, then the others the events name, by name.
	Envs []EnvReplay
	// Problems are what the state machine refused (*InvalidError,
	// *TransitionError), in order; Strict stops at the first.
	Problems []error
}

// EnvReplay is where a ticket stands in one environment.
type EnvReplay struct {
	Env string
	// Status is StatusPending, or the kind of the last event that moved
	// the ticket in Env: an event of Env (drifted and drift-cleared
	// aside: the environment stays verified), or a ticket-wide scheduled,
	// expired or quarantined that came while the ticket still waited in
	// Env (StatusPending or scheduled there).
	Status string
	// Steps are the indices, in the events replayed, of the events that
	// moved the ticket in Env, in order: the last one set Status.
	Steps []int
}

// Replay runs one ticket's events, in order, through the state machine
// (the one DecodeTicket and Update use), and says where they leave the
// ticket, ticket-wide and in each environment. envs are the environments
// of the ticket in promotion order (those the events name are added).
func Replay(events []Event, envs []string, mode ReplayMode) *Replayed {
	r := &Replayed{Envs: make([]EnvReplay, len(envs))}
	for i, e := range envs {
		r.Envs[i] = EnvReplay{Env: e, Status: StatusPending}
	}
	var extra []string
	for i := range events {
		if e := events[i].Env; e != "" && !slices.Contains(envs, e) && !slices.Contains(extra, e) {
			extra = append(extra, e)
		}
	}
	slices.Sort(extra)
	for _, e := range extra {
		r.Envs = append(r.Envs, EnvReplay{Env: e, Status: StatusPending})
	}
	for i := range events {
		ev := &events[i]
		if err := r.State.step(ev, mode == Tolerant); err != nil {
			r.Problems = append(r.Problems, err)
			if mode == Strict {
				break
			}
		}
		r.move(i, ev)
	}
	return r
}

// move records where event i moved the ticket in its environments.
func (r *Replayed) move(i int, ev *Event) {
	switch {
	case ev.Env == "":
		if ev.Kind != KindScheduled && ev.Kind != KindExpired && ev.Kind != KindQuarantined {
			return
		}
		for j := range r.Envs {
			if o := &r.Envs[j]; o.Status == StatusPending || o.Status == KindScheduled {
				o.Status, o.Steps = ev.Kind, append(o.Steps, i)
			}
		}
	case driftKind(ev.Kind):
	default:
		for j := range r.Envs {
			if o := &r.Envs[j]; o.Env == ev.Env {
				o.Status, o.Steps = ev.Kind, append(o.Steps, i)
			}
		}
	}
}
