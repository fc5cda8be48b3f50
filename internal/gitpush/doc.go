// Package gitpush pushes a linear run of new commits to a remote branch
// by compare-and-swap, sending only what those commits add. The ledger and
// the git target driver both append commits on top of a head they read
// and publish them through gitx.CompareAndSwap, which calls Push, owns the
// retries and judges a failed push by reading the branch back.
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
//   - Its failures are typed: ErrMoved (the remote advertised the ref
//     elsewhere than old, before anything was sent: the swap was lost),
//     *RejectedError (receive-pack refused the update, with the server's
//     reason scrubbed of credentials), and ErrTimeout (the remote did not
//     answer within the bound). The server's words are never matched: a
//     refusal may be a hook's or a race lost inside the server, and only
//     reading the ref back (gitx.CompareAndSwap) tells which.
package gitpush
