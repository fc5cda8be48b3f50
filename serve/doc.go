// Package serve runs the reconciler as a daemon: the engine behind
// `cab serve`.
//
// A Server owns one reconcile loop goroutine and an http.Handler with four
// routes:
//
//   - POST /webhook/github: a GitHub webhook. The X-Hub-Signature-256
//     header must be the HMAC-SHA256 of the raw body under the secret
//     (compared in constant time). A push to the watched branch queues a
//     pass (202); ping answers 200; other events and other branches answer
//     202 with the reason they were ignored.
//   - POST /webhook/gitlab: a GitLab webhook. The X-Gitlab-Token header
//     must equal the secret token (compared in constant time). A Push Hook
//     for the watched branch queues a pass (202); other events are ignored
//     (202 with the reason).
//   - GET /healthz: 200 "ok" while the loop runs and the last pass
//     succeeded (or none has finished yet); 503 with the reason otherwise:
//     the loop is not running (not started, or shutting down), or the last
//     pass failed (its error, with any credentials in URLs redacted).
//   - GET /metrics: Prometheus metrics from a private registry:
//     cab_tickets{state} (ticket-environments by the kind of their last
//     ledger event after the last successful pass; states that vanish go
//     to 0), cab_apply_duration_seconds{outcome} (histogram of the steps
//     with a duration), cab_rollbacks_total{outcome="rolled-back"|
//     "rollback-failed"}, cab_reconcile_steps_total{kind},
//     cab_reconcile_passes_total, cab_reconcile_errors_total,
//     cab_reconcile_pass_duration_seconds,
//     cab_last_pass_timestamp_seconds,
//     cab_last_successful_pass_timestamp_seconds and
//     cab_webhooks_total{provider,result}, plus the Go and process
//     collectors. Labels taken from the engine are bounded: a kind cab
//     does not know is counted as "other".
//
// Invariants:
//
//   - Nothing unauthenticated triggers anything. A webhook route without a
//     configured secret answers 404; a request without a valid signature
//     or token answers 401. Bodies are read through http.MaxBytesReader
//     (413 beyond Config.MaxBody) and parsed only after authentication.
//   - A webhook never says what to apply: it only wakes the loop. The
//     reconciler reads main and the ledger itself, so a replayed or
//     reordered delivery at most causes one extra pass.
//   - At most one pass runs at a time and at most one is queued: triggers
//     (one at start, the timer, webhooks) arriving while a pass is queued
//     are coalesced into it. A webhook answers as soon as it is queued.
//   - The timer fires Config.Interval after the previous pass ended, so a
//     pass still runs when webhooks are lost (and when a window opens).
//   - Shutdown is graceful (Serve): when its context is cancelled, the
//     HTTP server stops accepting requests (http.Server.Shutdown, bounded by
//     Config.ShutdownTimeout) and the running pass, if any, gets
//     Config.Grace to finish. After the grace its context is cancelled: the
//     reconciler then abandons the step safely (an "applying" event without
//     an outcome stays on the ledger, and the next start resumes it by
//     observing the target). A pass that ignores its cancelled context for
//     another Config.ShutdownTimeout is abandoned and Serve returns
//     ErrAbandoned.
//
// Steps are counted as they happen through the reconcile.Observer that
// Server.Observer returns (pass it to the engine); steps of a Summary the
// observer did not hear are counted when the pass returns.
package serve
