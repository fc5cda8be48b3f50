// Package verifycache keeps what cab verify may reuse between runs, under
// the repository's git directory at cab/verify/: the parse of each ticket
// (the sha256 of its canonical JSON and its environments, the only things
// verify takes from a parse; or, marked exact, those schema.ExportData
// computed without parsing, which settle nothing unless the signature
// verifies against them) and the verdict a run reached for each
// ticket, kept by the ledger head it read (its checkpoint).
//
// A file is
//
//	"cab-verify-cache v1 " kind "\n"
//	hex sha256 of the Identity of the cab binary that wrote it "\n"
//	hex sha256 of the body "\n"
//	body (JSON)
//
// Invariants:
//
//   - A cache is never a source of truth. A file that is missing, cut
//     short, of another kind or version, written by another cab binary
//     (Identity: the sha256 of the executable, so any change of cab's
//     code or embedded schema), whose body does not match its checksum or
//     does not decode exactly, reads as empty, and the caller computes
//     everything again.
//   - Every key is the sha256 of every input of what it caches: a parse
//     by the ticket's exact bytes and its path (with the Identity in the
//     file header); a verdict state by the ledger head it was reached at
//     (with the Identity in the header), and the state names the main
//     commit it read. Nothing a push can change is trusted from it: the
//     files live in the git directory, which fetch and push never write.
//   - Writes replace a file atomically (a temporary file renamed over it),
//     so a concurrent reader sees the old or the new file, whole; a
//     failed write is not an error of verify (the next run recomputes).
//
// What the cache cannot protect against is someone who can write the git
// directory itself: they could as well rewrite objects and refs. Run
// cab verify --no-cache to ignore it.
package verifycache
