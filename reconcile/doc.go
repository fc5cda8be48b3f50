// Package reconcile applies signed tickets to their environments.
//
// For each ticket signed on the ledger, environment by environment in the
// ticket's promotion order, the reconciler verifies the signature against
// the keys trusted by the cab.cue the ticket was judged under, waits for
// the window, freezes, the error budget, its dependencies and the previous
// environment, runs the prechecks, records applying with the observed
// previous state, applies through a target driver, runs the postchecks and
// records applied and verified — or restores the previous state and
// records failed and rolled-back (or rollback-failed).
//
// Every step is observed before it acts and recorded on the ledger by
// compare-and-swap, so a reconciler killed at any point resumes where the
// ledger says without applying anything twice, and two reconcilers on one
// repository apply each ticket once.
//
// What a ticket needs next is a typed outcome: waiting (its window),
// blocked by a stable cause (a freeze, a dependency, the error budget, an
// unreadable target, a merge commit the checkout lacks), stalled (no retry
// can fix it: quarantined or expired), ready, or resumed at a phase; an
// apply that goes wrong has failed at a step. The steps of a round (claim,
// apply, verify, roll back) are a table of phases run by one loop: a
// phase's work returns a typed result (one ledger event kind, carrying
// only that kind's data), the results of a phase are recorded by one
// compare-and-swap, and the event recorded routes the job to the phase it
// leads to — where an apply interrupted at that event resumes too.
//
// Invariants beyond the above:
//   - A wait is recorded once per ticket, environment and cause, its key
//     kept in the event's data ("target-unreadable:prod/images",
//     "budget:payments"); words that change between attempts (an error
//     body, a burn rate) never make another event. A wait caused by an
//     error (its cause's kind says so: an unreadable target or error
//     budget, a missing merge commit) is reported every pass
//     (Step.Error), recorded once.
//   - Recording a wait is not progress: a pass ends when a round records
//     nothing else. A pass also has bounds on the events it records, its
//     rounds and its duration, derived from the work in flight; it stops
//     at one between steps and reports it (BoundError).
//   - A signed ticket whose merge commit the checkout lacks waits for it
//     (scheduled) and is never set aside for it; a ticket set aside for a
//     cause a retry can fix is judged again. Quarantined is for what no
//     retry can fix: a bad or replayed signature, a blown evaluation
//     budget, a ticket that does not parse.
//
// Trust in the ledger:
//
//   - Every outcome the reconciler records is signed with its key
//     (Options.Ledger.Signer, required unless DryRun), which the main
//     line's cab.cue must trust with role "reconcile"; outcomes not signed
//     by such a key are ignored and named in Summary.Problems.
//   - A ticket whose ledger entries are broken is set aside (named in
//     Summary.Problems); the pass goes on for every other ticket.
//   - The reconciler keeps a checkpoint of the ledger head it last acted on
//     in the checkout (CheckpointFile, written atomically) and acts only on
//     a ledger that is that head plus added events. Anything else stops
//     the pass before it acts (ErrLedgerNotAppendOnly, naming every
//     ticket), on every pass, until an operator accepts a reviewed ledger
//     (AcceptLedger). Nothing is ever applied to resolve it.
//   - Drift (Reconciler.Drift, package drift) observes: it records signed
//     drifted and drift-cleared events, once per drift, and changes no
//     target unless Options.Heal is set. Healing writes only through
//     applyAction, the one apply path (observe, apply if not there, read
//     back), only in an environment cab.cue opts in (a protected one
//     explicitly), never while a freeze holds there or a change is in
//     flight there, with the drifted event's seq in the change (a new
//     idempotency key), and records a signed drift-cleared with healed:
//     true.
//   - Costs follow the work in flight, not the ledger: the environments a
//     signed statement names are decoded once per envelope for the life of
//     a Reconciler (memoised by ticket id and the exact envelope bytes,
//     never across processes), not on every round of every pass; which
//     signed tickets have work, and where each stands (Summary.States),
//     are kept per ticket for the life of a Reconciler and recomputed only
//     for the tickets whose ledger entries changed since the last read
//     (ledger.Log.Changed), each from its new entries as a whole. A new
//     Reconciler (cab reconcile) still reads the whole ledger once, and
//     verifies every outcome signature once.
//   - Every apply of a service with burnRate in cab.cue records the burn
//     rate read before it (the budget gate's reading of the round) in
//     applying and a fresh one at postcheck in verified or failed
//     (ledger.BurnRate; M10).
package reconcile
