package validate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
)

// TestSLALevelAgreesWithPolicy holds model.SLA.Level (what cab serve's
// poller escalates by) and the default policy's approval-SLA warning
// (what cab check shows) together: for each risk and wait around the
// edges, the policy warns exactly when Level is breached, and names the
// backup group exactly when Level is escalated.
func TestSLALevelAgreesWithPolicy(t *testing.T) {
	s, err := schema.Compile(nil)
	require.NoError(t, err)
	pc, ds := s.ParseConfig("cab.cue", []byte(testConfig))
	require.Empty(t, ds)
	cfg := pc.Config
	var policies []File
	for _, p := range policy.Defaults() {
		policies = append(policies, File{Name: p.Name, Source: p.Source})
	}
	for _, risk := range []string{"high", "medium"} {
		sla, ok := cfg.SLAFor("payments", risk)
		require.True(t, ok)
		for _, waited := range []time.Duration{0, sla.Wait - time.Second, sla.Wait, sla.Wait + time.Second,
			sla.Wait + sla.Escalate, sla.Wait + sla.Escalate + time.Second, 10 * sla.Wait} {
			job := Job{Config: &File{Name: "cab.cue", Source: []byte(testConfig)}, Policies: policies,
				Mode: policy.PullRequest, Now: before, Review: opened(review("github:7", nil), waited)}
			ev, err := NewEvaluator(job, nil)
			require.NoError(t, err)
			res := ev.Check(File{Name: "changes/payments/CHG-2026-0042.cue", Source: []byte(ticket(map[string]string{"risk": `"` + risk + `"`}))})
			warned, escalated := false, false
			for _, d := range res.Diags {
				if sw, ok := SLAWarning(diag.List{d}); ok && sw.Message == d.Message {
					warned, escalated = true, strings.Contains(d.Message, "escalated to the backup group")
				}
			}
			level := sla.Level(before.Add(-waited), before)
			assert.Equal(t, level >= model.SLABreached, warned, "%s risk, waited %s: breached", risk, waited)
			assert.Equal(t, level == model.SLAEscalated, escalated, "%s risk, waited %s: escalated", risk, waited)
		}
	}
}
