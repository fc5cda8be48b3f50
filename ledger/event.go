package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"
)

// Event kinds recorded in the ledger.
const (
	// KindSigned: the ticket passed the gate on main and was signed.
	KindSigned = "signed"
	// KindUnsigned: the ticket reached main without passing the gate; it is
	// never applied. Terminal.
	KindUnsigned = "unsigned"
	// KindApplying: the reconciler is about to apply the ticket in Env.
	KindApplying = "applying"
	// KindApplied: the target driver applied the change in Env.
	KindApplied = "applied"
	// KindVerified: postchecks passed in Env. Terminal for Env.
	KindVerified = "verified"
	// KindFailed: applying or postchecks failed in Env; a rollback follows.
	KindFailed = "failed"
	// KindRolledBack: the previous state was restored in Env. Terminal for Env.
	KindRolledBack = "rolled-back"
	// KindRollbackFailed: restoring failed in Env; a human is needed.
	// Terminal for Env.
	KindRollbackFailed = "rollback-failed"
	// KindScheduled: the ticket is waiting for its window (in Env, or in
	// every environment when Env is empty). A ticket-wide scheduled after
	// a ticket-wide quarantined readmits the ticket (judged again).
	KindScheduled = "scheduled"
	// KindExpired: the window passed before the ticket was applied (in Env,
	// or everywhere when Env is empty); it is not applied there afterwards.
	KindExpired = "expired"
	// KindQuarantined: the ticket (in Env, or everywhere when Env is empty)
	// is set aside, e.g. because evaluating it blew its budget; it is not
	// applied there afterwards.
	KindQuarantined = "quarantined"
	// KindDrifted: a target no longer holds what the ticket, verified in
	// Env, last set there (Data says which target and key, what it should
	// hold and what it holds). An observation: the environment stays
	// verified. Recorded once per drift.
	KindDrifted = "drifted"
	// KindDriftCleared: a target that drifted holds again what the ticket
	// set (Data as for drifted). Only after a drifted in Env.
	KindDriftCleared = "drift-cleared"
)

// Kinds lists every event kind, in state-machine order.
var Kinds = []string{
	KindSigned, KindUnsigned, KindScheduled, KindExpired, KindQuarantined,
	KindApplying, KindApplied, KindVerified, KindFailed, KindRolledBack, KindRollbackFailed,
	KindDrifted, KindDriftCleared,
}

// IsKind reports whether k is a known event kind.
func IsKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// applyKind reports whether events of kind k belong to one environment.
func applyKind(k string) bool {
	switch k {
	case KindApplying, KindApplied, KindVerified, KindFailed, KindRolledBack, KindRollbackFailed,
		KindDrifted, KindDriftCleared:
		return true
	}
	return false
}

// driftKind reports whether events of kind k observe a verified
// environment without changing its state.
func driftKind(k string) bool { return k == KindDrifted || k == KindDriftCleared }

// Event is one entry of the ledger.
type Event struct {
	// Seq numbers the events of one ticket, from 1. Update fills it in when
	// it is zero.
	Seq int `json:"seq"`
	// Ticket is the ticket id, e.g. CHG-2026-0042.
	Ticket string `json:"ticket"`
	// Env is the environment concerned; required for apply kinds, empty for
	// signed and unsigned.
	Env string `json:"env,omitempty"`
	// Kind is one of Kinds.
	Kind string `json:"kind"`
	// At is when it happened. Update fills it in from the clock when zero.
	At time.Time `json:"at"`
	// Actor identifies who or what recorded the event.
	Actor string `json:"actor,omitempty"`
	// Commit is the main commit concerned (e.g. the merge commit signed).
	Commit string `json:"commit,omitempty"`
	// Data holds kind-specific details (previous digest, error, …).
	Data json.RawMessage `json:"data,omitempty"`
	// Envelope is a DSSE envelope, stored beside the event as <seq>-<kind>.dsse.
	Envelope []byte `json:"-"`
}

// The forms of a ticket id and an environment name, compiled on first use
// (not at start-up: every command pays for the package's init).
var (
	ticketRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^CHG-[0-9]{4}-[0-9]{4,6}$`) })
	envRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`) })
)

// ErrInvalid is matched (errors.Is) by every *InvalidError.
var ErrInvalid = errors.New("invalid ledger event")

// InvalidError reports an event that is malformed on its own: a bad ticket
// id, environment name, kind or sequence number.
type InvalidError struct {
	Ticket string
	Seq    int
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("ledger: %q event %d: %s: %s", e.Ticket, e.Seq, e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ValidTicketID reports whether id is a well-formed ticket id, safe to use
// as a path element.
func ValidTicketID(id string) bool { return ticketRE().MatchString(id) }

// ValidEnv reports whether env is a well-formed environment name, safe to
// use in a commit message and trailer.
func ValidEnv(env string) bool { return envRE().MatchString(env) }

// check validates the event on its own, without the log.
func (ev *Event) check() error {
	bad := func(field, reason string) error {
		return &InvalidError{Ticket: ev.Ticket, Seq: ev.Seq, Field: field, Reason: reason}
	}
	if !ValidTicketID(ev.Ticket) {
		return bad("ticket", `must match ^CHG-[0-9]{4}-[0-9]{4,6}$`)
	}
	if ev.Seq < 1 {
		return bad("seq", "must be at least 1")
	}
	if !IsKind(ev.Kind) {
		return bad("kind", fmt.Sprintf("unknown kind %q", ev.Kind))
	}
	if ev.Env != "" && !ValidEnv(ev.Env) {
		return bad("env", `must match ^[a-z][a-z0-9-]{0,62}$`)
	}
	if applyKind(ev.Kind) && ev.Env == "" {
		return bad("env", fmt.Sprintf("required for %s", ev.Kind))
	}
	if (ev.Kind == KindSigned || ev.Kind == KindUnsigned) && ev.Env != "" {
		return bad("env", fmt.Sprintf("must be empty for %s", ev.Kind))
	}
	if len(ev.Data) > 0 && !json.Valid(ev.Data) {
		return bad("data", "not valid JSON")
	}
	return nil
}

// name is the file name of the event without extension: <seq>-<kind>.
func (ev *Event) name() string { return fmt.Sprintf("%d-%s", ev.Seq, ev.Kind) }
