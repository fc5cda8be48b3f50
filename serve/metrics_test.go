package serve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/reconcile"
)

// scrape fetches /metrics over HTTP and returns one line per sample of
// the cab_ families ("name{k=v,...} value", histograms as _count and
// _sum), parsed with expfmt.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := client.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "cab_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetHistogram() != nil:
				out[name+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum{"+strings.Join(labels, ",")+"}"] = m.GetHistogram().GetSampleSum()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	base := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(clock.Add(1)) * time.Minute) }
	srv := make(chan *Server, 1)
	c := &counter{do: func(_ context.Context, call int32) (*reconcile.Summary, error) {
		switch call {
		case 1:
			obs := (<-srv).Observer()
			steps := []reconcile.Step{
				{Ticket: "CHG-2026-0001", Env: "staging", Kind: "applying", Changes: []string{"sha256:aaa → sha256:bbb"}},
				{Ticket: "CHG-2026-0001", Env: "staging", Kind: "applied", Duration: 2 * time.Second},
				{Ticket: "CHG-2026-0002", Env: "staging", Kind: "failed", Duration: 3 * time.Second, Reason: "postcheck failed"},
				{Ticket: "CHG-2026-0002", Env: "staging", Kind: "rolled-back"},
			}
			// The observer hears the first two as they happen; the
			// summary holds all four.
			obs.Step(steps[0])
			obs.Step(steps[1])
			return &reconcile.Summary{Steps: steps, States: map[string]int{
				"applied": 1, "rolled-back": 1, "pending": 2, "bogus": 1,
			}}, nil
		case 2:
			return &reconcile.Summary{States: map[string]int{"verified": 2}}, nil
		default:
			return &reconcile.Summary{States: map[string]int{}}, errors.New("ledger unreachable")
		}
	}}
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: hour, GitHubSecret: githubSecret, Now: now})
	srv <- s.Server
	waitPasses(t, s.Server, 1)

	got := scrape(t, s.url)
	for k, want := range map[string]float64{
		`cab_tickets{state=applied}`:                        1,
		`cab_tickets{state=rolled-back}`:                    1,
		`cab_tickets{state=pending}`:                        2,
		`cab_tickets{state=other}`:                          1,
		`cab_tickets{state=verified}`:                       0,
		`cab_reconcile_steps_total{kind=applying}`:          1,
		`cab_reconcile_steps_total{kind=applied}`:           1,
		`cab_reconcile_steps_total{kind=failed}`:            1,
		`cab_reconcile_steps_total{kind=rolled-back}`:       1,
		`cab_apply_duration_seconds_count{outcome=applied}`: 1,
		`cab_apply_duration_seconds_sum{outcome=applied}`:   2,
		`cab_apply_duration_seconds_count{outcome=failed}`:  1,
		`cab_apply_duration_seconds_sum{outcome=failed}`:    3,
		`cab_rollbacks_total{outcome=rolled-back}`:          1,
		`cab_rollbacks_total{outcome=rollback-failed}`:      0,
		`cab_reconcile_passes_total{}`:                      1,
		`cab_reconcile_errors_total{}`:                      0,
		`cab_reconcile_pass_duration_seconds_count{}`:       1,
		`cab_last_pass_timestamp_seconds{}`:                 float64(base.Add(time.Minute).Unix()),
		`cab_last_successful_pass_timestamp_seconds{}`:      float64(base.Add(time.Minute).Unix()),
	} {
		assert.Equal(t, want, got[k], "after the first pass: %s", k)
	}
	assert.NotContains(t, got, `cab_tickets{state=bogus}`, "unknown states are counted as other")

	githubPush(t, s.url, "refs/heads/main")
	waitPasses(t, s.Server, 2)
	got = scrape(t, s.url)
	for k, want := range map[string]float64{
		`cab_tickets{state=verified}`:                       2,
		`cab_tickets{state=applied}`:                        0, // vanished states go to zero
		`cab_tickets{state=pending}`:                        0,
		`cab_tickets{state=other}`:                          0,
		`cab_reconcile_steps_total{kind=applied}`:           1, // not counted again
		`cab_reconcile_passes_total{}`:                      2,
		`cab_webhooks_total{provider=github,result=queued}`: 1,
	} {
		assert.Equal(t, want, got[k], "after the second pass: %s", k)
	}

	githubPush(t, s.url, "refs/heads/main")
	waitPasses(t, s.Server, 3)
	got = scrape(t, s.url)
	for k, want := range map[string]float64{
		`cab_tickets{state=verified}`:                       2, // a failed pass leaves the states
		`cab_reconcile_passes_total{}`:                      3,
		`cab_reconcile_errors_total{}`:                      1,
		`cab_last_pass_timestamp_seconds{}`:                 float64(base.Add(3 * time.Minute).Unix()),
		`cab_last_successful_pass_timestamp_seconds{}`:      float64(base.Add(2 * time.Minute).Unix()),
		`cab_webhooks_total{provider=github,result=queued}`: 2,
	} {
		assert.Equal(t, want, got[k], "after the failed pass: %s", k)
	}
}

// Labels are bounded: a kind cab does not know is "other".
func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"applied": "applied", "rollback-failed": "rollback-failed", "pending": "pending",
		"plan": "plan", "": "other", "Applied": "other", "x\ny": "other",
	} {
		assert.Equal(t, want, label(in), "label(%q)", in)
	}
}

// cab_drift has one series per key checked; keys no longer checked and
// unreadable ones have none.
func TestDriftGauge(t *testing.T) {
	m := newMetrics()
	series := func() map[string]float64 {
		mfs, err := m.reg.Gather()
		require.NoError(t, err)
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "cab_drift" {
				continue
			}
			for _, s := range mf.GetMetric() {
				var ls []string
				for _, l := range s.GetLabel() {
					ls = append(ls, l.GetValue())
				}
				out[strings.Join(ls, " ")] = s.GetGauge().GetValue()
			}
		}
		return out
	}
	m.drift([]drift.Finding{
		{Setting: drift.Setting{Env: "prod", Target: "images", Key: "payments:live"}, Drifted: true},
		{Setting: drift.Setting{Env: "prod", Target: "env", Key: "values.json"}},
		{Setting: drift.Setting{Env: "prod", Target: "hook", Key: "/deploy"}, Unknown: "timeout"},
	})
	assert.Equal(t, map[string]float64{"prod payments:live images": 1, "prod values.json env": 0}, series())
	m.drift([]drift.Finding{{Setting: drift.Setting{Env: "prod", Target: "images", Key: "payments:live"}}})
	assert.Equal(t, map[string]float64{"prod payments:live images": 0}, series(), "cleared; the key no longer checked is gone")
}
