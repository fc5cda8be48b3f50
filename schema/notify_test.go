package schema

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

const notifyConfig = `apiVersion: "cab.dev/v1"
environments: prod: {}
approvers: payments: members: ["github:1"]
approvers: sre: members: ["github:9"]
services: payments: approvers: "payments"
notify: {
	sinks: {
		hook: {type: "webhook", url: "https://hooks.example.com/cab", secretEnv: "CAB_HOOK_SECRET"}
		chat: {type: "slack", urlEnv: "CAB_SLACK_URL"}
		"on-call": {type: "email", host: "smtp.example.com", port: 587, from: "cab@example.com", to: ["oncall@example.com"], passwordEnv: "CAB_SMTP_PASSWORD"}
	}
	routes: [
		{sinks: ["hook"]},
		{sinks: ["chat", "on-call"], events: ["failed", "rolled-back"], environments: ["prod"], risks: ["high", "critical"]},
	]
}
approvalSLA: {
	risk: {low: "72h", high: "4h"}
	backup: "sre"
	escalateAfter: "2h"
	services: payments: risk: high: "1h"
}
`

func TestParseConfigNotify(t *testing.T) {
	s := compileT(t)
	c, ds := s.ParseConfig("cab.cue", []byte(notifyConfig))
	require.Empty(t, ds, text(ds))
	n := c.Config.Notify
	require.NotNil(t, n)
	assert.Equal(t, "CAB_HOOK_SECRET", n.Sinks["hook"].SecretEnv)
	assert.Equal(t, 587, n.Sinks["on-call"].Port)
	assert.Equal(t, []string{"high", "critical"}, n.Routes[1].Risks)

	sla, ok := c.Config.SLAFor("payments", "high")
	require.True(t, ok)
	assert.Equal(t, model.SLA{Wait: time.Hour, Escalate: 2 * time.Hour, Backup: "sre"}, sla, "a service overrides the risk table")
	sla, ok = c.Config.SLAFor("search", "low")
	require.True(t, ok)
	assert.Equal(t, 72*time.Hour, sla.Wait)
	_, ok = c.Config.SLAFor("search", "medium")
	assert.False(t, ok, "a risk without an SLA has none")
}

func TestParseConfigNotifyErrors(t *testing.T) {
	s := compileT(t)
	for _, tc := range []struct {
		name, old, new string
		line, col      int // line 0: CUE gives no position to a missing field
		path, message  string
	}{
		{"route to an unknown sink", `{sinks: ["hook"]}`, `{sinks: ["hook", "pager"]}`, 13, 20, "notify.routes[0].sinks[1]", `sink "pager" is not declared`},
		{"a secret written in cab.cue", `secretEnv: "CAB_HOOK_SECRET"`, `secretEnv: "s3cr3t-value"`, 8, 0, "", ""},
		{"slack without its variable", `{type: "slack", urlEnv: "CAB_SLACK_URL"}`, `{type: "slack"}`, 0, 0, "notify.sinks.chat.urlEnv", "field is required"},
		{"email without STARTTLS host", `host: "smtp.example.com", `, ``, 0, 0, `notify.sinks."on-call".host`, "field is required"},
		{"unknown event", `events: ["failed", "rolled-back"]`, `events: ["failed", "exploded"]`, 14, 0, "", ""},
		{"unknown backup group", `backup: "sre"`, `backup: "nobody"`, 19, 2, "approvalSLA.backup", `approver group "nobody" is not declared`},
		{"unknown service", `services: payments: risk`, `services: billing: risk`, 21, 12, `approvalSLA.services.billing`, `service "billing" is not declared`},
		{"zero duration", `low: "72h"`, `low: "0s"`, 18, 9, "approvalSLA.risk.low", `"0s" is not a positive duration`},
		{"not a duration", `high: "4h"`, `high: "4 hours"`, 18, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(notifyConfig, tc.old, tc.new, 1)
			require.NotEqual(t, notifyConfig, src)
			_, ds := s.ParseConfig("cab.cue", []byte(src))
			require.NotEmpty(t, ds)
			d := ds[0]
			assert.Equal(t, "cab.cue", d.File)
			assert.Equal(t, tc.line, d.Line, text(ds))
			if tc.col > 0 {
				assert.Equal(t, tc.col, d.Column, text(ds))
			}
			if tc.path != "" {
				assert.Equal(t, tc.path, d.Path)
				assert.Contains(t, d.Message, tc.message)
				assert.NotEmpty(t, d.Hint)
			}
		})
	}
}
