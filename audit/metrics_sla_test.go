package audit_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema"
)

const slaConfig = `apiVersion: "cab.dev/v1"
environments: prod: targets: images: {type: "oci", registry: "registry.example.com"}
approvers: pay: members: ["github:1"]
approvers: shop: members: ["github:2"]
services: payments: approvers: "pay"
services: checkout: approvers: "shop"
approvalSLA: {
	risk: {medium: "24h", high: "4h"}
	services: payments: risk: medium: "1h"
}
`

// M8 worked by hand: per service and month, the changes with an SLA and
// both times, and those whose approvals took longer than the SLA.
func TestMetricsApprovalSLA(t *testing.T) {
	sch, err := schema.Compile(nil)
	require.NoError(t, err)
	p, ds := sch.ParseConfig("cab.cue", []byte(slaConfig))
	require.Empty(t, ds)
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return ts
	}
	ch := func(id, service, risk, opened, approved, merged string) audit.Change {
		c := audit.Change{ID: id, Service: service, Kind: "normal", Risk: risk, MergedAt: at(merged), Outcome: "pending",
			MergeCommit: id, Environments: []audit.EnvOutcome{{Env: "prod", Outcome: "pending"}}}
		if opened != "" {
			c.OpenedAt = at(opened)
		}
		if approved != "" {
			c.ApprovedAt = at(approved)
		}
		return c
	}
	changes := []audit.Change{
		// payments medium: its own SLA of 1h; 2h is a breach.
		ch("A", "payments", "medium", "2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z", "2026-01-05T13:00:00Z"),
		// payments high: 3h within 4h.
		ch("B", "payments", "high", "2026-01-10T00:00:00Z", "2026-01-10T03:00:00Z", "2026-01-10T04:00:00Z"),
		// payments high, 5h: a breach counted in February, its merge's month.
		ch("C", "payments", "high", "2026-01-31T20:00:00Z", "2026-02-01T01:00:00Z", "2026-02-01T02:00:00Z"),
		// no approval time: not measured.
		ch("D", "payments", "high", "2026-01-20T00:00:00Z", "", "2026-01-20T05:00:00Z"),
		// low risk has no SLA: not measured.
		ch("E", "checkout", "low", "2026-01-15T00:00:00Z", "2026-01-25T00:00:00Z", "2026-01-25T00:00:00Z"),
		// exactly the SLA is no breach; one second more is.
		ch("F", "checkout", "medium", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"),
		ch("G", "checkout", "high", "2026-01-03T00:00:00Z", "2026-01-03T04:00:01Z", "2026-01-03T05:00:00Z"),
	}
	resolve := func(c *audit.Change) (model.SLA, bool) { return p.Config.SLAFor(c.Service, c.Risk) }
	m, err := audit.ComputeMetrics(changes, audit.MetricsOptions{Period: audit.PeriodMonth, ByService: true, SLA: resolve})
	require.NoError(t, err)
	require.True(t, m.SLA)
	type row struct {
		service, period    string
		measured, breaches int
		rate               *float64
	}
	half, all := 0.5, 1.0
	var got []row
	for _, r := range m.Rows {
		got = append(got, row{r.Service, r.Period, r.SLAMeasured, r.SLABreaches, r.SLABreachRate})
	}
	assert.ElementsMatch(t, []row{
		{"checkout", "2026-01", 2, 1, &half},
		{"checkout", "2026-02", 0, 0, nil},
		{"payments", "2026-01", 2, 1, &half},
		{"payments", "2026-02", 1, 1, &all},
	}, got)

	var table, prom bytes.Buffer
	require.NoError(t, m.WriteTable(&table))
	assert.Contains(t, table.String(), "SLA BREACHED")
	assert.Contains(t, table.String(), "50.0% (1/2)")
	assert.Contains(t, table.String(), "100.0% (1/1)")
	require.NoError(t, m.WritePrometheus(&prom))
	assert.Contains(t, prom.String(), `cab_change_approval_sla_breaches{env="",period="2026-02",service="payments"} 1`)
	assert.Contains(t, prom.String(), `cab_change_approval_sla_measured{env="",period="2026-01",service="checkout"} 2`)

	// Without SLAs M8 is absent everywhere.
	m, err = audit.ComputeMetrics(changes, audit.MetricsOptions{Period: audit.PeriodMonth, ByService: true})
	require.NoError(t, err)
	table.Reset()
	require.NoError(t, m.WriteTable(&table))
	assert.NotContains(t, table.String(), "SLA")
	for _, r := range m.Rows {
		assert.Zero(t, r.SLAMeasured)
	}
}

// The SLA of a merged change is the one of its base's cab.cue: a pull
// request that loosens the SLA in the same merge does not change its own.
func TestSLAsAtMergesReadsTheBase(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com",
			"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	write := func(src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cab.cue"), []byte(src), 0o644))
	}
	run("init", "-q", "-b", "main")
	write(slaConfig)
	run("add", "cab.cue")
	run("commit", "-q", "-m", "base")
	run("checkout", "-q", "-b", "pr")
	write(strings.Replace(slaConfig, `high: "4h"`, `high: "400h"`, 1))
	run("commit", "-q", "-am", "loosen")
	run("checkout", "-q", "main")
	run("merge", "-q", "--no-ff", "-m", "merge", "pr")
	merge := run("rev-parse", "HEAD")

	resolve, err := audit.SLAsAtMerges(context.Background(), dir)
	require.NoError(t, err)
	sla, ok := resolve(&audit.Change{MergeCommit: merge, Service: "checkout", Risk: "high"})
	require.True(t, ok)
	assert.Equal(t, 4*time.Hour, sla.Wait)
	sla, ok = resolve(&audit.Change{MergeCommit: merge, Service: "payments", Risk: "medium"})
	require.True(t, ok)
	assert.Equal(t, time.Hour, sla.Wait)
	_, ok = resolve(&audit.Change{MergeCommit: merge, Service: "checkout", Risk: "low"})
	assert.False(t, ok, "no SLA for low risk")
	_, ok = resolve(&audit.Change{MergeCommit: run("rev-parse", "HEAD^1"), Service: "checkout", Risk: "high"})
	assert.False(t, ok, "the root commit has no base")
}
