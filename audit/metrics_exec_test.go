package audit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
)

// M6, M7, M9, M10, M11 and M12 on four production deployments, worked by
// hand:
//
//	CHG-0001 held twice by failing prechecks (Jan 5 08:00, Jan 5 09:00), then
//	         applying 10:00, applied 10:05, verified 10:30 → precheck pass,
//	         postcheck pass, execute 30m; burn rate 1.0 before, 1.5 at
//	         postcheck → +0.5.
//	CHG-0002 applying Jan 6 10:00, failed 10:02 with no applied (the apply
//	         failed) → orchestrator error, no postcheck run, execute 2m; burn
//	         rate 2.0 before, none at postcheck (there was none) → not
//	         measured.
//	CHG-0003 applying Jan 7 10:00, applied 10:10, failed 10:40 (postchecks),
//	         rollback-failed 10:45 → postcheck run that failed, orchestrator
//	         error (the rollback), execute 40m; burn rate 0.5 before, 3.0 at
//	         postcheck → +2.5.
//	CHG-0004 an emergency fixing CHG-0003 (fixes:), applying Jan 7 11:00,
//	         verified 11:20 → execute 20m; burn rate 4.0 before, 3.0 at
//	         postcheck → −1.0.
//
// M6: passed 4 (four applies), failed 2 (two holds): 4/6.
// M7: runs 2 (CHG-0001 verified, CHG-0003 failed after applied; CHG-0004
// verified makes 3), passed 2: 2/3.
// M9: CHG-0003 is named by CHG-0004: 1 of 4 merged.
// M10: measured 3 (CHG-0001, 0003, 0004), mean (0.5 + 2.5 − 1.0) / 3 = 2/3.
// M11: CHG-0002 (apply) and CHG-0003 (rollback): 2 of 4 deployments.
// M12: samples 2m, 20m, 30m, 40m: p50 20m, p90 40m, mean 23m.
func TestMetricsExecution(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, "2026-01-"+s+":00Z")
		require.NoError(t, err)
		return v
	}
	merged := at("04T12:00")
	changes := []Change{
		{ID: "CHG-2026-0001", Service: "payments", Kind: "normal", MergedAt: merged, Environments: []EnvOutcome{{Env: "prod", Outcome: "verified",
			PrecheckHolds: []time.Time{at("05T08:00"), at("05T09:00")},
			Applying:      at("05T10:00"), Applied: at("05T10:05"), Verified: at("05T10:30"),
			BurnBefore: &ledger.BurnRate{Value: 1.0}, BurnAfter: &ledger.BurnRate{Value: 1.5}}}},
		{ID: "CHG-2026-0002", Service: "payments", Kind: "normal", MergedAt: merged, Environments: []EnvOutcome{{Env: "prod", Outcome: "rolled-back",
			Applying: at("06T10:00"), Failed: at("06T10:02"), RolledBack: at("06T10:03"), BurnBefore: &ledger.BurnRate{Value: 2.0}}}},
		{ID: "CHG-2026-0003", Service: "payments", Kind: "normal", MergedAt: merged, Environments: []EnvOutcome{{Env: "prod", Outcome: "rollback-failed",
			Applying: at("07T10:00"), Applied: at("07T10:10"), Failed: at("07T10:40"), RollbackFailed: at("07T10:45"),
			BurnBefore: &ledger.BurnRate{Value: 0.5}, BurnAfter: &ledger.BurnRate{Value: 3.0}}}},
		{ID: "CHG-2026-0004", Service: "payments", Kind: "emergency", MergedAt: at("07T10:50"), Fixes: []string{"CHG-2026-0003"},
			Environments: []EnvOutcome{{Env: "prod", Outcome: "verified", Applying: at("07T11:00"), Verified: at("07T11:20"),
				BurnBefore: &ledger.BurnRate{Value: 4.0}, BurnAfter: &ledger.BurnRate{Value: 3.0}}}},
	}
	m, err := ComputeMetrics(changes, MetricsOptions{ProdEnv: "prod"})
	require.NoError(t, err)
	require.Len(t, m.Rows, 1)
	r := m.Rows[0]
	ratio := func(p *float64) float64 { require.NotNil(t, p); return *p }
	assert.Equal(t, [2]int{4, 2}, [2]int{r.PrecheckPassed, r.PrecheckFailed}, "M6 passed, failed")
	assert.InDelta(t, 4.0/6, ratio(r.PrecheckPassRate), 1e-9, "M6")
	assert.Equal(t, [2]int{3, 2}, [2]int{r.PostcheckRuns, r.PostcheckPassed}, "M7 runs, passed")
	assert.InDelta(t, 2.0/3, ratio(r.PostcheckValidationRate), 1e-9, "M7")
	assert.Equal(t, 1, r.IncidentInducing, "M9")
	assert.InDelta(t, 0.25, ratio(r.IncidentRate), 1e-9, "M9 rate")
	assert.Equal(t, 2, r.OrchestratorErrors, "M11")
	assert.InDelta(t, 0.5, ratio(r.OrchestratorErrorRate), 1e-9, "M11 rate")
	assert.Equal(t, DurationStats{Count: 4, Sum: 92 * time.Minute, P50: 20 * time.Minute, P90: 40 * time.Minute}, r.TimeToExecute, "M12")
	assert.Equal(t, 23*time.Minute, r.TimeToExecute.Mean())
	assert.Equal(t, 3, r.BudgetMeasured, "M10 deployments measured")
	assert.InDelta(t, 2.0/3, ratio(r.BudgetImpact), 1e-9, "M10 mean burn-rate change")
	assert.Empty(t, m.NotRecorded, "every metric is answered")

	t.Run("by period: holds and outcomes count in the period of their own event", func(t *testing.T) {
		m, err := ComputeMetrics(changes[:1], MetricsOptions{ProdEnv: "prod", Since: at("05T08:30"), Until: at("05T12:00")})
		require.NoError(t, err)
		r := m.Rows[0]
		assert.Equal(t, [2]int{1, 1}, [2]int{r.PrecheckPassed, r.PrecheckFailed}, "the 08:00 hold is before Since")
		assert.Equal(t, 1, r.BudgetMeasured, "M10: only CHG-0001's apply is in the range")
		assert.InDelta(t, 0.5, ratio(r.BudgetImpact), 1e-9, "M10")
		assert.Equal(t, 0, r.IncidentInducing)
	})
}
