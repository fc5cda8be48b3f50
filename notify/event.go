package notify

import (
	"fmt"
	"slices"
	"time"

	"github.com/cabhq/cab/model"
)

// Kinds of event (cab.cue #NotifyEvent).
const (
	KindFailed            = "failed"
	KindRolledBack        = "rolled-back"
	KindRollbackFailed    = "rollback-failed"
	KindExpired           = "expired"
	KindQuarantined       = "quarantined"
	KindLedgerRewritten   = "ledger-rewritten"
	KindSLABreach         = "approval-sla-breach"
	KindPostReviewDue     = "post-review-due"
	KindPostReviewOverdue = "post-review-overdue"
	KindDrifted           = "drifted"
)

// Kinds lists every kind of event, in the order of cab.cue.
var Kinds = []string{KindFailed, KindRolledBack, KindRollbackFailed, KindExpired, KindQuarantined,
	KindLedgerRewritten, KindSLABreach, KindPostReviewDue, KindPostReviewOverdue, KindDrifted}

// Event is one thing to tell people about.
type Event struct {
	// ID names the event for deduplication: see EventID and SLAEventID.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Loud marks an event someone must act on now (rollback-failed).
	Loud        bool   `json:"loud,omitempty"`
	Ticket      string `json:"ticket,omitempty"`
	Environment string `json:"environment,omitempty"`
	Service     string `json:"service,omitempty"`
	Risk        string `json:"risk,omitempty"`
	// PR is the pull or merge request that introduced the ticket (from
	// its signed predicate) or that breaches its approval SLA.
	PR     int64  `json:"pr,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Approvers are who can act (an approval SLA breach): stable ids.
	Approvers []string  `json:"approvers,omitempty"`
	At        time.Time `json:"at"`
}

// EventID is the id of the ledger event seq of ticket in env.
func EventID(ticket, env string, seq int) string {
	return fmt.Sprintf("%s/%s/%d", ticket, env, seq)
}

// SLAEventID is the id of escalation level (1: the approver group, 2:
// the backup group) of pull request pr.
func SLAEventID(pr int64, level int) string {
	return fmt.Sprintf("sla/%d/%d", pr, level)
}

// Route returns the sinks ev goes to under n, sorted: every sink for a
// loud event, else the sinks of every route ev matches.
func Route(n *model.Notify, ev Event) []string {
	if n == nil {
		return nil
	}
	var out []string
	if ev.Loud {
		for name := range n.Sinks {
			out = append(out, name)
		}
	} else {
		for _, r := range n.Routes {
			if match(r.Events, ev.Kind) && match(r.Services, ev.Service) &&
				match(r.Environments, ev.Environment) && match(r.Risks, ev.Risk) {
				out = append(out, r.Sinks...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// match reports whether a route's list allows v: an empty list allows
// everything, a non-empty one only what it names.
func match(list []string, v string) bool {
	return len(list) == 0 || slices.Contains(list, v)
}
