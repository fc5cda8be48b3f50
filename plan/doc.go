// Package plan says, before anything is applied, what each action of a
// change would change in each environment: it reads the live targets
// through the reconciler's drivers (target.Driver.Observe) and never
// writes.
//
// It is the one owner of "describe what an action would change"
// (Describe): the reconciler's dry run, the applying event it records,
// `cab plan` and `cab check --plan` all render actions through it.
//
// Invariants:
//
//   - Read only. Make calls Observe and nothing else on a driver.
//   - Targets come from the configuration the caller passes, which on a
//     pull request is the base cab.cue: a pull request cannot point the
//     plan at a server of its choosing.
//   - Bounded. Each observation has its own deadline (Options.Timeout); a
//     target that does not answer in time, or cannot be reached, is
//     "unknown (why)" and never fails the plan.
//   - A target that answers that it refuses the reconciler's credentials
//     or does not exist is a problem the apply would hit: it is flagged
//     (Problem), as is a window that a freeze closes before the earliest
//     possible apply.
package plan
