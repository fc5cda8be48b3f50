// Package model holds the plain Go types of cab's data: a change ticket
// (Ticket, Action, Check, …) and a change repository's configuration
// (Config, Environment, Key, Notify, …) and the review evidence policies
// see (Review, Approval), with the small rules that read them
// (Action.Resource, Key.HasRole, Config.SLAFor, SLA.Level).
//
// Invariants:
//   - No CUE: this package and everything it imports never link the CUE
//     evaluator (cuelang.org/...), so the reconciler's drivers, the ledger,
//     notify and other code that only reads tickets and configuration do
//     not pay for it at start-up or in size. A test holds every package
//     that does not evaluate CUE to this (internal/treetest.TestNoCUE).
//   - The types mirror the CUE schema (package schema, #Ticket and
//     #Config) field for field and tag for tag; schema validates a file
//     and decodes it into these types, and is the only way a value of them
//     comes from a user's file.
package model
