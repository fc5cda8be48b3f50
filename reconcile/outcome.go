package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/reconcile/target"
)

// outcome is what one ticket needs in one environment now, typed by what
// happens next:
//
//   - waiting: its window opens later; recorded scheduled once, judged
//     again every pass.
//   - blocked: a freeze, a dependency, the previous environment, the
//     error budget, an unreadable target or a merge commit the checkout
//     lacks holds it; recorded scheduled once per cause, judged again
//     every pass.
//   - quarantined, expired (stalled): no retry can fix it (a bad
//     signature, a replay, a blown evaluation budget, a closed window);
//     recorded for good.
//   - readmit: it was set aside for a cause that has gone; recorded
//     scheduled, and it is back in the running.
//   - ready: a fresh apply may start (the claim phase: prechecks, observe,
//     claim).
//   - resume: an apply without an outcome, resumed at a phase.
//
// Each kind holds only what it needs: a wait has a cause and no step, a
// failure a step and an error and no cause.
type outcome interface{ isOutcome() }

// result is what a phase found for one job: the one ledger event that
// records it. Each implementation is one event kind with only the data
// that kind carries (claimed, applied, verified, failed, rolledBack,
// rollbackFailed; and blocked, quarantined, expired, readmit for a
// decision that needs no work).
type result interface {
	// kind is the ledger event kind that records it.
	kind() string
	// data is the event's data.
	data() eventData
}

// waiting is a change whose window opens at until.
type waiting struct{ until time.Time }

// blocked is a change held by something that may change at any time.
type blocked struct {
	cause cause
	// reason says it in words; it may change from one pass to the next
	// (an error body, a burn rate) without a new event.
	reason string
}

// quarantined is a change that no retry can fix, set aside for good.
type quarantined struct{ reason string }

// expired is a change whose window closed before it could apply.
type expired struct{ reason string }

// readmit is a ticket set aside for cause, which has gone.
type readmit struct{ cause cause }

// ready is a change whose fresh apply may start.
type ready struct{}

// resume is an apply that has no outcome yet, resumed at phase.
type resume struct {
	phase int
	// applying is the event that started it.
	applying *ledger.Event
}

func (waiting) isOutcome()     {}
func (blocked) isOutcome()     {}
func (quarantined) isOutcome() {}
func (expired) isOutcome()     {}
func (readmit) isOutcome()     {}
func (ready) isOutcome()       {}
func (resume) isOutcome()      {}

// blocked is the wait for the window, as every other wait.
func (w waiting) blocked() blocked {
	at := w.until.UTC().Format(time.RFC3339)
	return blocked{cause: newCause(causeWindow, at), reason: "waiting for the window to open at " + at}
}

// claimed is a fresh apply that may start: the state of each action's
// target observed before it, and the burn rate the budget gate read.
type claimed struct {
	instance string
	previous []target.State
	changes  []string
	burn     *ledger.BurnRate
}

// applied is an apply every action of which the targets show (observed).
type applied struct{ observed []target.State }

// verified is an applied change whose postchecks passed; burn is the burn
// rate read at postcheck (nil: none).
type verified struct{ burn *ledger.BurnRate }

// failed is an apply or its postchecks that failed at step; observed is
// what the targets showed (apply), burn the burn rate read at postcheck
// (postchecks).
type failed struct {
	step     string
	err      error
	observed []target.State
	burn     *ledger.BurnRate
}

// Steps a change fails at.
const (
	stepApply      = "apply"
	stepPostchecks = "postchecks"
	stepRollback   = "rollback"
)

// rolledBack is a failed change whose targets are restored.
type rolledBack struct{}

// rollbackFailed is a failed change that could not be restored: a human is
// needed.
type rollbackFailed struct{ err error }

