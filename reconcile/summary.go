package reconcile

import "time"

// Step is one thing the reconciler did (or found) for a ticket in an
// environment: the ledger event it recorded, or a wait it found.
type Step struct {
	Ticket string `json:"ticket"`
	Env    string `json:"env,omitempty"`
	// Kind is the ledger event kind recorded (applying, applied, verified,
	// failed, rolled-back, rollback-failed, scheduled, expired,
	// quarantined), or "plan" in a dry run.
	Kind string `json:"kind"`
	// Seq is the ledger sequence number of the event recorded (zero for a
	// step that recorded nothing): ticket, environment and seq name the
	// event (notifications are deduplicated by them).
	Seq int `json:"seq,omitempty"`
	// Cause is the stable key of a wait (scheduled), e.g.
	// "window:2026-12-01T23:30:00Z" or "target-unreadable:prod/images": a
	// wait is recorded once per ticket, environment and cause.
	Cause  string `json:"cause,omitempty"`
	Reason string `json:"reason,omitempty"`
	// From and To describe the change of each action, in a dry run and
	// on applying ("sha256:aaa → sha256:bbb").
	Changes []string `json:"changes,omitempty"`
	// Duration is how long an apply took (applying to applied or failed).
	Duration time.Duration `json:"duration,omitempty"`
	// Error marks a wait caused by an error rather than by a rule: a
	// target that could not be observed, an error budget that could not
	// be read.
	Error bool `json:"error,omitempty"`
}

// Summary is what one reconcile pass did.
type Summary struct {
	// Steps in the order they happened.
	Steps []Step `json:"steps"`
	// States counts ticket-environments by the kind of their last ledger
	// event after the pass ("pending" for signed tickets with no event in
	// an environment yet).
	States map[string]int `json:"states"`
	// LedgerHead is the ledger commit after the pass.
	LedgerHead string `json:"ledgerHead"`
	// Events is the number of events the pass recorded on the ledger.
	Events int `json:"events"`
	// Stopped, when not empty, says which bound the pass stopped at
	// before it ran out of work (see BoundError).
	Stopped string `json:"stopped,omitempty"`
	// Problems are the ledger's problems the pass worked around: tickets
	// set aside (their entries are broken; nothing of them was done) and
	// outcome events ignored (not signed by a trusted reconciler key).
	Problems []LedgerProblem `json:"problems,omitempty"`
}

// LedgerProblem is a problem of one ticket's ledger entries.
type LedgerProblem struct {
	Ticket string `json:"ticket"`
	// What is "set-aside" (the ticket is left alone) or "ignored" (an
	// outcome event was left out of its state).
	What    string `json:"what"`
	Message string `json:"message"`
}

// Count returns how many steps recorded kind.
func (s *Summary) Count(kind string) int {
	n := 0
	for _, st := range s.Steps {
		if st.Kind == kind {
			n++
		}
	}
	return n
}

// Observer hears each step as it happens (metrics, progress, logs).
type Observer interface {
	Step(Step)
}
