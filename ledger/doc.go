// Package ledger records what cab did to each change ticket, as an
// append-only log kept on a git branch (by default cab/ledger).
//
// Every event — signed, unsigned, applying, applied, verified, failed,
// rolled-back, rollback-failed, scheduled, expired, quarantined, drifted,
// drift-cleared — is one commit on the branch adding the file
// <seq>-<kind>.json of its ticket (and <seq>-<kind>.dsse beside it when
// the event carries a DSSE envelope). The commit message is
// "<kind> <ticket> [<env>]" followed by the git trailers Cab-Ticket,
// Cab-Env (when set) and Cab-Event, so that plain
// `git log cab/ledger --grep 'Cab-Event: applied'` works.
//
// The layout (layout.go) is versioned. Layout 2, which every new ledger
// starts with, has the file LEDGER-VERSION ("2") at the root and each
// ticket's files in ledger/<last two digits of the id>/<id>/ (Path):
// appending an event rewrites the root, ledger/ (at most 100 entries), one
// shard and one ticket directory, whatever the number of tickets.
// Layout 1 (no LEDGER-VERSION, ledger/<id>/) is read as it is and
// appended in layout 1 until Ledger.Migrate moves it, in one commit, to
// layout 2.
//
// This package is the one owner of the layout (layout.go, List), of
// decoding events (DecodeTicket: tolerant, every problem reported per
// ticket; the strict reading is Log.Err) and of the state machine
// (state.go; Replay runs it strictly or tolerantly for readers that show
// a broken ledger, such as cab log). Readers that need speed (cab log)
// supply their own object reader (Objects), never their own rules.
//
// A Ledger reads incrementally: it keeps what it read last and, on a new
// head, compares trees to decode only the ticket directories whose tree
// changed (whatever the commits in between). A Log, once returned, is
// never modified: successive reads may share its parts.
//
// Invariants:
//
//   - Append-only. A commit only adds files; an event is never edited or
//     deleted. CheckAppendOnly proves a head is a checkpoint plus added
//     events and names every ticket whose events vanished or changed; a
//     Guarded ledger refuses to read anything else, so a reconciler never
//     acts on a rewritten or edited ledger. Its checkpoint moves to each
//     head it accepts and to each head its own Update published (built
//     on the head it accepted, adding events only), so its guard compares
//     only what others added. AppendOnly checks every commit,
//     each against its parent only: linear in the commits (layout 2).
//   - The one commit that moves files is the migration from layout 1 to 2,
//     and only when it is exactly what Migrate writes: every file of its
//     parent at its layout 2 path with the same blob, LEDGER-VERSION, and
//     nothing else. AppendOnly and CheckAppendOnly rebuild that migration
//     and compare tree ids; any other commit adding LEDGER-VERSION (one
//     that drops, edits or adds an event, or moves one to another ticket)
//     is a rewrite, named path by path.
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
//   - Appending is a compare-and-swap on the branch ref
//     (gitx.CompareAndSwap, the one owner of it): Update builds the new
//     commits on top of the head it read (right after this Ledger's own
//     read or append, the head it holds, without fetching again) and
//     pushes them as a plain (non-force) fast-forward required to start
//     from that head (or updates the local ref in its place); a lost race
//     is told by reading the ref back, never by an error's text, and the
//     transaction then reads the log at the winner's head and decides
//     again, a bounded number of times (then ErrContention, matching
//     gitx.ErrLostRace). A refusal of the server's own (a hook) is a
//     *gitpush.RejectedError, not retried. Two writers therefore never
//     lose each other's events, every decision published was made on the
//     head it is published on, and "nothing to append" is said of the
//     remote's latest head.
//   - An Update stores the objects of its commits together, after all
//     of them are built and before the swap (staging, pack.go): one pack
//     and its index when there are many (a cab sign batch), loose objects
//     for a few. Nothing is published that is not stored whole.
//   - A local store missing objects of the branch is mended, not read as
//     a broken ledger: with a remote,
//     a read that finds an object missing fetches the branch whole once
//     (gitx.Refetch) and reads again. Blobs, first-parent walks and the
//     swap are gitx's; the tree comparisons (diffTrees) are this
//     package's, over Objects.
//   - Drift is an observation. drifted and drift-cleared are recorded only
//     in an environment where the ticket is verified and leave it verified;
//     a drift-cleared needs an uncleared drifted before it (Drifts).
//   - The ledger never force-pushes and never loses an event.
//   - Ticket ids and environment names are validated before they are joined
//     into a path.
package ledger
