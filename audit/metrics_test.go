package audit_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/ledger"
)

// The -update switch may be declared by another test file of the package
// (as a package variable, which is initialised before any init runs).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/metrics/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "metrics", name)
	if updating() {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./audit -run %s -update", t.Name())
	assert.Equal(t, string(want), string(got), "output differs from %s (go test ./audit -update rewrites it)", path)
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// opt parses an optional time ("" is zero).
func opt(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	return at(s)
}

// env builds an environment outcome from its event times ("" for none).
func env(name, outcome, applying, applied, verified, failed, rolledBack string) audit.EnvOutcome {
	return audit.EnvOutcome{Env: name, Outcome: outcome, Applying: opt(applying), Applied: opt(applied),
		Verified: opt(verified), Failed: opt(failed), RolledBack: opt(rolledBack)}
}

func change(id, service, kind, opened, approved, merged, outcome string, envs ...audit.EnvOutcome) audit.Change {
	return audit.Change{
		ID: id, Title: "change " + id, Service: service, Kind: kind, Risk: "medium",
		Path:   "changes/" + service + "/" + id + ".cue",
		Author: "github:1001", Approvers: []string{"github:2002"},
		MergeCommit: fmt.Sprintf("%040x", len(id)*7919+int(id[len(id)-1])),
		OpenedAt:    opt(opened), ApprovedAt: opt(approved), MergedAt: at(merged),
		Signature: "signed", Environments: envs, Outcome: outcome,
	}
}

// history is a fixed synthetic history of two services over a quarter
// (and one change the week before it, in ISO week 2026-W01).
func history() []audit.Change {
	unsigned := change("CHG-2026-0007", "search", "normal", "", "", "2026-01-20T10:00:00Z", "unsigned",
		env("staging", "pending", "", "", "", "", ""), env("prod", "pending", "", "", "", "", ""))
	unsigned.Signature = "unsigned"
	return withBurn([]audit.Change{
		change("CHG-2025-0099", "search", "standard", "2025-12-29T09:00:00Z", "2025-12-29T09:30:00Z", "2025-12-30T10:00:00Z", "verified",
			env("prod", "verified", "2025-12-31T09:00:00Z", "2025-12-31T09:05:00Z", "2025-12-31T10:00:00Z", "", "")),
		change("CHG-2026-0001", "payments", "normal", "2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", "verified",
			env("staging", "verified", "2026-01-05T12:00:00Z", "2026-01-05T12:05:00Z", "2026-01-05T12:10:00Z", "", ""),
			env("prod", "verified", "2026-01-06T09:00:00Z", "2026-01-06T09:05:00Z", "2026-01-06T09:15:00Z", "", "")),
		change("CHG-2026-0002", "payments", "normal", "2026-01-07T08:00:00Z", "2026-01-07T12:00:00Z", "2026-01-07T13:00:00Z", "rolled-back",
			env("staging", "verified", "2026-01-07T13:30:00Z", "2026-01-07T13:40:00Z", "2026-01-07T14:00:00Z", "", ""),
			env("prod", "rolled-back", "2026-01-08T09:00:00Z", "2026-01-08T09:05:00Z", "", "2026-01-08T09:20:00Z", "2026-01-08T09:30:00Z")),
		change("CHG-2026-0003", "payments", "emergency", "2026-01-08T09:40:00Z", "2026-01-08T09:50:00Z", "2026-01-08T10:00:00Z", "verified",
			env("prod", "verified", "2026-01-08T10:05:00Z", "2026-01-08T10:10:00Z", "2026-01-08T10:20:00Z", "", "")),
		unsigned,
		change("CHG-2026-0004", "payments", "normal", "2026-02-02T09:00:00Z", "2026-02-03T09:00:00Z", "2026-02-03T10:00:00Z", "rollback-failed",
			env("staging", "verified", "2026-02-03T10:30:00Z", "2026-02-03T10:40:00Z", "2026-02-03T11:00:00Z", "", ""),
			env("prod", "rollback-failed", "2026-02-04T09:00:00Z", "2026-02-04T09:10:00Z", "", "2026-02-04T09:30:00Z", "")),
		change("CHG-2026-0005", "payments", "normal", "2026-02-04T10:00:00Z", "2026-02-04T11:00:00Z", "2026-02-04T12:00:00Z", "rolled-back",
			env("prod", "rolled-back", "2026-02-05T09:00:00Z", "", "", "2026-02-05T09:10:00Z", "2026-02-05T09:15:00Z")),
		change("CHG-2026-0006", "payments", "normal", "", "", "2026-02-05T11:00:00Z", "verified",
			env("prod", "verified", "2026-02-05T15:00:00Z", "2026-02-05T15:10:00Z", "2026-02-05T15:30:00Z", "", "")),
		change("CHG-2026-0011", "search", "normal", "2026-02-09T09:00:00Z", "2026-02-09T12:00:00Z", "2026-02-10T10:00:00Z", "expired",
			env("staging", "expired", "", "", "", "", ""), env("prod", "expired", "", "", "", "", "")),
		change("CHG-2026-0010", "payments", "normal", "2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "failed",
			env("prod", "failed", "2026-03-03T09:00:00Z", "2026-03-03T09:10:00Z", "", "2026-03-03T09:20:00Z", "")),
		change("CHG-2026-0009", "search", "normal", "2026-03-09T09:00:00Z", "2026-03-09T15:00:00Z", "2026-03-10T10:00:00Z", "scheduled",
			env("staging", "scheduled", "", "", "", "", ""), env("prod", "pending", "", "", "", "", "")),
		// Merged on 31 March in UTC, which is 1 April in Berlin.
		change("CHG-2026-0008", "search", "standard", "2026-03-31T20:00:00Z", "2026-03-31T21:00:00Z", "2026-03-31T23:30:00Z", "verified",
			env("staging", "verified", "2026-04-01T07:00:00Z", "2026-04-01T07:05:00Z", "2026-04-01T07:10:00Z", "", ""),
			env("prod", "verified", "2026-04-01T08:00:00Z", "2026-04-01T08:05:00Z", "2026-04-01T08:20:00Z", "", "")),
	})
}

// withBurn adds the burn rates recorded around some payments production
// deployments (M10): 0001 1.0 → 1.25 (+0.25), 0002 1.25 → 3.0 (+1.75,
// failed at postcheck), 0006 2.0 → 1.0 (−1.0); 0005 failed at apply, so
// it has a reading before and none at postcheck (not measured).
func withBurn(changes []audit.Change) []audit.Change {
	readings := map[string][2]float64{"CHG-2026-0001": {1, 1.25}, "CHG-2026-0002": {1.25, 3}, "CHG-2026-0006": {2, 1}, "CHG-2026-0005": {1.5, -1}}
	for i := range changes {
		r, ok := readings[changes[i].ID]
		if !ok {
			continue
		}
		for j := range changes[i].Environments {
			e := &changes[i].Environments[j]
			if e.Env != "prod" {
				continue
			}
			e.BurnBefore = &ledger.BurnRate{Value: r[0], Query: "slo:burn_rate:30m", Server: "http://prometheus:9090", At: e.Applying}
			if r[1] >= 0 {
				e.BurnAfter = &ledger.BurnRate{Value: r[1], Query: "slo:burn_rate:30m", Server: "http://prometheus:9090", At: e.At}
			}
		}
	}
	return changes
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// TestMetricsGolden renders the synthetic history in every format and
// grouping and compares with testdata/metrics.
func TestMetricsGolden(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		name string
		opts audit.MetricsOptions
	}{
		{"all-by-service", audit.MetricsOptions{ByService: true, ProdEnv: "prod"}},
		{"month-by-service", audit.MetricsOptions{Period: audit.PeriodMonth, ByService: true, ProdEnv: "prod"}},
		{"week-none", audit.MetricsOptions{Period: audit.PeriodWeek, ProdEnv: "prod"}},
		{"quarter-by-env", audit.MetricsOptions{Period: audit.PeriodQuarter, ByEnv: true}},
		{"month-by-service-env", audit.MetricsOptions{Period: audit.PeriodMonth, ByService: true, ByEnv: true}},
		{"month-berlin", audit.MetricsOptions{Period: audit.PeriodMonth, Location: berlin, ProdEnv: "prod"}},
		{"since-until", audit.MetricsOptions{Period: audit.PeriodMonth, ProdEnv: "prod", ByService: true,
			Since: at("2026-02-01T00:00:00Z"), Until: at("2026-04-01T00:00:00Z")}},
		{"last-env", audit.MetricsOptions{ByService: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := audit.ComputeMetrics(history(), tt.opts)
			require.NoError(t, err)
			for _, f := range []struct {
				ext   string
				write func(*bytes.Buffer) error
			}{
				{"txt", func(b *bytes.Buffer) error { return m.WriteTable(b) }},
				{"json", func(b *bytes.Buffer) error { return m.WriteJSON(b) }},
				{"prom", func(b *bytes.Buffer) error { return m.WritePrometheus(b) }},
			} {
				var b bytes.Buffer
				require.NoError(t, f.write(&b))
				golden(t, tt.name+"."+f.ext, b.Bytes())
			}
		})
	}
}

// row finds the row of service/env/period, failing the test when there is
// none.
func row(t *testing.T, m *audit.Metrics, service, env, period string) audit.MetricsRow {
	t.Helper()
	for _, r := range m.Rows {
		if r.Service == service && r.Env == env && r.Period == period {
			return r
		}
	}
	require.Failf(t, "no row", "no row service=%q env=%q period=%q in %d rows", service, env, period, len(m.Rows))
	return audit.MetricsRow{}
}

func ptr(f float64) *float64 { return &f }

// TestMetricsDefinitions checks each metric's definition on the synthetic
// history, computed by hand.
func TestMetricsDefinitions(t *testing.T) {
	m, err := audit.ComputeMetrics(history(), audit.MetricsOptions{ByService: true, ProdEnv: "prod"})
	require.NoError(t, err)
	require.Len(t, m.Rows, 2, "one row per service")

	p := row(t, m, "payments", "prod", "all")
	// 0001, 0002, 0003, 0004, 0005, 0006, 0010.
	assert.Equal(t, 7, p.Merged, "merged")
	assert.Equal(t, 1, p.Emergency, "emergency")
	assert.InDelta(t, 1.0/7, *p.EmergencyShare, 1e-9, "emergency share")
	// Approval lead times: 1h, 4h, 10m, 24h, 1h, 1h (0006 has none):
	// sorted 10m 1h 1h 1h 4h 24h; p50 = 3rd = 1h, p90 = ceil(5.4) = 6th = 24h.
	assert.Equal(t, audit.DurationStats{Count: 6, Sum: 31*time.Hour + 10*time.Minute, P50: time.Hour, P90: 24 * time.Hour},
		p.ApprovalLeadTime)
	assert.Equal(t, (31*time.Hour+10*time.Minute)/6, p.ApprovalLeadTime.Mean())
	// Finished: all 7 but 0010 (failed counts as final): 0001 0003 0006
	// verified, 0002 0005 rolled back, 0004 rollback failed, 0010 failed.
	assert.Equal(t, 7, p.Finished, "finished")
	assert.Equal(t, 3, p.Succeeded, "succeeded")
	assert.Equal(t, ptr(3.0/7), p.SuccessRate, "success rate")
	assert.Equal(t, 3, p.RolledBack, "rolled back (rollback-failed included)")
	assert.Equal(t, ptr(3.0/7), p.RollbackRate, "rollback rate")
	// Prod deployments: 7, of which 0002 0004 0005 0010 failed.
	assert.Equal(t, 7, p.Deployments, "deployments")
	assert.Equal(t, 7, p.DeploymentsFinished, "finished deployments")
	assert.Equal(t, 4, p.DeploymentsFailed, "failed deployments")
	assert.Equal(t, ptr(4.0/7), p.ChangeFailureRate, "change failure rate")
	// Merge → prod verified: 0001 22h15m, 0003 20m, 0006 4h30m.
	assert.Equal(t, audit.DurationStats{Count: 3, Sum: 27*time.Hour + 5*time.Minute, P50: 4*time.Hour + 30*time.Minute,
		P90: 22*time.Hour + 15*time.Minute}, p.LeadTime)
	// Outages in payments/prod: 01-08 09:20 → 10:20 (1h); 02-04 09:30 →
	// (02-05 09:10 failure does not start another) → 02-05 15:30 (30h);
	// 03-03 09:20 not restored.
	assert.Equal(t, audit.DurationStats{Count: 2, Sum: 31 * time.Hour, P50: time.Hour, P90: 30 * time.Hour}, p.TimeToRestore)
	assert.Equal(t, 1, p.Unrestored, "unrestored")
	// M10: 0001 +0.25, 0002 +1.75, 0006 −1.0 (0005 has no postcheck
	// reading): 3 measured, mean 1.0 / 3.
	assert.Equal(t, 3, p.BudgetMeasured, "M10 measured")
	require.NotNil(t, p.BudgetImpact)
	assert.InDelta(t, 1.0/3, *p.BudgetImpact, 1e-12, "M10 mean impact")

	s := row(t, m, "search", "prod", "all")
	assert.Equal(t, 5, s.Merged, "merged")
	assert.Equal(t, 1, s.Unsigned, "unsigned")
	assert.Equal(t, ptr(0.0), s.EmergencyShare, "emergency share is 0/5, not undefined")
	// Finished: 2025-0099 and 0008 verified, 0011 expired; 0007 unsigned
	// and 0009 scheduled are not final.
	assert.Equal(t, 3, s.Finished, "finished")
	assert.Equal(t, ptr(2.0/3), s.SuccessRate, "an expired change did not succeed")
	assert.Equal(t, 2, s.Deployments, "deployments")
	assert.Equal(t, ptr(0.0), s.ChangeFailureRate)
	assert.Equal(t, 0, s.TimeToRestore.Count)
}

// TestMetricsGrouping checks which rows each grouping yields and what
// their environment is.
func TestMetricsGrouping(t *testing.T) {
	type key struct{ service, env, period string }
	tests := []struct {
		name string
		opts audit.MetricsOptions
		want []key
	}{
		{"none", audit.MetricsOptions{ProdEnv: "prod"}, []key{{"", "prod", "all"}}},
		{"service", audit.MetricsOptions{ByService: true, ProdEnv: "production"},
			[]key{{"payments", "production", "all"}, {"search", "production", "all"}}},
		{"env", audit.MetricsOptions{ByEnv: true, Period: audit.PeriodQuarter},
			[]key{{"", "prod", "2025-Q4"}, {"", "prod", "2026-Q1"}, {"", "prod", "2026-Q2"},
				{"", "staging", "2025-Q4"}, {"", "staging", "2026-Q1"}, {"", "staging", "2026-Q2"}}},
		{"service and env", audit.MetricsOptions{ByService: true, ByEnv: true},
			[]key{{"payments", "prod", "all"}, {"payments", "staging", "all"}, {"search", "prod", "all"}, {"search", "staging", "all"}}},
		{"last env", audit.MetricsOptions{}, []key{{"", "", "all"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := audit.ComputeMetrics(history(), tt.opts)
			require.NoError(t, err)
			var got []key
			for _, r := range m.Rows {
				got = append(got, key{r.Service, r.Env, r.Period})
			}
			assert.Equal(t, tt.want, got)
		})
	}

	// By environment, a change counts in each environment of its
	// promotion list with its outcome there.
	m, err := audit.ComputeMetrics(history(), audit.MetricsOptions{ByEnv: true})
	require.NoError(t, err)
	st := row(t, m, "", "staging", "all")
	// 0001 0002 0004 0007 0011 0009 0008 have staging.
	assert.Equal(t, 7, st.Merged)
	// Final there: 0001 0002 0004 0008 verified, 0011 expired.
	assert.Equal(t, 5, st.Finished)
	assert.Equal(t, 4, st.Succeeded)
	assert.Equal(t, 4, st.Deployments)
	assert.Equal(t, ptr(0.0), st.ChangeFailureRate)

	// Without a production environment in its list, a change has no
	// production deployment.
	m, err = audit.ComputeMetrics(history(), audit.MetricsOptions{ProdEnv: "staging"})
	require.NoError(t, err)
	assert.Equal(t, 4, m.Rows[0].Deployments, "staging deployments only")
	assert.Equal(t, 12, m.Rows[0].Merged, "every change is still counted as merged")
}

// TestMetricsPeriods checks bucket labels and bounds: ISO weeks across
// the year boundary, months and quarters, in UTC and in a zone with
// daylight saving time.
func TestMetricsPeriods(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	one := func(merged string) []audit.Change {
		return []audit.Change{change("CHG-2026-0001", "payments", "normal", "", "", merged, "pending")}
	}
	tests := []struct {
		name       string
		merged     string
		period     audit.Period
		loc        *time.Location
		label      string
		start, end string
	}{
		{"iso week of 2026 starts in 2025", "2025-12-30T10:00:00Z", audit.PeriodWeek, nil, "2026-W01", "2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z"},
		{"sunday ends the week", "2026-01-11T23:59:59Z", audit.PeriodWeek, nil, "2026-W02", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"},
		{"monday starts one", "2026-01-12T00:00:00Z", audit.PeriodWeek, nil, "2026-W03", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z"},
		{"iso week 53", "2027-01-01T12:00:00Z", audit.PeriodWeek, nil, "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{"month", "2026-02-28T23:00:00Z", audit.PeriodMonth, nil, "2026-02", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"month in berlin", "2026-02-28T23:00:00Z", audit.PeriodMonth, berlin, "2026-03", "2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"},
		{"week across dst", "2026-03-25T12:00:00Z", audit.PeriodWeek, berlin, "2026-W13", "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00"},
		{"quarter", "2026-06-30T12:00:00Z", audit.PeriodQuarter, nil, "2026-Q2", "2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{"quarter in berlin", "2026-03-31T22:30:00Z", audit.PeriodQuarter, berlin, "2026-Q2", "2026-04-01T00:00:00+02:00", "2026-07-01T00:00:00+02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := audit.ComputeMetrics(one(tt.merged), audit.MetricsOptions{Period: tt.period, Location: tt.loc})
			require.NoError(t, err)
			require.Len(t, m.Rows, 1)
			r := m.Rows[0]
			assert.Equal(t, tt.label, r.Period)
			assert.Equal(t, tt.start, r.Start.Format(time.RFC3339))
			assert.Equal(t, tt.end, r.End.Format(time.RFC3339))
			assert.Equal(t, 1, r.Merged)
		})
	}
}

// TestMetricsRange checks Since (inclusive) and Until (exclusive), and
// that the periods between them are all present, with zeros.
func TestMetricsRange(t *testing.T) {
	m, err := audit.ComputeMetrics(history(), audit.MetricsOptions{Period: audit.PeriodMonth, ProdEnv: "prod",
		Since: at("2026-01-05T11:00:00Z"), Until: at("2026-06-01T00:00:00Z")})
	require.NoError(t, err)
	var labels []string
	merged := 0
	for _, r := range m.Rows {
		labels = append(labels, r.Period)
		merged += r.Merged
	}
	assert.Equal(t, []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05"}, labels)
	// 0001 merged exactly at Since counts; 2025-0099 before does not.
	assert.Equal(t, 11, merged)
	assert.Equal(t, 0, m.Rows[4].Merged, "an empty month is a row of zeros")
	assert.Nil(t, m.Rows[4].SuccessRate, "no finished change: no rate")

	m, err = audit.ComputeMetrics(history(), audit.MetricsOptions{Until: at("2026-01-05T11:00:00Z")})
	require.NoError(t, err)
	require.Len(t, m.Rows, 1)
	assert.Equal(t, 1, m.Rows[0].Merged, "until is exclusive")
	assert.Equal(t, "2026-01-05T11:00:00Z", m.Rows[0].End.Format(time.RFC3339))

	_, err = audit.ComputeMetrics(nil, audit.MetricsOptions{Since: at("2026-02-01T00:00:00Z"), Until: at("2026-01-01T00:00:00Z")})
	require.ErrorContains(t, err, "is not after since")
	_, err = audit.ComputeMetrics(nil, audit.MetricsOptions{Period: "fortnight"})
	require.ErrorContains(t, err, `period "fortnight": want all, week, month or quarter`)
}

// TestMetricsEmpty renders no changes in each format and grouping.
func TestMetricsEmpty(t *testing.T) {
	tests := []struct {
		name string
		opts audit.MetricsOptions
		rows int
	}{
		{"empty-none", audit.MetricsOptions{ProdEnv: "prod"}, 1},
		{"empty-by-service", audit.MetricsOptions{ByService: true, ProdEnv: "prod", Period: audit.PeriodWeek}, 0},
		{"empty-range", audit.MetricsOptions{Period: audit.PeriodMonth, ProdEnv: "prod",
			Since: at("2026-01-01T00:00:00Z"), Until: at("2026-03-01T00:00:00Z")}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := audit.ComputeMetrics(nil, tt.opts)
			require.NoError(t, err)
			assert.Len(t, m.Rows, tt.rows)
			var table, js, prom bytes.Buffer
			require.NoError(t, m.WriteTable(&table))
			require.NoError(t, m.WriteJSON(&js))
			require.NoError(t, m.WritePrometheus(&prom))
			golden(t, tt.name+".txt", table.Bytes())
			golden(t, tt.name+".json", js.Bytes())
			golden(t, tt.name+".prom", prom.Bytes())
			assert.True(t, json.Valid(js.Bytes()))
		})
	}
}

// TestMetricsPrometheusParses parses the exposition back and checks a few
// values.
func TestMetricsPrometheusParses(t *testing.T) {
	m, err := audit.ComputeMetrics(history(), audit.MetricsOptions{ByService: true, ProdEnv: "prod", Period: audit.PeriodMonth})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, m.WritePrometheus(&b))
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(&b)
	require.NoError(t, err)
	for name := range families {
		assert.True(t, strings.HasPrefix(name, "cab_change_"), "metric %s is not cab_change_*", name)
	}
	value := func(name, service, period string) (float64, bool) {
		for _, mm := range families[name].GetMetric() {
			labels := map[string]string{}
			for _, l := range mm.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] == service && labels["period"] == period && labels["env"] == "prod" {
				switch {
				case mm.Gauge != nil:
					return mm.GetGauge().GetValue(), true
				case mm.Summary != nil:
					return float64(mm.GetSummary().GetSampleCount()), true
				}
			}
		}
		return 0, false
	}
	tests := []struct {
		name, service, period string
		want                  float64
		present               bool
	}{
		{"cab_change_merged", "payments", "2026-01", 3, true},
		{"cab_change_merged", "payments", "2026-03", 1, true},
		{"cab_change_deployments_failed", "payments", "2026-02", 2, true},
		{"cab_change_failure_ratio", "payments", "2026-02", 2.0 / 3, true},
		{"cab_change_time_to_restore_seconds", "payments", "2026-02", 1, true},
		{"cab_change_unrestored", "payments", "2026-03", 1, true},
		{"cab_change_unsigned", "search", "2026-01", 1, true},
		// No deployment of search in February: no failure ratio.
		{"cab_change_failure_ratio", "search", "2026-02", 0, false},
	}
	for _, tt := range tests {
		got, ok := value(tt.name, tt.service, tt.period)
		if assert.Equal(t, tt.present, ok, "%s{service=%q,period=%q} present", tt.name, tt.service, tt.period) && ok {
			assert.InDelta(t, tt.want, got, 1e-9, "%s{service=%q,period=%q}", tt.name, tt.service, tt.period)
		}
	}
	restore := families["cab_change_time_to_restore_seconds"]
	require.NotNil(t, restore)
	for _, mm := range restore.GetMetric() {
		for _, l := range mm.GetLabel() {
			if l.GetName() == "period" && l.GetValue() == "2026-02" && mm.GetSummary().GetSampleCount() == 1 {
				q := mm.GetSummary().GetQuantile()
				require.Len(t, q, 2)
				assert.InDelta(t, 30*3600.0, q[0].GetValue(), 1e-9, "p50 of the February outage")
			}
		}
	}
}

func TestParseInstant(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		in       string
		loc      *time.Location
		endOfDay bool
		want     string
		err      string
	}{
		{in: "2026-01-02T15:04:05Z", want: "2026-01-02T15:04:05Z"},
		{in: "2026-01-02T15:04:05+01:00", loc: berlin, endOfDay: true, want: "2026-01-02T15:04:05+01:00"},
		{in: "2026-01-02", want: "2026-01-02T00:00:00Z"},
		{in: "2026-01-02", endOfDay: true, want: "2026-01-03T00:00:00Z"},
		{in: "2026-07-02", loc: berlin, want: "2026-07-02T00:00:00+02:00"},
		{in: "2026-03-29", loc: berlin, endOfDay: true, want: "2026-03-30T00:00:00+02:00"},
		{in: " 2026-01-02 ", want: "2026-01-02T00:00:00Z"},
		{in: "yesterday", err: `"yesterday": want an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)`},
		{in: "2026-01-02 15:04", err: "want an RFC 3339 time"},
		{in: "2026-13-01", err: "want an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := audit.ParseInstant(tt.in, tt.loc, tt.endOfDay)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Format(time.RFC3339))
		})
	}
}

func FuzzParseInstant(f *testing.F) {
	for _, s := range []string{"2026-01-02", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.999+14:00", "", "x"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, endOfDay bool) {
		got, err := audit.ParseInstant(s, time.UTC, endOfDay)
		if err != nil {
			return
		}
		// Whatever parses names a real instant that RFC 3339 can carry
		// back.
		again, err := time.Parse(time.RFC3339Nano, got.Format(time.RFC3339Nano))
		if err != nil {
			t.Fatalf("ParseInstant(%q) = %v, which does not round-trip: %v", s, got, err)
		}
		if !again.Equal(got) {
			t.Fatalf("ParseInstant(%q) = %v, round trip %v", s, got, again)
		}
	})
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{44*time.Second + 600*time.Millisecond, "45s"},
		{12*time.Minute + 59*time.Second, "12m"},
		{time.Hour, "1h"},
		{5*time.Hour + 12*time.Minute, "5h12m"},
		{47*time.Hour + 59*time.Minute, "47h59m"},
		{48 * time.Hour, "2d"},
		{76 * time.Hour, "3d4h"},
		{-90 * time.Second, "-1m"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, audit.ShortDuration(tt.in), "ShortDuration(%v)", tt.in)
	}
}
