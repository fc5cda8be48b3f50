// Package httptarget is the driver for targets of type http: a webhook that
// does whatever cab itself cannot (open a feature flag, call a deploy API,
// page a system that has no git or registry to write to).
//
// # The protocol
//
// cab speaks a small protocol to the webhook. A ticket's action names a
// Method (POST, PUT or PATCH; default POST), a Path below the target's base
// URL and a JSON object Body; cab.cue names the target's URL and, when
// reads go elsewhere, its Observe URL (default: URL).
//
// Apply sends
//
//	<Method> <URL><Path>
//	Idempotency-Key: <ticket>/<env>/<seq>/<index>
//	Content-Type: application/json
//	X-Cab-Ticket: <ticket>
//	X-Cab-Env: <env>
//	X-Cab-Commit: <merge commit>       (when known)
//
//	<the action's body, or {}>
//
// The webhook must apply a given Idempotency-Key at most once. It answers:
//
//   - 2xx: accepted (also when it had already applied the key and replays
//     its answer).
//   - 409 Conflict echoing the same Idempotency-Key header: already applied;
//     cab treats it as success. A 409 without the echo is a conflict of
//     another kind and a permanent error.
//   - 408, 429 and 5xx, or no answer within the attempt timeout: transient;
//     cab retries with the same key after a jittered exponential backoff,
//     a bounded number of times (WithRetries), then fails with the last
//     status seen.
//   - any other 4xx, or a redirect (never followed, so that the key and the
//     body go nowhere else): permanent; cab does not retry.
//
// After an accepted apply cab reads the target back with Observe; the
// change counts as applied only if the webhook then lists its key
// (otherwise the error matches target.ErrMismatch).
//
// Observe sends
//
//	GET <Observe><Path>
//	Idempotency-Key: <key>
//	Accept: application/json
//
// and expects either 404 (nothing there: the state is target.Absent) or a
// 2xx answer with the JSON document
//
//	{"state": "<string>", "applied": ["<key>", ...]}
//
// where state is what the webhook holds now in words a human compares
// (a version, a flag value; null or missing means absent) and applied
// lists the idempotency keys it has applied. The change is done when its
// key is listed. The State's Restore is {"state": "<string>"} or
// {"state": null} when absent.
//
// Restore sends
//
//	<Method> <URL><Path>
//	Idempotency-Key: <key>/rollback
//	X-Cab-Rollback: true
//
//	{"restore": "<previous state>" | null, "rollbackOf": "<key>"}
//
// with the same answers as Apply (null asks the webhook to remove what the
// change created), then reads back: the webhook must report the previous
// state again (or 404 when it was absent), otherwise the error matches
// target.ErrMismatch.
//
// # Invariants
//
//   - Every non-idempotent call carries the change's idempotency key; a
//     retry, a resumed apply after a crash or a second reconciler send the
//     same key, so the webhook applies the change once.
//   - The request URL never leaves the configured base: a Path with "."
//     or ".." segments, empty segments ("//host"), a query, a fragment,
//     a backslash, control characters or an encoded slash is refused with
//     an error matching target.ErrUnsafe, and only http and https base
//     URLs are used.
//   - Response bodies are read up to 1 MiB; a larger observation is an
//     error, never a partial read.
//   - Retries are bounded by count and by the caller's context.
package httptarget
