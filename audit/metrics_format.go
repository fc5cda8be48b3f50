package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cabhq/cab/internal/prom"
)

// WriteJSON writes m as one indented JSON document; times are RFC 3339 in
// the metrics' time zone, durations in seconds.
func (m *Metrics) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("writing metrics as JSON: %w", err)
	}
	return nil
}

// WriteTable writes m as an aligned text table, one line per row. Lead
// times are "p50/p90"; ratios are a percentage with their fraction; "-"
// marks a value without samples.
func (m *Metrics) WriteTable(w io.Writer) error {
	if len(m.Rows) == 0 {
		_, err := fmt.Fprintln(w, "no changes in the selected range")
		return err
	}
	byService := slices.Contains(m.By, "service")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var head []string
	if byService {
		head = append(head, "SERVICE")
	}
	head = append(head, "ENV", "PERIOD", "MERGED", "EMERGENCY", "UNSIGNED", "APPROVAL p50/p90",
		"SUCCESS", "ROLLBACK", "DEPLOYS", "FAILURE", "LEAD p50/p90", "MTTR p50/p90",
		"PRECHECK", "POSTCHECK", "INDUCED", "BUDGET IMPACT", "ORCH ERRORS", "EXECUTE p50/p90")
	if m.SLA {
		head = append(head, "SLA BREACHED")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range m.Rows {
		var cells []string
		if byService {
			cells = append(cells, r.Service)
		}
		env := r.Env
		if env == "" {
			env = "(last)"
		}
		mttr := metricsTableStats(r.TimeToRestore)
		if r.Unrestored > 0 {
			mttr += fmt.Sprintf(" +%d open", r.Unrestored)
		}
		cells = append(cells, env, r.Period,
			fmt.Sprint(r.Merged),
			metricsTableRatio(r.EmergencyShare, r.Emergency, r.Merged),
			fmt.Sprint(r.Unsigned),
			metricsTableStats(r.ApprovalLeadTime),
			metricsTableRatio(r.SuccessRate, r.Succeeded, r.Finished),
			metricsTableRatio(r.RollbackRate, r.RolledBack, r.Finished),
			fmt.Sprint(r.Deployments),
			metricsTableRatio(r.ChangeFailureRate, r.DeploymentsFailed, r.DeploymentsFinished),
			metricsTableStats(r.LeadTime),
			mttr,
			metricsTableRatio(r.PrecheckPassRate, r.PrecheckPassed, r.PrecheckPassed+r.PrecheckFailed),
			metricsTableRatio(r.PostcheckValidationRate, r.PostcheckPassed, r.PostcheckRuns),
			metricsTableRatio(r.IncidentRate, r.IncidentInducing, r.Merged),
			metricsTableImpact(r.BudgetImpact, r.BudgetMeasured),
			metricsTableRatio(r.OrchestratorErrorRate, r.OrchestratorErrors, r.Deployments),
			metricsTableStats(r.TimeToExecute),
		)
		if m.SLA {
			cells = append(cells, metricsTableRatio(r.SLABreachRate, r.SLABreaches, r.SLAMeasured))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the metrics table: %w", err)
	}
	return nil
}

// metricsTableImpact writes M10: the mean burn-rate change with its
// sample count, signed ("+0.5 (n=2)").
func metricsTableImpact(mean *float64, n int) string {
	if mean == nil {
		return "-"
	}
	return fmt.Sprintf("%+.4g (n=%d)", *mean, n)
}

func metricsTableRatio(r *float64, n, d int) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", *r*100, n, d)
}

func metricsTableStats(s DurationStats) string {
	if s.Count == 0 {
		return "-"
	}
	return ShortDuration(s.P50) + "/" + ShortDuration(s.P90)
}

// ShortDuration writes d for people, to two units at most: "45s", "12m",
// "5h12m", "3d4h".
func ShortDuration(d time.Duration) string {
	if d < 0 {
		return "-" + ShortDuration(-d)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		if mins := int(d%time.Hour) / int(time.Minute); mins > 0 {
			return fmt.Sprintf("%dh%dm", h, mins)
		}
		return fmt.Sprintf("%dh", h)
	}
	days := int(d / (24 * time.Hour))
	if h := int(d%(24*time.Hour)) / int(time.Hour); h > 0 {
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return fmt.Sprintf("%dd", days)
}

// Prometheus metric families, each labelled service, env and period.
var promLabels = []string{"service", "env", "period"}

// promDesc names one family of [Metrics.WritePrometheus].
type promDesc struct{ name, help string }

var (
	promMerged = promDesc{"cab_change_merged",
		"Changes merged in the period (throughput)."}
	promEmergency = promDesc{"cab_change_emergency",
		"Merged changes of kind emergency."}
	promEmergencyRatio = promDesc{"cab_change_emergency_ratio",
		"Emergency changes / changes merged."}
	promUnsigned = promDesc{"cab_change_unsigned",
		"Merged changes recorded unsigned (they reached main without passing the gate)."}
	promApproval = promDesc{"cab_change_approval_lead_time_seconds",
		"Opened to approvals complete, per merged change."}
	promFinished = promDesc{"cab_change_finished",
		"Merged changes with a final outcome."}
	promSucceeded = promDesc{"cab_change_succeeded",
		"Merged changes verified."}
	promSuccessRatio = promDesc{"cab_change_success_ratio",
		"Change success rate: changes verified / changes with a final outcome."}
	promRolledBack = promDesc{"cab_change_rolled_back",
		"Merged changes rolled back (or whose rollback failed)."}
	promRollbackRatio = promDesc{"cab_change_rollback_ratio",
		"Rollback rate: changes rolled back / changes with a final outcome."}
	promDeployments = promDesc{"cab_change_deployments",
		"Applies started in the environment (deployment frequency)."}
	promDeploymentsFinished = promDesc{"cab_change_deployments_finished",
		"Deployments with an outcome (verified or failed)."}
	promDeploymentsFailed = promDesc{"cab_change_deployments_failed",
		"Deployments that failed."}
	promFailureRatio = promDesc{"cab_change_failure_ratio",
		"Change failure rate: failed deployments / deployments with an outcome."}
	promLeadTime = promDesc{"cab_change_lead_time_seconds",
		"Merge to verified in the environment (merge to production for the production environment)."}
	promRestore = promDesc{"cab_change_time_to_restore_seconds",
		"Time to restore (MTTR): a failure to the next verified deployment of the service in the environment."}
	promUnrestored = promDesc{"cab_change_unrestored",
		"Failures not followed by a verified deployment yet."}
	promPrecheckPassed = promDesc{"cab_change_precheck_passed",
		"M6: applies started (prechecks passed or none declared)."}
	promPrecheckFailed = promDesc{"cab_change_precheck_failed",
		"M6: holds recorded because prechecks failed."}
	promPrecheckRatio = promDesc{"cab_change_precheck_pass_ratio",
		"M6 precheck pass rate: passed / (passed + failed)."}
	promPostcheckRuns = promDesc{"cab_change_postcheck_runs",
		"M7: deployments whose postchecks reached an outcome."}
	promPostcheckPassed = promDesc{"cab_change_postcheck_passed",
		"M7: deployments verified by their postchecks."}
	promPostcheckRatio = promDesc{"cab_change_postcheck_validation_ratio",
		"M7 postcheck validation rate: passed / runs."}
	promIncidentInducing = promDesc{"cab_change_incident_inducing",
		"M9: merged changes named in the fixes of a later ticket."}
	promIncidentRatio = promDesc{"cab_change_incident_ratio",
		"M9 change-induced incident rate: incident-inducing changes / changes merged."}
	promOrchestratorErrors = promDesc{"cab_change_orchestrator_errors",
		"M11: deployments whose apply or rollback failed."}
	promOrchestratorRatio = promDesc{"cab_change_orchestrator_error_ratio",
		"M11 orchestrator error rate: orchestrator errors / deployments."}
	promBudgetMeasured = promDesc{"cab_change_error_budget_measured",
		"M10: deployments with the burn rate recorded before the apply and at postcheck."}
	promBudgetImpact = promDesc{"cab_change_error_budget_impact",
		"M10 error-budget impact: mean of the burn rate at postcheck minus the one before the apply."}
	promSLAMeasured = promDesc{"cab_change_approval_sla_measured",
		"M8: merged changes with an approval SLA and known opened and approved times."}
	promSLABreaches = promDesc{"cab_change_approval_sla_breaches",
		"M8: merged changes whose approvals took longer than their approval SLA."}
	promExecute = promDesc{"cab_change_time_to_execute_seconds",
		"M12 time to execute: applying to the deployment's outcome."}
)

// WritePrometheus writes m in the Prometheus text exposition format (for a
// Pushgateway or a node exporter textfile collector): gauges named
// cab_change_* and, for durations, summaries with the 0.5 and 0.9
// quantiles, each labelled service, env and period. Ratios without a
// denominator are left out.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	var set prom.Set
	for _, r := range m.Rows {
		labels := []string{r.Service, r.Env, r.Period}
		gauge := func(d promDesc, v int) {
			set.Gauge(d.name, d.help, float64(v), prom.Labels(promLabels, labels))
		}
		ratio := func(d promDesc, v *float64) {
			if v != nil {
				set.Gauge(d.name, d.help, *v, prom.Labels(promLabels, labels))
			}
		}
		summary := func(d promDesc, s DurationStats) {
			q := map[float64]float64{}
			if s.Count > 0 {
				q[0.5] = s.P50.Seconds()
				q[0.9] = s.P90.Seconds()
			}
			set.Summary(d.name, d.help, uint64(s.Count), s.Sum.Seconds(), q, prom.Labels(promLabels, labels))
		}
		gauge(promMerged, r.Merged)
		gauge(promEmergency, r.Emergency)
		ratio(promEmergencyRatio, r.EmergencyShare)
		gauge(promUnsigned, r.Unsigned)
		summary(promApproval, r.ApprovalLeadTime)
		gauge(promFinished, r.Finished)
		gauge(promSucceeded, r.Succeeded)
		ratio(promSuccessRatio, r.SuccessRate)
		gauge(promRolledBack, r.RolledBack)
		ratio(promRollbackRatio, r.RollbackRate)
		gauge(promDeployments, r.Deployments)
		gauge(promDeploymentsFinished, r.DeploymentsFinished)
		gauge(promDeploymentsFailed, r.DeploymentsFailed)
		ratio(promFailureRatio, r.ChangeFailureRate)
		summary(promLeadTime, r.LeadTime)
		summary(promRestore, r.TimeToRestore)
		gauge(promUnrestored, r.Unrestored)
		gauge(promPrecheckPassed, r.PrecheckPassed)
		gauge(promPrecheckFailed, r.PrecheckFailed)
		ratio(promPrecheckRatio, r.PrecheckPassRate)
		gauge(promPostcheckRuns, r.PostcheckRuns)
		gauge(promPostcheckPassed, r.PostcheckPassed)
		ratio(promPostcheckRatio, r.PostcheckValidationRate)
		gauge(promIncidentInducing, r.IncidentInducing)
		ratio(promIncidentRatio, r.IncidentRate)
		gauge(promOrchestratorErrors, r.OrchestratorErrors)
		ratio(promOrchestratorRatio, r.OrchestratorErrorRate)
		summary(promExecute, r.TimeToExecute)
		gauge(promBudgetMeasured, r.BudgetMeasured)
		ratio(promBudgetImpact, r.BudgetImpact)
		if m.SLA {
			gauge(promSLAMeasured, r.SLAMeasured)
			gauge(promSLABreaches, r.SLABreaches)
		}
	}
	if err := prom.WriteText(w, set.Families()); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}
