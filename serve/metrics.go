package serve

import (
	"net/http"
	"sync"
	"time"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/internal/prom"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/reconcile"
)

// statePending is the state Summary.States gives a ticket-environment
// with no event yet.
const statePending = "pending"

// otherLabel replaces a state or step kind cab does not know, so that a
// misbehaving engine cannot grow the label set without bound.
const otherLabel = "other"

// applyBuckets spans a tag move (well under a second) to a slow rollout
// behind postchecks (half an hour).
var applyBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// metrics are a Server's Prometheus metrics, on a private registry so that
// two servers in one process (tests) never share counters.
type metrics struct {
	reg *prom.Registry
	// h serves reg (built once: it registers the handler's own counter)
	h http.Handler

	tickets       *prom.GaugeVec
	applyDuration *prom.HistogramVec
	rollbacks     *prom.CounterVec
	steps         *prom.CounterVec
	errors        *prom.Counter
	passes        *prom.Counter
	passDuration  *prom.Histogram
	lastPass      *prom.Gauge
	lastSuccess   *prom.Gauge
	webhooks      *prom.CounterVec
	drifts        *prom.GaugeVec
	slaBreaches   *prom.Counter

	mu     sync.Mutex
	states map[string]bool // every state label ever set, to zero vanished ones
}

func newMetrics() *metrics {
	reg := prom.NewRegistry()
	m := &metrics{
		reg: reg,
		tickets: reg.GaugeVec("cab_tickets",
			"Ticket-environments by the kind of their last ledger event after the last pass (pending: signed, no event in the environment yet).",
			"state"),
		applyDuration: reg.HistogramVec("cab_apply_duration_seconds",
			"How long applying a ticket in an environment took, from applying to its outcome (applied or failed).",
			applyBuckets, "outcome"),
		rollbacks: reg.CounterVec("cab_rollbacks_total",
			"Rollbacks by outcome: rolled-back (previous state restored) or rollback-failed (a human is needed).",
			"outcome"),
		steps: reg.CounterVec("cab_reconcile_steps_total",
			"Steps the reconciler recorded, by ledger event kind.",
			"kind"),
		errors: reg.Counter("cab_reconcile_errors_total",
			"Reconcile passes that ended with an error."),
		passes: reg.Counter("cab_reconcile_passes_total",
			"Reconcile passes run, successful or not."),
		passDuration: reg.Histogram("cab_reconcile_pass_duration_seconds",
			"How long a reconcile pass took.",
			applyBuckets),
		lastPass: reg.Gauge("cab_last_pass_timestamp_seconds",
			"Unix time the last reconcile pass ended, successful or not (0: none yet)."),
		lastSuccess: reg.Gauge("cab_last_successful_pass_timestamp_seconds",
			"Unix time the last successful reconcile pass ended (0: none yet); alert when it is old."),
		webhooks: reg.CounterVec("cab_webhooks_total",
			"Webhook deliveries by provider and result (queued, ignored, ping, unauthorized, disabled, too-large, bad-request).",
			"provider", "result"),
		drifts: reg.GaugeVec("cab_drift",
			"1 when a key a verified ticket last set no longer holds its value, 0 when it does (set by the last drift check; unreadable keys are left out).",
			"env", "target", "key"),
		slaBreaches: reg.Counter("cab_approval_sla_breaches_total",
			"Approval-SLA breaches of open pull requests notified, once per pull request and escalation level (the approver group, then the backup group)."),
		states: map[string]bool{},
	}
	reg.AddRuntime()
	m.h = reg.Handler()
	// Series that exist from the start, at zero, so that rate() and
	// absent() behave before the first event.
	for _, s := range stateLabels() {
		m.tickets.WithLabelValues(s).Set(0)
		m.states[s] = true
	}
	m.rollbacks.WithLabelValues(ledger.KindRolledBack).Add(0)
	m.rollbacks.WithLabelValues(ledger.KindRollbackFailed).Add(0)
	return m
}

// stateLabels are the states a ticket-environment can be in after a pass.
func stateLabels() []string {
	return []string{
		statePending, ledger.KindScheduled, ledger.KindApplying, ledger.KindApplied,
		ledger.KindVerified, ledger.KindFailed, ledger.KindRolledBack,
		ledger.KindRollbackFailed, ledger.KindExpired, ledger.KindQuarantined,
	}
}

// label returns k when it is a known ledger event kind (or pending, or
// plan), and otherLabel otherwise.
func label(k string) string {
	if ledger.IsKind(k) || k == statePending || k == "plan" {
		return k
	}
	return otherLabel
}

// handler serves the registry in the Prometheus exposition formats.
func (m *metrics) handler() http.Handler {
	return m.h
}

// step counts one step as the reconciler records it.
func (m *metrics) step(st reconcile.Step) {
	kind := label(st.Kind)
	m.steps.WithLabelValues(kind).Inc()
	if st.Duration > 0 {
		m.applyDuration.WithLabelValues(kind).Observe(st.Duration.Seconds())
	}
	if st.Kind == ledger.KindRolledBack || st.Kind == ledger.KindRollbackFailed {
		m.rollbacks.WithLabelValues(st.Kind).Inc()
	}
}

// pass records a finished pass, and the state counts of a successful one:
// the ticket gauges are set from states, and states absent from it go to
// zero. A failed pass (whose states may be partial) leaves them as they
// were.
func (m *metrics) pass(states map[string]int, err error, took time.Duration, end time.Time) {
	m.passes.Inc()
	m.passDuration.Observe(took.Seconds())
	at := float64(end.UnixNano()) / 1e9
	m.lastPass.Set(at)
	if err != nil {
		m.errors.Inc()
		return
	}
	m.lastSuccess.Set(at)
	if states == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[string]float64{}
	for s, n := range states {
		now[label(s)] += float64(n)
	}
	for s := range m.states {
		if _, ok := now[s]; !ok {
			m.tickets.WithLabelValues(s).Set(0)
		}
	}
	for s, n := range now {
		m.tickets.WithLabelValues(s).Set(n)
		m.states[s] = true
	}
}

// webhook counts one delivery.
func (m *metrics) webhook(provider, result string) {
	m.webhooks.WithLabelValues(provider, result).Inc()
}

// drift sets the cab_drift gauge from a drift check's findings: the
// series of keys no longer checked go.
func (m *metrics) drift(fs []drift.Finding) {
	m.drifts.Reset()
	for _, f := range fs {
		if f.Unknown != "" {
			continue
		}
		v := 0.0
		if f.Drifted {
			v = 1
		}
		m.drifts.WithLabelValues(f.Env, f.Target, f.Key).Set(v)
	}
}
