// Package signedledger writes, for benchmarks, the ledger a repository
// of package synth would have once `cab sign` had signed every ticket
// merged on its main line: one signed event per ticket, each carrying a
// DSSE envelope over the statement `cab sign` would make (the ticket's
// path, the digest of its canonical JSON, id, environments, merge commit
// and repository), really signed by the key it is given.
//
// It does not judge the tickets (that is `cab sign`'s cost, measured
// elsewhere): it produces the ledger that `cab verify` and the reconciler
// read, at sizes (100,000 tickets) at which running `cab sign` is not
// practical. The key is a parameter: the generator trusts whatever the
// repository's cab.cue trusts (bench/synth writes a key it trusts beside
// the repository), so that every signature verifies.
//
// Invariants:
//   - Deterministic: the same repository, key and time give the same
//     ledger commits (Ed25519 signatures are deterministic).
//   - The ledger is written through package ledger (layout, commits and
//     trailers exactly as cab writes them), in the local branch only.
//   - A ticket that does not parse is an error: synth's tickets all do.
package signedledger
