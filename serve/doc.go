// Package serve runs the reconciler as a daemon: the engine behind
// `cab serve`.
//
// A Server owns one reconcile loop goroutine and an http.Handler with six
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
//   - GET /healthz: 200 "ok" while every condition of the Server's health
//     holds; 503 with one line per failing condition otherwise: the loop
//     is not running (not started, or shutting down), the running pass has
//     run longer than Config.PassWarn, the last pass failed (with how many
//     in a row and since when), the ledger cannot be pushed (the server
//     refused it, or contention never ended), or a condition set with
//     SetCondition (CondLedgerRewritten, from the ledger's rewrite hook).
//     Errors are shown with credentials scrubbed (internal/redact).
//   - GET /readyz (Kubernetes readiness): 200 while the daemon can do its
//     job: the loop runs, the last pass succeeded, the ledger can be
//     pushed and was not rewritten. A slow pass does not make it unready.
//   - GET /livez (Kubernetes liveness): 200 while the process answers and
//     no pass has run longer than Config.PassWedged. Failing passes do not
//     fail it (a restart does not fix a remote); a wedged loop does (the
//     next start resumes from the ledger).
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
//     cab_webhooks_total{provider,result},
//     cab_approval_sla_breaches_total (Config.SLA's newly notified
//     breaches, polled every Config.SLAInterval in the loop, never during
//     a pass, each poll cut at Config.SLATimeout so that a forge that
//     hangs delays a pass by at most that much), plus the Go and process
//     collectors. Labels taken from the engine are bounded: a kind cab
//     does not know is counted as "other".
//
// When Config.UI is set, the read-only web UI (package webui) is mounted
// at /ui/ on the same listener.
//
// Invariants:
//
//   - Nothing unauthenticated triggers anything. A webhook route without a
//     configured secret answers 404; a request without a valid signature
//     or token answers 401. Bodies are parsed only after authentication.
//   - Unauthenticated work is bounded. A GitHub body must be read whole
//     before its signature can be checked, so at most Config.MaxBodies
//     bodies are read at once (more: 503 with Retry-After, nothing read),
//     each through http.MaxBytesReader (413 beyond Config.MaxBody) within
//     Config.BodyTimeout (408 beyond). With the defaults (4 × 1 MiB) a
//     flood of unauthenticated posts holds a few MiB; the test
//     TestServeMemoryUnderFlood (cmd/cab) holds the binary to a stated
//     ceiling. Slow headers are cut by the server's ReadHeaderTimeout.
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
