// Package validate is cab's gate: it checks change tickets against the
// schema, the repository configuration and the policies, and the
// repository-wide invariants (unique ids, existing dependencies, layout,
// no symlinks, binary or oversized files).
//
// Invariants:
//   - Tickets are data: a ticket reaches a policy only as the JSON export of
//     a concrete value that passed the closed #Ticket.
//   - Evaluation of anything a user wrote runs in a sandboxed child process
//     with a memory limit and a time budget per ticket; a blown budget is a
//     diagnostic naming the ticket (and the policy, when known), never a
//     crash or a hang of the caller.
//   - Every problem is a diagnostic with file:line:col, message and hint;
//     errors are kept for failures of cab itself.
package validate
