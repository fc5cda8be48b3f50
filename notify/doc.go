// Package notify tells people what went wrong: a failed, rolled-back or
// expired change, a quarantined ticket, a rewritten ledger, an approval
// that waits past its SLA, an emergency post-review due or overdue.
//
// Sinks and routes come from cab.cue (model.Notify): a webhook gets the
// event as JSON with an X-Cab-Signature-256 header (HMAC-SHA256 of the
// body, keyed by a secret read from an environment variable), a Slack
// incoming webhook gets its text, an email goes over SMTP with STARTTLS.
//
// Invariants:
//   - Nothing is ever told before it is recorded: the reconciler hands a
//     step to its Observer only after the ledger holds the event, and
//     Notifier.Observer builds notifications from those steps only.
//   - At least once, at most once per sink as far as the state says: each
//     event has an id (ticket/env/seq, or an SLA escalation's pr/level);
//     it is written to the state file (.git/cab/notify/state.json) as
//     pending before any sink is tried, marked sent per sink when the sink
//     acknowledges it, and a restart resends what is pending and nothing
//     that was sent.
//   - A sink that is down never blocks or fails the caller: Notify only
//     enqueues (a bounded queue; a full queue leaves the event pending in
//     the state for the next retry), every send has a timeout, retries
//     back off with jitter and give up after a bound, leaving the event
//     pending.
//   - No secret in any message: every text field goes through a
//     redact.Redactor that knows the known credential formats and every
//     secret the sinks hold.
//   - rollback-failed goes to every sink, whatever the routes, marked loud.
//
// A Commenter keeps one comment (found again by CommentMarker, edited in
// place) on the pull request that introduced each ticket, with the latest
// outcome of each of its tickets in each environment (cab reconcile and
// cab serve --post). Its invariants:
//   - The pull request is the one the ticket's signed statement names
//     (statement.PredicateOf), never a commit message.
//   - At least once, never blocking: a ticket with a recorded outcome is
//     pending in .git/cab/notify/comments.json until its comment was
//     posted; a failure is logged and retried by the next Sync. A comment
//     whose text did not change is not posted again.
//   - Ticket text is untrusted: Markdown writes every character with a
//     meaning in Markdown, HTML or a forge's references as a character
//     reference; the body is scrubbed of secrets like every message.
package notify
