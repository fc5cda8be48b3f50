package schema

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const driftConfig = `apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
environments: {
	dev: {}
	staging: drift: heal: true
	prod: {protected: true, drift: heal: true}
	dr: {protected: true, drift: {heal: true, healProtected: true}}
}
approvers: payments: members: ["github:1"]
services: payments: approvers: "payments"
notify: {
	sinks: hook: {type: "webhook", url: "https://hooks.example.com/cab", secretEnv: "CAB_HOOK_SECRET"}
	routes: [{sinks: ["hook"], events: ["drifted"]}]
}
`

// Healing is opt-in per environment, and a protected one needs its own
// opt-in; drifted is a notification kind.
func TestParseConfigDriftPolicy(t *testing.T) {
	s := compileT(t)
	c, ds := s.ParseConfig("cab.cue", []byte(driftConfig))
	require.Empty(t, ds, text(ds))
	envs := c.Config.Environments
	assert.Contains(t, envs["dev"].HealRefusal(), "not enabled")
	assert.Empty(t, envs["staging"].HealRefusal())
	assert.Contains(t, envs["prod"].HealRefusal(), "protected")
	assert.Empty(t, envs["dr"].HealRefusal())
	assert.Equal(t, []string{"drifted"}, c.Config.Notify.Routes[0].Events)

	_, ds = s.ParseConfig("cab.cue", []byte(driftConfig+"environments: dev: drift: heal: \"yes\"\n"))
	assert.NotEmpty(t, ds, "heal is a bool")
}
