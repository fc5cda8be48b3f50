package audit_test

import (
	"fmt"
	"os"
	"time"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/ledger"
)

// Two changes to payments: one verified in production, one that failed
// there and was rolled back, restored 40 minutes later by the next. The
// burn rate went from 1.0 to 2.5 around the first (+1.5) and from 2.5 to
// 1.5 around the second (−1.0): M10's mean impact is +0.25.
func ExampleComputeMetrics() {
	t := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	changes := []audit.Change{
		{ID: "CHG-2026-0001", Service: "payments", Kind: "normal", MergedAt: t("2026-01-05T11:00:00Z"),
			OpenedAt: t("2026-01-05T09:00:00Z"), ApprovedAt: t("2026-01-05T10:00:00Z"), Outcome: "rolled-back",
			Environments: []audit.EnvOutcome{{Env: "prod", Outcome: "rolled-back",
				Applying: t("2026-01-06T09:00:00Z"), Failed: t("2026-01-06T09:20:00Z"), RolledBack: t("2026-01-06T09:25:00Z"),
				BurnBefore: &ledger.BurnRate{Value: 1}, BurnAfter: &ledger.BurnRate{Value: 2.5}}}},
		{ID: "CHG-2026-0002", Service: "payments", Kind: "emergency", MergedAt: t("2026-01-06T09:45:00Z"),
			OpenedAt: t("2026-01-06T09:30:00Z"), ApprovedAt: t("2026-01-06T09:40:00Z"), Outcome: "verified",
			Environments: []audit.EnvOutcome{{Env: "prod", Outcome: "verified",
				Applying: t("2026-01-06T09:50:00Z"), Applied: t("2026-01-06T09:55:00Z"), Verified: t("2026-01-06T10:00:00Z"),
				BurnBefore: &ledger.BurnRate{Value: 2.5}, BurnAfter: &ledger.BurnRate{Value: 1.5}}}},
	}
	m, err := audit.ComputeMetrics(changes, audit.MetricsOptions{ByService: true, ProdEnv: "prod"})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := m.Rows[0]
	fmt.Printf("%s: %d merged, change failure rate %.0f%%, MTTR p50 %s, lead time p50 %s\n",
		r.Service, r.Merged, *r.ChangeFailureRate*100, r.TimeToRestore.P50, r.LeadTime.P50)
	_ = m.WriteTable(os.Stdout)
	// Output:
	// payments: 2 merged, change failure rate 50%, MTTR p50 40m0s, lead time p50 15m0s
	// SERVICE   ENV   PERIOD  MERGED  EMERGENCY    UNSIGNED  APPROVAL p50/p90  SUCCESS      ROLLBACK     DEPLOYS  FAILURE      LEAD p50/p90  MTTR p50/p90  PRECHECK      POSTCHECK     INDUCED     BUDGET IMPACT  ORCH ERRORS  EXECUTE p50/p90
	// payments  prod  all     2       50.0% (1/2)  0         10m/1h            50.0% (1/2)  50.0% (1/2)  2        50.0% (1/2)  15m/15m       40m/40m       100.0% (2/2)  100.0% (1/1)  0.0% (0/2)  +0.25 (n=2)    50.0% (1/2)  10m/20m
}
