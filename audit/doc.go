// Package audit answers auditors from git history: main read by first
// parent, and the ledger branch. Verify checks the whole chain: every
// merged ticket signed by a trusted key of its base cab.cue, the signed
// digest equal to the ticket as it is on main (so no ticket changed after
// merge), no ticket merged without passing the gate, and the ledger never
// rewritten since a recorded checkpoint.
package audit
