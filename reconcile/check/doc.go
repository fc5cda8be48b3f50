// Package check runs a ticket's prechecks and postchecks: HTTP probes and
// Prometheus queries (model.Check), retrying the failing ones within a
// time budget, and reports one Outcome per check.
//
// An http check GETs its URL and passes when the answer has the expected
// status (default 200), arrived within maxLatency (when set) and its body
// (the first MaxBody bytes) matches bodyRegex (when set). Each attempt is
// bounded by the check's timeout (default 10s).
//
// A prometheus check runs an instant query (GET <server>/api/v1/query)
// and compares its single value with the threshold. The query must yield
// a scalar or a vector of exactly one sample: an empty vector is "no
// data", never 0, and several samples are an error naming their count
// (aggregate the query). NaN passes no comparison. With for, the
// condition must hold on every sample, one per Options.Interval, for that
// long; a sample that fails starts the wait over.
//
// Invariants:
//
//   - Run is bounded: at most Budget/Interval+1 rounds of attempts, each
//     attempt bounded by its own timeout, and the caller's context.
//   - A check that cannot pass (an invalid regex, duration or operator, no
//     Prometheus server, a for longer than the budget) fails at once with
//     a detail saying how to fix it, without being sent anywhere.
//   - Bodies are read up to MaxBody (1 MiB); nothing is held beyond that.
//
// Query is exported on its own for the reconciler's error-budget gate.
package check
