// Package gitpush pushes a linear run of new commits to a remote branch
// by compare-and-swap, sending only what those commits add. The ledger and
// the git target driver both append commits on top of a head they read;
// this is how they publish them, the driver through gitx.CompareAndSwap,
// which owns the retries and judges a failed push by reading the branch
// back rather than by this package's reading of the server's words.
//
// It also owns the deadline of every exchange with a git remote: Call
// bounds one push, fetch or listing by the timeout the context carries
// (WithTimeout; DefaultTimeout otherwise), so that a remote that accepts
// the connection and never answers cannot hang a reconcile pass, while
// cancelling the context (SIGTERM) still ends the call at once.
//
// Invariants:
//
//   - A push never forces: the remote checks the old value itself.
//   - Its failures are typed: ErrMoved (the swap was lost: re-read and
//     retry), *RejectedError (the server refused for a reason of its own:
//     permanent, with the server's reason scrubbed of credentials), and
//     ErrTimeout (the remote did not answer within the bound).
package gitpush
