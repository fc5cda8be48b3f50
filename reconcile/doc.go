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
package reconcile
