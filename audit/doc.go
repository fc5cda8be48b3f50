// Package audit answers auditors from git history: main read by first
// parent, and the ledger branch.
//
// Verify checks the whole chain: every merged ticket signed by a trusted
// key of its base cab.cue, the signed digest equal to the ticket as it is
// on main (so no ticket changed after merge), no ticket merged without
// passing the gate, and the ledger never rewritten since a recorded
// checkpoint.
// Every run verifies every signature; what it may reuse from an earlier
// run (the parse of each ticket by its exact bytes, the main line and
// the append-only proof by commit id, and from a checkpoint the verdicts
// on tickets that provably did not change) it keeps under
// .git/cab/verify (file format: the subpackage verifycache), every entry
// keyed by all its inputs and by the cab binary.
//
// Log streams one Change per merged ticket (or one EventRow per ledger
// event): who proposed, approved and signed it, and what happened in each
// environment. It reads objects through internal/gitobj, not go-git, for
// speed. It keeps a derived index under .git/cab/ (file format: the
// subpackage logindex) that is checked against git on every run, extended
// incrementally and rebuilt when it no longer fits; git stays the source
// of truth. Without an index, a question that does not need the count of
// every merged ticket (LogOptions.NoMerged) and names its services or a
// period is answered by a direct first-parent walk instead, helped by
// git's commit-graph and its changed-path Bloom filters when present
// (log_direct.go); the rows are the same. With the index up to date, a
// question naming its tickets or else its services exactly decodes only
// their records, found through the index's lookup section (log_byid.go);
// again the rows are the same, and --verify-index checks that the lookup
// section is the one its records give.
//
// ComputeMetrics measures throughput, lead times, success, rollback and
// change failure rates and time to restore over those changes; its doc
// defines each figure precisely. The subpackage htmlreport renders them,
// with the changes and the Verify verdict, as a self-contained HTML page.
package audit
