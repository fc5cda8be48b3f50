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
//     crash or a hang of the caller. One check loses at most Limits.Total
//     to blown budgets, over all its children and compile included; what is
//     left then fails unevaluated, so a hostile policy fails a check in
//     bounded time however many tickets it meets.
//   - Pull requests judged by the same rules (CheckPRs, as cab sign judges
//     every new merge of main) share a child: the rules are compiled once
//     and each ticket is evaluated in its own pull request's context
//     (time, review, changed files, open tickets), with the same per-ticket
//     time budget and per-child memory budget, at most a few hundred
//     tickets a child. A shared child that blows a budget never decides
//     another pull request's verdict: the pull requests in flight are
//     checked again alone, as CheckPR checks them, the rest are shared
//     again, and after a few such failures the rest are checked alone.
//   - Ticket ids (unique ids, references) are looked up in an index derived
//     from git and stored under .git/cab/ (ids-v1.idx, like the index of
//     targets), moved by the difference to the head under check; a session
//     (cab sign's walk of main) moves it merge by merge and decodes the
//     ledger once per ledger commit, so that judging N merges costs what
//     they add, not N times the history.
//   - A governance change's new rules are compiled and tried on a sample
//     ticket in the sandbox: a policy that blows its budget only when it
//     sees a ticket fails the pull request that adds it, by name. The
//     head's cab.cue and policies are never evaluated outside the sandbox.
//   - Conflicts are looked up, not scanned for: the merged side comes from
//     an index of targets (keyed by model.Action.Resource) derived from
//     git under .git/cab/, so finding them across every service costs what
//     may conflict, not the size of the repository.
//   - A check on files (CheckPaths) reuses a ticket's verdict from an earlier
//     check only when every input of it is the same: the key hashes the cab
//     binary, CUE's environment, cab.cue, every policy, the job's mode,
//     review, changed files and open tickets, and the ticket's name and
//     bytes; what the verdict takes from the time (calendar facts, the
//     freeze listing, and now itself when policy.MayReadNow) is recomputed
//     by the sandboxed child and must be equal. Entries live under
//     .git/cab/verdicts/, authenticated by internal/verdictcache; only
//     verdicts of a run where nothing blew a budget are kept. The
//     pull-request gate and cab sign never use it.
//   - Committed secrets (private keys, common token formats) are refused
//     anywhere in what a pull request adds or changes, reading only those
//     blobs (size-limited, binary skipped), and in the files a local check
//     is given.
//   - What the reconciler would fail at apply time (a prometheus check
//     without a server, a hold longer than model.DefaultCheckBudget, an
//     image without a registry, an undeclared target) fails the check.
//   - Every problem is a diagnostic with file:line:col, message and hint;
//     errors are kept for failures of cab itself.
//   - Rules others follow have one owner here: when an emergency's
//     post-incident review is due and whether it is done (PostReviewOf,
//     which the web UI and cab serve's notifications use too), and which
//     diagnostic is the approval-SLA warning (SLAWarning, what cab serve's
//     SLA poll notifies from: the poll never judges an SLA itself).
package validate
