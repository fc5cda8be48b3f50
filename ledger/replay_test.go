package ledger

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplay: the state machine's replay says where a ticket stands in
// each environment (promotion order, then the others by name), which
// events moved it there, and, tolerant, goes on past what it refuses.
func TestReplay(t *testing.T) {
	const id = "CHG-2026-0001"
	ev := func(seq int, env, kind string) Event { return Event{Seq: seq, Ticket: id, Env: env, Kind: kind} }
	type env struct {
		status string
		steps  []int
	}
	for _, tc := range []struct {
		name     string
		events   []Event
		mode     ReplayMode
		envs     map[string]env
		order    []string
		status   string
		problems int
	}{
		{"nothing yet", nil, Strict, map[string]env{"staging": {StatusPending, nil}, "prod": {StatusPending, nil}}, []string{"staging", "prod"}, "", 0},
		{"promoted, then drift", []Event{ev(1, "", KindSigned), ev(2, "staging", KindApplying), ev(3, "staging", KindApplied), ev(4, "staging", KindVerified), ev(5, "staging", KindDrifted)}, Strict,
			map[string]env{"staging": {KindVerified, []int{1, 2, 3}}, "prod": {StatusPending, nil}}, []string{"staging", "prod"}, KindSigned, 0},
		{"ticket-wide wait reaches the waiting environments only", []Event{ev(1, "", KindSigned), ev(2, "staging", KindApplying), ev(3, "staging", KindApplied), ev(4, "staging", KindVerified), ev(5, "", KindScheduled), ev(6, "", KindExpired)}, Strict,
			map[string]env{"staging": {KindVerified, []int{1, 2, 3}}, "prod": {KindExpired, []int{4, 5}}}, []string{"staging", "prod"}, KindExpired, 0},
		{"quarantined, then readmitted", []Event{ev(1, "", KindSigned), ev(2, "", KindQuarantined), ev(3, "", KindScheduled)}, Strict,
			map[string]env{"staging": {KindQuarantined, []int{1}}, "prod": {KindQuarantined, []int{1}}}, []string{"staging", "prod"}, KindSigned, 0},
		{"an environment only the events name", []Event{ev(1, "", KindSigned), ev(2, "dev", KindApplying)}, Strict,
			map[string]env{"staging": {StatusPending, nil}, "prod": {StatusPending, nil}, "dev": {KindApplying, []int{1}}}, []string{"staging", "prod", "dev"}, KindSigned, 0},
		{"strict stops at an impossible transition", []Event{ev(1, "", KindSigned), ev(2, "prod", KindVerified), ev(3, "prod", KindApplying)}, Strict,
			map[string]env{"staging": {StatusPending, nil}, "prod": {StatusPending, nil}}, []string{"staging", "prod"}, KindSigned, 1},
		{"tolerant goes on", []Event{ev(1, "", KindSigned), ev(2, "prod", KindVerified), ev(3, "prod", KindApplying), ev(5, "prod", KindApplied)}, Tolerant,
			map[string]env{"staging": {StatusPending, nil}, "prod": {KindApplied, []int{1, 2, 3}}}, []string{"staging", "prod"}, KindSigned, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Replay(tc.events, []string{"staging", "prod"}, tc.mode)
			var order []string
			for _, e := range r.Envs {
				order = append(order, e.Env)
				want, ok := tc.envs[e.Env]
				require.True(t, ok, e.Env)
				assert.Equal(t, want.status, e.Status, "%s status", e.Env)
				assert.Equal(t, want.steps, e.Steps, "%s steps", e.Env)
			}
			assert.Equal(t, tc.order, order)
			assert.Equal(t, tc.status, r.State.Status)
			assert.Len(t, r.Problems, tc.problems, "%v", r.Problems)
		})
	}
}
