// Package ledger records what cab did to each change ticket, as an
// append-only log kept on a git branch (by default cab/ledger).
//
// Every event — signed, unsigned, applying, applied, verified, failed,
// rolled-back, rollback-failed, scheduled, expired, quarantined — is one
// commit on the branch adding the file ledger/<ticket-id>/<seq>-<kind>.json
// (and <seq>-<kind>.dsse beside it when the event carries a DSSE envelope).
// The commit message is "<kind> <ticket> [<env>]" followed by the git
// trailers Cab-Ticket, Cab-Env (when set) and Cab-Event, so that plain
// `git log cab/ledger --grep 'Cab-Event: applied'` works.
//
// Invariants:
//
//   - Append-only. A commit only adds files; an event is never edited or
//     deleted. VerifyCheckpoint detects a branch that was rewritten.
//   - One commit per event, with per-ticket sequence numbers 1, 2, 3, …
//     matching the file names.
//   - Every event is a legal transition of the per-ticket (and, for apply
//     events, per-environment) state machine; reading a branch holding an
//     impossible transition fails with a *TransitionError.
//   - Appending is a compare-and-swap on the branch ref: Update builds the
//     new commits on top of the head it read and pushes them as a plain
//     (non-force) fast-forward required to start from that head; when the
//     ref moved, the push is rejected and the transaction re-reads the log
//     and decides again. Two writers therefore never lose each other's
//     events, and every decision is made on the latest state.
//   - The ledger never force-pushes and never loses an event.
//   - Ticket ids and environment names are validated before they are joined
//     into a path.
package ledger
