// Package drift finds environments changed outside cab: for every
// (environment, target, key) that a verified ticket last set, it compares
// what the target holds now (target.Driver.Observe) with what the ledger
// says the apply left there (ledger.AppliedValues), and decides the
// ledger events that record it.
//
// Invariants:
//
//   - Read only. Check calls Observe and nothing else on a driver.
//     Healing (reconcile.Reconciler.Drift with Options.Heal) is the
//     reconciler's: it writes through the reconciler's one apply path and
//     records the drift-cleared event Healed returns.
//   - Only the last setter counts: when two verified tickets set one key
//     (model.Action.Resource), the later apply is what the key should
//     hold.
//   - Once per drift. Events records drifted when a key first differs and
//     drift-cleared when it holds the value again, judged against the
//     ticket's own drift events on the ledger, so polling records nothing
//     new while the state stays the same.
//   - A target that cannot be read is unknown, neither drifted nor clear,
//     and records nothing.
package drift
