package reconcile

import (
	"strings"
	"time"

	"github.com/cabhq/cab/ledger"
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
//   - stalled: no retry can fix it (a bad signature, a replay, a blown
//     evaluation budget, a closed window); recorded quarantined or
//     expired, for good.
//   - readmit: it was set aside for a cause that has gone; recorded
//     scheduled, and it is back in the running.
//   - ready: a fresh apply may start (prechecks, observe, claim, apply).
//   - resume: an apply without an outcome, resumed at a phase.
//
// A failure while applying is failed, at the step it happened.
type outcome interface{ isOutcome() }

// waiting is a change whose window opens at until.
type waiting struct{ until time.Time }

// blocked is a change held by something that may change at any time.
type blocked struct {
	cause cause
	// reason says it in words; it may change from one pass to the next
	// (an error body, a burn rate) without a new event.
	reason string
	// err marks a hold caused by an error rather than by a rule: a
	// target or the error budget that cannot be read, a merge commit the
	// checkout does not have.
	err bool
}

// stalled is a change that no retry can fix: kind is quarantined or
// expired.
type stalled struct{ kind, reason string }

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

func (waiting) isOutcome() {}
func (blocked) isOutcome() {}
func (stalled) isOutcome() {}
func (readmit) isOutcome() {}
func (ready) isOutcome()   {}
func (resume) isOutcome()  {}

// blocked is the wait for the window, as every other wait.
func (w waiting) blocked() blocked {
	at := w.until.UTC().Format(time.RFC3339)
	return blocked{cause: newCause(causeWindow, at), reason: "waiting for the window to open at " + at}
}

// failed is an apply, its postchecks or its rollback that failed at step.
type failed struct {
	step string
	err  error
}

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
