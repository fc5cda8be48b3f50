package ledger

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Drift events observe a verified environment: they need one, leave it
// verified, and a drift-cleared needs an uncleared drifted.
func TestDriftTransitions(t *testing.T) {
	const id = "CHG-2026-0001"
	ev := func(seq int, env, kind string) Event { return Event{Seq: seq, Ticket: id, Env: env, Kind: kind} }
	verified := []Event{{Seq: 1, Ticket: id, Kind: KindSigned}, ev(2, "prod", KindApplying), ev(3, "prod", KindApplied), ev(4, "prod", KindVerified)}
	with := func(more ...Event) []Event { return append(append([]Event{}, verified...), more...) }
	bad := []struct {
		name     string
		events   []Event
		from, to string
	}{
		{"drifted before verified", verified[:3:3], KindApplied, KindDrifted},
		{"clear without drift", with(ev(5, "prod", KindDriftCleared)), KindVerified, KindDriftCleared},
		{"cleared twice", with(ev(5, "prod", KindDrifted), ev(6, "prod", KindDriftCleared), ev(7, "prod", KindDriftCleared)), KindVerified, KindDriftCleared},
		{"drifted in another env", with(ev(5, "staging", KindDrifted)), "signed", KindDrifted},
	}
	bad[0].events = append(bad[0].events, ev(4, "prod", KindDrifted))
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var te *TransitionError
			require.ErrorAs(t, Validate(tt.events), &te)
			assert.Equal(t, tt.from, te.From)
			assert.Equal(t, tt.to, te.To)
		})
	}
	states, err := replay(nil, with(ev(5, "prod", KindDrifted), ev(6, "prod", KindDrifted), ev(7, "prod", KindDriftCleared)))
	require.NoError(t, err)
	st := states[id]
	assert.Equal(t, KindVerified, st.Envs["prod"], "the environment stays verified")
	assert.Equal(t, 1, st.Drifts["prod"], "two drifts, one cleared")
	assert.Equal(t, 7, st.Seq)
	var ie *InvalidError
	assert.ErrorAs(t, Validate([]Event{{Seq: 1, Ticket: id, Kind: KindSigned}, ev(2, "", KindDrifted)}), &ie, "drifted needs an environment")
}
