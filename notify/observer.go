package notify

import (
	"encoding/json"
	"fmt"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/reconcile"
)

// Observer returns a reconcile.Observer that turns the steps the
// reconciler recorded on the ledger into notifications, then passes each
// step on to next (nil: none). The reconciler reports a step only after
// the ledger holds its event, so nothing is told before it is recorded.
func (n *Notifier) Observer(next reconcile.Observer) reconcile.Observer {
	return observer{n: n, next: next}
}

type observer struct {
	n    *Notifier
	next reconcile.Observer
}

func (o observer) Step(st reconcile.Step) {
	if o.next != nil {
		o.next.Step(st)
	}
	if ev, ok := FromStep(st); ok {
		o.n.Notify(ev)
	}
}

// FromStep is the event a reconcile step is worth telling, if any: a
// recorded failed, rolled-back, rollback-failed (loud), expired,
// quarantined or drifted event.
func FromStep(st reconcile.Step) (Event, bool) {
	if st.Seq == 0 {
		return Event{}, false // nothing recorded (a dry run, a repeated wait)
	}
	reason := st.Reason
	switch st.Kind {
	case ledger.KindFailed, ledger.KindRolledBack, ledger.KindRollbackFailed, ledger.KindExpired, ledger.KindQuarantined:
	case ledger.KindDrifted:
		// The step's reason is the event's data (drift.Data): say it.
		var d drift.Data
		if json.Unmarshal([]byte(st.Reason), &d) == nil {
			reason = fmt.Sprintf("%s %s holds %s, not %s as the ticket set it (changed outside cab)", d.Target, d.Key, d.Live, d.Want)
		}
	default:
		return Event{}, false
	}
	return Event{
		ID: EventID(st.Ticket, st.Env, st.Seq), Kind: st.Kind, Loud: st.Kind == ledger.KindRollbackFailed,
		Ticket: st.Ticket, Environment: st.Env, Reason: reason,
	}, true
}