func (blocked) kind() string        { return ledger.KindScheduled }
func (quarantined) kind() string    { return ledger.KindQuarantined }
func (expired) kind() string        { return ledger.KindExpired }
func (readmit) kind() string        { return ledger.KindScheduled }
func (claimed) kind() string        { return ledger.KindApplying }
func (applied) kind() string        { return ledger.KindApplied }
func (verified) kind() string       { return ledger.KindVerified }
func (failed) kind() string         { return ledger.KindFailed }
func (rolledBack) kind() string     { return ledger.KindRolledBack }
func (rollbackFailed) kind() string { return ledger.KindRollbackFailed }

func (b blocked) data() eventData     { return eventData{Reason: b.reason, Cause: string(b.cause)} }
func (q quarantined) data() eventData { return eventData{Reason: q.reason} }
func (e expired) data() eventData     { return eventData{Reason: e.reason} }
func (r readmit) data() eventData {
	return eventData{Reason: fmt.Sprintf("judged again: what set it aside (%s) is gone", r.cause),
		Cause: string(newCause(causeReadmitted, string(r.cause)))}
}
func (c claimed) data() eventData {
	return eventData{Instance: c.instance, Previous: c.previous, Changes: c.changes, BurnRate: c.burn}
}
func (a applied) data() eventData  { return eventData{Observed: a.observed} }
func (v verified) data() eventData { return eventData{BurnRate: v.burn} }
func (f failed) data() eventData {
	return eventData{Reason: f.err.Error(), Step: f.step, Observed: f.observed, BurnRate: f.burn}
}
func (rolledBack) data() eventData       { return eventData{} }
func (r rollbackFailed) data() eventData { return eventData{Reason: r.err.Error(), Step: stepRollback} }

// cause is the stable key of why a change waits: the kind of wait and
// what it waits on, e.g. "window:2026-12-01T23:30:00Z",
// "target-unreadable:prod/images". A wait is recorded on the ledger once
// per ticket, environment and cause, whatever its words; the key is kept
// in the event's data, so that a restarted reconciler knows it too.
type cause string

// Kinds of cause.
const (
	causeWindow           = "window"               // the window's start
	causeFreeze           = "freeze"               // the freeze's name
	causeBudget           = "budget"               // the service burning its error budget
	causeBudgetUnreadable = "budget-unreadable"    // the service whose burn rate cannot be read
	causeDependency       = "dependency"           // <id> (not signed yet) or <id>/<env>
	causePrechecks        = "prechecks"            // the environment whose prechecks fail
	causeTargetUnreadable = "target-unreadable"    // <env>/<target>
	causeMergeMissing     = "merge-commit-missing" // the merge commit the checkout lacks
	causeReadmitted       = "readmitted"           // the cause that has gone
)

// isError reports whether a wait for c is caused by an error rather than
// by a rule: a target or the error budget that cannot be read, a merge
// commit the checkout does not have. Such a wait is reported every pass
// (Step.Error), recorded once.
func (c cause) isError() bool {
	switch c.kind() {
	case causeTargetUnreadable, causeBudgetUnreadable, causeMergeMissing:
		return true
	}
	return false
}

// retryable reports whether c is a cause a retry can fix although a
// ticket was set aside (quarantined) for it: such tickets are judged
// again.
func (c cause) retryable() bool {
	switch c.kind() {
	case causeMergeMissing, causeTargetUnreadable:
		return true
	}
	return false
}

func newCause(kind string, what ...string) cause {
	return cause(kind + ":" + strings.Join(what, "/"))
}

// kind is the kind of c ("window", "freeze", ...).
func (c cause) kind() string {
	k, _, _ := strings.Cut(string(c), ":")
	return k
}

// legacyMergeMissing reads the reason older reconcilers recorded, with no
// cause, when they quarantined a ticket whose merge commit the checkout
// lacked: "the merge commit <sha> is not in the repository (fetch main):
// …". It returns the cause it stands for ("" for any other reason).
func legacyMergeMissing(reason string) cause {
	rest, ok := strings.CutPrefix(reason, "the merge commit ")
	if !ok {
		return ""
	}
	sha, rest, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(rest, "is not in the repository") {
		return ""
	}
	return newCause(causeMergeMissing, sha)
}
