package ledger

import (
	"errors"
	"fmt"
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

// apply checks ev against the state and advances it.
func (st *TicketState) apply(ev *Event) error {
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
		st.Status = ev.Kind
		st.Signed = ev.Kind == KindSigned
	case KindQuarantined:
		if ev.Env == "" {
			if st.Status == KindQuarantined {
				return deny("ticket already quarantined")
			}
			st.Status = KindQuarantined
		} else if envState == KindQuarantined {
			return deny("environment already quarantined")
		}
	case KindScheduled, KindApplying:
		if ev.Kind == KindScheduled && ev.Env == "" && st.Status == KindQuarantined {
			// Readmitted: the reconciler judged a ticket set aside for a
			// cause a retry can fix (its merge commit not yet fetched)
			// again; it is back in the running and judged afresh.
			st.Status = KindSigned
			break
		}
		if err := usable(); err != nil {
			return err
		}
	case KindExpired:
		if err := usable(); err != nil {
			return err
		}
		if ev.Env == "" {
			if inFlight() {
				return deny("an environment is being applied")
			}
			st.Status = KindExpired
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
		if st.Drifts == nil {
			st.Drifts = map[string]int{}
		}
		if ev.Kind == KindDriftCleared {
			if st.Drifts[ev.Env] == 0 {
				return deny("no drift to clear")
			}
			st.Drifts[ev.Env]--
		} else {
			st.Drifts[ev.Env]++
		}
	}
	if ev.Env != "" && !driftKind(ev.Kind) {
		if st.Envs == nil {
			st.Envs = map[string]string{}
		}
		st.Envs[ev.Env] = ev.Kind
	}
	st.Seq = ev.Seq
	return nil
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

// replay applies events on top of states (copied, not modified) and
// returns the new states.
func replay(states map[string]*TicketState, events []Event) (map[string]*TicketState, error) {
	out := make(map[string]*TicketState, len(states))
	for id, st := range states {
		c := *st
		c.Envs = make(map[string]string, len(st.Envs))
		for k, v := range st.Envs {
			c.Envs[k] = v
		}
		if st.Drifts != nil {
			c.Drifts = make(map[string]int, len(st.Drifts))
			for k, v := range st.Drifts {
				c.Drifts[k] = v
			}
		}
		out[id] = &c
	}
	for i := range events {
		ev := &events[i]
		st := out[ev.Ticket]
		if st == nil {
			st = &TicketState{}
			out[ev.Ticket] = st
		}
		if err := st.apply(ev); err != nil {
			return nil, err
		}
	}
	return out, nil
}
