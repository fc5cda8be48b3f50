package audit

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// MetricsOptions configure ComputeMetrics.
type MetricsOptions struct {
	// Period buckets the rows: PeriodAll (the default, one bucket),
	// PeriodWeek (ISO 8601 weeks, Monday to Monday), PeriodMonth or
	// PeriodQuarter, in Location.
	Period Period
	// Location is the time zone of the period boundaries and of the times
	// in the result (nil: UTC).
	Location *time.Location
	// Since (inclusive) and Until (exclusive) bound the timestamps counted;
	// zero means unbounded.
	Since, Until time.Time
	// ByService and ByEnv choose the grouping: one row per service, per
	// environment, per both, or (neither) one row per period.
	ByService, ByEnv bool
	// ProdEnv names the production environment, whose deployments the
	// deployment metrics count when the rows are not grouped by
	// environment. Empty means the last environment of each change's
	// promotion list.
	ProdEnv string
	// SLA, when set, gives each merged change its approval SLA, and M8 is
	// counted (see metricsComputer.approvalSLA); nil leaves M8 out.
	SLA SLAResolver
}

// Metrics is the result of ComputeMetrics: one row per group and period.
type Metrics struct {
	Period   Period    `json:"period"`
	Timezone string    `json:"timezone"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	// ProdEnv is the production environment ("" for the last environment
	// of each promotion list).
	ProdEnv string `json:"prodEnv"`
	// By lists the grouping dimensions: service, env, both or none.
	By   []string     `json:"by"`
	Rows []MetricsRow `json:"rows"`
	// SLA is true when M8 was counted (the approval SLAs were known).
	SLA bool `json:"sla,omitempty"`
	// NotRecorded names the metrics the ledger cannot answer, each with
	// why and what would have to be recorded (none at present).
	NotRecorded map[string]string `json:"notRecorded"`
}

// MetricsRow holds the metrics of one group (service, environment) in one
// period. Ratios are nil when their denominator is zero.
type MetricsRow struct {
	// Service is the group's service ("" when not grouped by service).
	Service string `json:"service,omitempty"`
	// Env is the environment the deployment metrics count: the group's
	// environment, or the production environment.
	Env string `json:"env"`
	// Period labels the bucket: "all", "2026-W02", "2026-01" or "2026-Q1";
	// Start (inclusive) and End (exclusive) bound it (zero: unbounded).
	Period string    `json:"period"`
	Start  time.Time `json:"start,omitzero"`
	End    time.Time `json:"end,omitzero"`

	// Merged counts the changes merged in the period (throughput).
	Merged int `json:"merged"`
	// Emergency counts the merged changes of kind emergency;
	// EmergencyShare is Emergency / Merged.
	Emergency      int      `json:"emergency"`
	EmergencyShare *float64 `json:"emergencyShare"`
	// Unsigned counts the merged changes recorded unsigned (they reached
	// main without passing the gate).
	Unsigned int `json:"unsigned"`
	// ApprovalLeadTime is opened → approvals complete, per merged change.
	ApprovalLeadTime DurationStats `json:"approvalLeadTime"`
	// Finished counts the merged changes with a final outcome; Succeeded
	// those verified, RolledBack those rolled back (or whose rollback
	// failed). SuccessRate and RollbackRate divide by Finished.
	Finished     int      `json:"finished"`
	Succeeded    int      `json:"succeeded"`
	SuccessRate  *float64 `json:"successRate"`
	RolledBack   int      `json:"rolledBack"`
	RollbackRate *float64 `json:"rollbackRate"`

	// Deployments counts the applies started in Env in the period;
	// DeploymentsFinished those with an outcome, DeploymentsFailed those
	// that failed. ChangeFailureRate is DeploymentsFailed /
	// DeploymentsFinished.
	Deployments         int      `json:"deployments"`
	DeploymentsFinished int      `json:"deploymentsFinished"`
	DeploymentsFailed   int      `json:"deploymentsFailed"`
	ChangeFailureRate   *float64 `json:"changeFailureRate"`
	// LeadTime is merge → verified in Env.
	LeadTime DurationStats `json:"leadTime"`
	// TimeToRestore is a failure in Env → the next verified deployment of
	// the same service in Env (MTTR); Unrestored counts failures not
	// followed by one yet.
	TimeToRestore DurationStats `json:"timeToRestore"`
	Unrestored    int           `json:"unrestored"`

	// M6: PrecheckPassed counts the applies started in Env (their
	// prechecks passed, or they had none), PrecheckFailed the holds
	// recorded because prechecks failed, each in the period of its event;
	// PrecheckPassRate is passed / (passed + failed).
	PrecheckPassed   int      `json:"precheckPassed"`
	PrecheckFailed   int      `json:"precheckFailed"`
	PrecheckPassRate *float64 `json:"precheckPassRate"`
	// M7: PostcheckRuns counts the deployments in Env whose postchecks
	// ran to an outcome (verified, or failed after applied), in the period
	// of that outcome; PostcheckPassed those verified.
	PostcheckRuns           int      `json:"postcheckRuns"`
	PostcheckPassed         int      `json:"postcheckPassed"`
	PostcheckValidationRate *float64 `json:"postcheckValidationRate"`
	// M8 (metrics_sla.go): SLAMeasured counts the merged changes (period
	// of MergedAt) with an approval SLA and known opened and approved
	// times, SLABreaches those whose approvals took longer than the SLA;
	// SLABreachRate divides them. Absent unless MetricsOptions.SLA is set.
	SLAMeasured   int      `json:"slaMeasured,omitempty"`
	SLABreaches   int      `json:"slaBreaches,omitempty"`
	SLABreachRate *float64 `json:"slaBreachRate,omitempty"`

	// M9: IncidentInducing counts the merged changes (period of MergedAt)
	// that a ticket names in its fixes:; IncidentRate divides by Merged.
	IncidentInducing int      `json:"incidentInducing"`
	IncidentRate     *float64 `json:"incidentRate"`
	// M11: OrchestratorErrors counts the deployments started in the
	// period whose apply or rollback failed (not their postchecks);
	// OrchestratorErrorRate divides by Deployments.
	OrchestratorErrors    int      `json:"orchestratorErrors"`
	OrchestratorErrorRate *float64 `json:"orchestratorErrorRate"`
	// M12: TimeToExecute is applying → the deployment's outcome (verified
	// or failed), in the period of applying.
	TimeToExecute DurationStats `json:"timeToExecute"`
	// M10: BudgetMeasured counts the deployments in Env (period of
	// applying) with the service's burn rate recorded both just before the
	// apply and at postcheck; BudgetImpact is the mean, over them, of the
	// postcheck reading minus the one before (nil when none): positive
	// when changes left the service burning its error budget faster.
	BudgetMeasured int      `json:"budgetMeasured"`
	BudgetImpact   *float64 `json:"budgetImpact"`
}

// DurationStats summarises a set of durations: how many, their sum, the
// median and 90th percentile (nearest rank) and the mean.
type DurationStats struct {
	Count int
	Sum   time.Duration
	P50   time.Duration
	P90   time.Duration
}

// Mean is Sum / Count (zero when Count is zero).
func (s DurationStats) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}

// MarshalJSON writes the statistics in seconds; the percentiles and mean
// are null when there is no sample.
func (s DurationStats) MarshalJSON() ([]byte, error) {
	if s.Count == 0 {
		return []byte(`{"count":0,"p50Seconds":null,"p90Seconds":null,"meanSeconds":null}`), nil
	}
	return fmt.Appendf(nil, `{"count":%d,"p50Seconds":%s,"p90Seconds":%s,"meanSeconds":%s}`, s.Count,
		metricsSeconds(s.P50), metricsSeconds(s.P90), metricsSeconds(s.Mean())), nil
}

func metricsSeconds(d time.Duration) string {
	return fmt.Sprintf("%g", d.Seconds())
}

// newDurationStats computes the statistics of samples (which it sorts).
func newDurationStats(samples []time.Duration) DurationStats {
	s := DurationStats{Count: len(samples)}
	if s.Count == 0 {
		return s
	}
	slices.Sort(samples)
	for _, d := range samples {
		s.Sum += d
	}
	s.P50 = nearestRank(samples, 0.5)
	s.P90 = nearestRank(samples, 0.9)
	return s
}

// nearestRank is the p-quantile of sorted (non-empty) samples by the
// nearest-rank method: the smallest sample with at least p of the samples
// at or below it.
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Final outcomes: the change (or the change in one environment) will not
// move any more.
func metricsFinal(o string) bool {
	switch o {
	case "verified", "failed", "rolled-back", "rollback-failed", "expired", "quarantined":
		return true
	}
	return false
}

func metricsRolledBack(o string) bool { return o == "rolled-back" || o == "rollback-failed" }

func metricsFailed(o string) bool {
	return o == "failed" || o == "rolled-back" || o == "rollback-failed"
}

// metricsGroup identifies one row group.
type metricsGroup struct{ service, env string }

// metricsAcc accumulates one row.
type metricsAcc struct {
	row                                  MetricsRow
	approval, lead, restoration, execute []time.Duration
	// budget sums M10's burn-rate deltas.
	budget float64
}

// ComputeMetrics measures how changes flow, from the rows cab log reads
// from git. Each quantity is counted in the period (and within
// Since/Until) of its own timestamp:
//
//   - Throughput (Merged): changes whose MergedAt falls in the period.
//   - Emergency share: merged changes of kind emergency / Merged.
//   - Unsigned: merged changes whose Signature is unsigned (bypasses).
//   - Approval lead time: ApprovedAt − OpenedAt (proposal to the last
//     counted approval) of each merged change that has both, in the period
//     of MergedAt; p50, p90 (nearest rank) and mean.
//   - Change success rate: merged changes (period of MergedAt) whose
//     outcome is verified / those with a final outcome (verified, failed,
//     rolled-back, rollback-failed, expired, quarantined); changes still
//     pending, scheduled or in progress, and unsigned ones, are left out.
//   - Rollback rate: of the same finished changes, those whose outcome is
//     rolled-back or rollback-failed (a rollback was needed).
//   - Deployments (deployment frequency): applies started in the row's
//     environment, in the period of the applying event.
//   - Change failure rate: of those deployments with an outcome (verified,
//     failed, rolled-back, rollback-failed), the share that failed.
//   - Lead time (merge to production when the environment is production):
//     the environment's verified time − MergedAt, in the period of the
//     verified event.
//   - Time to restore (MTTR): per service and environment, events in time
//     order; a failed event when nothing is failing starts an outage, the
//     next verified event of the same service and environment (any change)
//     ends it. Each outage is one sample, in the period it started;
//     outages not ended yet are counted as Unrestored. Further failures
//     during an outage do not start another.
//
// Grouping: with ByEnv, a row's change metrics count the changes whose
// promotion list holds the environment, with their outcome there, and its
// deployment metrics that environment's deployments. Without ByEnv, the
// change metrics count every change (of the service, with ByService) with
// its overall outcome, and the deployment metrics count the production
// deployments (ProdEnv). Rows cover every period from the first to the
// last with activity (from Since to Until when both are set) for every
// group with activity; without any grouping there is always a row group,
// so PeriodAll always yields one row.
func ComputeMetrics(changes []Change, o MetricsOptions) (*Metrics, error) {
	if o.Period == "" {
		o.Period = PeriodAll
	}
	if _, err := ParsePeriod(string(o.Period)); err != nil {
		return nil, err
	}
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Until.After(o.Since) {
		return nil, fmt.Errorf("metrics: until %s is not after since %s: swap them or widen the range",
			o.Until.In(loc).Format(time.RFC3339), o.Since.In(loc).Format(time.RFC3339))
	}
	m := &Metrics{Period: o.Period, Timezone: loc.String(), ProdEnv: o.ProdEnv, By: []string{}, Rows: []MetricsRow{},
		NotRecorded: map[string]string{}, SLA: o.SLA != nil}
	if !o.Since.IsZero() {
		m.Since = o.Since.In(loc)
	}
	if !o.Until.IsZero() {
		m.Until = o.Until.In(loc)
	}
	if o.ByService {
		m.By = append(m.By, "service")
	}
	if o.ByEnv {
		m.By = append(m.By, "env")
	}
	if len(m.By) == 0 {
		m.By = append(m.By, "none")
	}

	c := &metricsComputer{o: o, loc: loc, acc: map[metricsGroup]map[string]*metricsAcc{}}
	if !o.ByService && !o.ByEnv {
		c.groups = map[metricsGroup]bool{{env: o.ProdEnv}: true}
	} else {
		c.groups = map[metricsGroup]bool{}
	}
	for i := range changes {
		c.change(&changes[i])
	}
	c.restorations(changes)
	c.incidents(changes)
	m.Rows = c.rows()
	return m, nil
}

type metricsComputer struct {
	o      MetricsOptions
	loc    *time.Location
	groups map[metricsGroup]bool
	acc    map[metricsGroup]map[string]*metricsAcc
	// first and last period start with activity, over all groups.
	first, last time.Time
}

// in reports whether t is within Since/Until.
func (c *metricsComputer) in(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	if !c.o.Since.IsZero() && t.Before(c.o.Since) {
		return false
	}
	return c.o.Until.IsZero() || t.Before(c.o.Until)
}

// at returns the accumulator of group g for the period of t (which must be
// within range), and records the activity.
func (c *metricsComputer) at(g metricsGroup, t time.Time) *metricsAcc {
	c.groups[g] = true
	start := c.o.Period.start(t, c.loc)
	if c.first.IsZero() || start.Before(c.first) {
		c.first = start
	}
	if c.last.IsZero() || start.After(c.last) {
		c.last = start
	}
	return c.bucket(g, start)
}

func (c *metricsComputer) bucket(g metricsGroup, start time.Time) *metricsAcc {
	byPeriod := c.acc[g]
	if byPeriod == nil {
		byPeriod = map[string]*metricsAcc{}
		c.acc[g] = byPeriod
	}
	label := c.o.Period.label(start)
	a := byPeriod[label]
	if a == nil {
		a = &metricsAcc{row: MetricsRow{Service: g.service, Env: g.env, Period: label}}
		a.row.Start, a.row.End = c.bounds(start)
		byPeriod[label] = a
	}
	return a
}

// bounds returns the start and end of the period starting at start,
// clipped to Since/Until for PeriodAll.
func (c *metricsComputer) bounds(start time.Time) (time.Time, time.Time) {
	if c.o.Period == PeriodAll {
		var s, e time.Time
		if !c.o.Since.IsZero() {
			s = c.o.Since.In(c.loc)
		}
		if !c.o.Until.IsZero() {
			e = c.o.Until.In(c.loc)
		}
		return s, e
	}
	return start, c.o.Period.next(start, c.loc)
}

// prodEnv returns the production environment of ch ("" when it has none).
func (c *metricsComputer) prodEnv(ch *Change) string {
	if c.o.ProdEnv == "" {
		if n := len(ch.Environments); n > 0 {
			return ch.Environments[n-1].Env
		}
		return ""
	}
	return c.o.ProdEnv
}

// envOutcome returns ch's outcome in env (nil when env is not in its
// promotion list).
func metricsEnv(ch *Change, env string) *EnvOutcome {
	for i := range ch.Environments {
		if ch.Environments[i].Env == env {
			return &ch.Environments[i]
		}
	}
	return nil
}

// scopes returns the groups ch counts in, each with the environment whose
// deployments it contributes (nil: none) and the outcome its change
// metrics use.
func (c *metricsComputer) scopes(ch *Change) []metricsScope {
	service := ""
	if c.o.ByService {
		service = ch.Service
	}
	if c.o.ByEnv {
		out := make([]metricsScope, 0, len(ch.Environments))
		for i := range ch.Environments {
			e := &ch.Environments[i]
			out = append(out, metricsScope{group: metricsGroup{service, e.Env}, env: e, outcome: e.Outcome})
		}
		return out
	}
	label := c.o.ProdEnv
	prod := c.prodEnv(ch)
	var env *EnvOutcome
	if prod != "" {
		env = metricsEnv(ch, prod)
	}
	return []metricsScope{{group: metricsGroup{service, label}, env: env, outcome: ch.Outcome}}
}

type metricsScope struct {
	group   metricsGroup
	env     *EnvOutcome
	outcome string
}

// metricsDeploymentStart is when the deployment in e started (zero: none).
func metricsDeploymentStart(e *EnvOutcome) time.Time {
	if !e.Applying.IsZero() {
		return e.Applying
	}
	return e.Applied
}

func (c *metricsComputer) change(ch *Change) {
	for _, s := range c.scopes(ch) {
		if c.in(ch.MergedAt) {
			a := c.at(s.group, ch.MergedAt)
			r := &a.row
			r.Merged++
			if ch.Kind == "emergency" {
				r.Emergency++
			}
			if ch.Signature == "unsigned" {
				r.Unsigned++
			}
			if !ch.OpenedAt.IsZero() && !ch.ApprovedAt.IsZero() && !ch.ApprovedAt.Before(ch.OpenedAt) {
				a.approval = append(a.approval, ch.ApprovedAt.Sub(ch.OpenedAt))
			}
			c.approvalSLA(a, ch)
			if metricsFinal(s.outcome) {
				r.Finished++
				if s.outcome == "verified" {
					r.Succeeded++
				}
				if metricsRolledBack(s.outcome) {
					r.RolledBack++
				}
			}
		}
		e := s.env
		if e == nil {
			continue
		}
		if t := metricsDeploymentStart(e); c.in(t) {
			a := c.at(s.group, t)
			a.row.Deployments++
			failed := metricsFailed(e.Outcome) || !e.Failed.IsZero()
			if failed || e.Outcome == "verified" {
				a.row.DeploymentsFinished++
			}
			if failed {
				a.row.DeploymentsFailed++
			}
		}
		c.execution(s.group, e)
		if c.in(e.Verified) && !ch.MergedAt.IsZero() && !e.Verified.Before(ch.MergedAt) {
			a := c.at(s.group, e.Verified)
			a.lead = append(a.lead, e.Verified.Sub(ch.MergedAt))
		}
	}
}

// restorations finds the outages of every service and environment and
// adds them to the groups they count in.
func (c *metricsComputer) restorations(changes []Change) {
	type key struct{ service, env string }
	type event struct {
		at     time.Time
		failed bool
		group  metricsGroup
	}
	timelines := map[key][]event{}
	for i := range changes {
		ch := &changes[i]
		for _, s := range c.scopes(ch) {
			e := s.env
			if e == nil {
				continue
			}
			k := key{ch.Service, e.Env}
			if !e.Failed.IsZero() {
				timelines[k] = append(timelines[k], event{at: e.Failed, failed: true, group: s.group})
			}
			if !e.Verified.IsZero() {
				timelines[k] = append(timelines[k], event{at: e.Verified, group: s.group})
			}
		}
	}
	keys := make([]key, 0, len(timelines))
	for k := range timelines {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.service, b.service), strings.Compare(a.env, b.env))
	})
	for _, k := range keys {
		evs := timelines[k]
		// In time order; at the same instant a failure comes first (and is
		// restored after zero seconds).
		slices.SortStableFunc(evs, func(a, b event) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			switch {
			case a.failed == b.failed:
				return 0
			case a.failed:
				return -1
			}
			return 1
		})
		var open *event
		for i := range evs {
			ev := &evs[i]
			switch {
			case ev.failed && open == nil:
				open = ev
			case !ev.failed && open != nil:
				if c.in(open.at) {
					a := c.at(open.group, open.at)
					a.restoration = append(a.restoration, ev.at.Sub(open.at))
				}
				open = nil
			}
		}
		if open != nil && c.in(open.at) {
			a := c.at(open.group, open.at)
			a.row.Unrestored++
		}
	}
}

// rows fills every group's periods from the first to the last (or
// Since..Until) and returns them sorted by service, environment and
// period.
func (c *metricsComputer) rows() []MetricsRow {
	groups := make([]metricsGroup, 0, len(c.groups))
	for g := range c.groups {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b metricsGroup) int {
		return cmp.Or(strings.Compare(a.service, b.service), strings.Compare(a.env, b.env))
	})
	first, last := c.first, c.last
	if !c.o.Since.IsZero() && !c.o.Until.IsZero() {
		first = c.o.Period.start(c.o.Since, c.loc)
		last = c.o.Period.start(c.o.Until.Add(-time.Nanosecond), c.loc)
	}
	if c.o.Period == PeriodAll {
		first, last = time.Time{}, time.Time{}
	} else if first.IsZero() {
		return []MetricsRow{}
	}
	out := []MetricsRow{}
	for _, g := range groups {
		for start := first; !start.After(last); start = c.o.Period.next(start, c.loc) {
			a := c.bucket(g, start)
			out = append(out, a.finish())
			if c.o.Period == PeriodAll {
				break
			}
		}
	}
	return out
}

func metricsRatio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

func (a *metricsAcc) finish() MetricsRow {
	r := a.row
	r.EmergencyShare = metricsRatio(r.Emergency, r.Merged)
	r.SuccessRate = metricsRatio(r.Succeeded, r.Finished)
	r.RollbackRate = metricsRatio(r.RolledBack, r.Finished)
	r.ChangeFailureRate = metricsRatio(r.DeploymentsFailed, r.DeploymentsFinished)
	r.ApprovalLeadTime = newDurationStats(a.approval)
	r.LeadTime = newDurationStats(a.lead)
	r.TimeToRestore = newDurationStats(a.restoration)
	r.PrecheckPassRate = metricsRatio(r.PrecheckPassed, r.PrecheckPassed+r.PrecheckFailed)
	r.PostcheckValidationRate = metricsRatio(r.PostcheckPassed, r.PostcheckRuns)
	r.IncidentRate = metricsRatio(r.IncidentInducing, r.Merged)
	r.OrchestratorErrorRate = metricsRatio(r.OrchestratorErrors, r.Deployments)
	r.TimeToExecute = newDurationStats(a.execute)
	if r.BudgetMeasured > 0 {
		mean := a.budget / float64(r.BudgetMeasured)
		r.BudgetImpact = &mean
	}
	r.slaBreachRate()
	return r
}
