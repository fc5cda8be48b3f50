// Package ledger records what cab did to each change ticket, as an
// append-only log kept on a git branch (by default cab/ledger).
//
// Every event — signed, unsigned, applying, applied, verified, failed,
// rolled-back, rollback-failed, scheduled, expired, quarantined, drifted,
// drift-cleared — is one
// commit on the branch adding the file ledger/<ticket-id>/<seq>-<kind>.json
// (and <seq>-<kind>.dsse beside it when the event carries a DSSE envelope).
// The commit message is "<kind> <ticket> [<env>]" followed by the git
// trailers Cab-Ticket, Cab-Env (when set) and Cab-Event, so that plain
// `git log cab/ledger --grep 'Cab-Event: applied'` works.
//
// This package is the one owner of the layout (decode.go), of decoding
// events (DecodeTicket: tolerant, every problem reported per ticket; the
// strict reading is Log.Err) and of the state machine (state.go). Readers
// that need speed (cab log) supply their own object reader (Objects), never
// their own rules.
//
// Invariants:
//
//   - Append-only. A commit only adds files; an event is never edited or
//     deleted. CheckAppendOnly proves a head is a checkpoint plus added
//     events and names every ticket whose events vanished or changed; a
//     Guarded ledger refuses to read anything else, so a reconciler never
//     acts on a rewritten or edited ledger. AppendOnly checks every commit.
//   - One commit per event, with per-ticket sequence numbers 1, 2, 3, …
//     matching the file names.
//   - Per-ticket isolation. A ticket whose entries are broken (unreadable
//     file, gap, a file disagreeing with its name, an impossible transition
//     such as a second signed) is set aside (StatusSetAside): none of its
//     events are read, nothing is appended to it, Log.Problems names it,
//     and every other ticket reads as usual.
//   - Signed outcomes. Every event but signed and unsigned is an outcome;
//     with a Signer, Update wraps each outcome in a DSSE envelope (payload
//     type EventPayloadType) over its canonical JSON, evidence included.
//     With a verifier (SetVerifier), an outcome whose envelope is missing,
//     made by a key the verifier does not trust, or over other bytes is an
//     *OutcomeError of its ticket and is left out of the state; it keeps
//     its sequence number, so nothing is ever written over it.
//   - Appending is a compare-and-swap on the branch ref: Update builds the
//     new commits on top of the head it read and pushes them as a plain
//     (non-force) fast-forward required to start from that head; when the
//     ref moved, the push is rejected and the transaction re-reads the log
//     and decides again. Two writers therefore never lose each other's
//     events, and every decision is made on the latest state.
//   - Drift is an observation. drifted and drift-cleared are recorded only
//     in an environment where the ticket is verified and leave it verified;
//     a drift-cleared needs an uncleared drifted before it (Drifts).
//   - The ledger never force-pushes and never loses an event.
//   - Ticket ids and environment names are validated before they are joined
//     into a path.
package ledger
