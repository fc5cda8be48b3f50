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
package reconcile
