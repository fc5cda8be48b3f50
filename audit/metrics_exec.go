package audit

import "time"

// execution counts what deployment e tells about the executor (M6, M7,
// M10, M11, M12) into group g.
func (c *metricsComputer) execution(g metricsGroup, e *EnvOutcome) {
	for _, t := range e.PrecheckHolds {
		if c.in(t) {
			c.at(g, t).row.PrecheckFailed++
		}
	}
	start := metricsDeploymentStart(e)
	failedAfterApply := !e.Failed.IsZero() && !e.Applied.IsZero() && !e.Failed.Before(e.Applied)
	if c.in(start) {
		a := c.at(g, start)
		if !e.Applying.IsZero() {
			a.row.PrecheckPassed++
		}
		if (!e.Failed.IsZero() && !failedAfterApply) || !e.RollbackFailed.IsZero() {
			a.row.OrchestratorErrors++
		}
		if end := metricsFirst(e.Verified, e.Failed); !e.Applying.IsZero() && !end.IsZero() && !end.Before(e.Applying) {
			a.execute = append(a.execute, end.Sub(e.Applying))
		}
		if e.BurnBefore != nil && e.BurnAfter != nil {
			a.row.BudgetMeasured++
			a.budget += e.BurnAfter.Value - e.BurnBefore.Value
		}
	}
	var outcome time.Time
	switch {
	case !e.Verified.IsZero():
		outcome = e.Verified
	case failedAfterApply:
		outcome = e.Failed
	}
	if c.in(outcome) {
		a := c.at(g, outcome)
		a.row.PostcheckRuns++
		if !e.Verified.IsZero() {
			a.row.PostcheckPassed++
		}
	}
}

// metricsFirst is the earlier of the non-zero times (zero: neither).
func metricsFirst(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// incidents counts, for M9, each merged change that a ticket names in its
// fixes:, once, in the group and period of the change's merge.
func (c *metricsComputer) incidents(changes []Change) {
	named := map[string]bool{}
	for i := range changes {
		for _, id := range changes[i].Fixes {
			if id != changes[i].ID {
				named[id] = true
			}
		}
	}
	for i := range changes {
		ch := &changes[i]
		if !named[ch.ID] || !c.in(ch.MergedAt) {
			continue
		}
		for _, s := range c.scopes(ch) {
			c.at(s.group, ch.MergedAt).row.IncidentInducing++
		}
	}
}
