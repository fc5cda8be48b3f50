package ledger

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A ticket-wide scheduled readmits a ticket quarantined as a whole (the
// reconciler judged it again: its merge commit is fetched now); nothing
// else does, and an environment set aside stays so.
func TestReadmitAfterQuarantine(t *testing.T) {
	const id = "CHG-2026-0001"
	ev := func(seq int, env, kind string) Event { return Event{Seq: seq, Ticket: id, Env: env, Kind: kind} }
	signed := ev(1, "", KindSigned)

	readmitted := []Event{signed, ev(2, "", KindQuarantined), ev(3, "", KindScheduled),
		ev(4, "prod", KindApplying), ev(5, "prod", KindApplied), ev(6, "prod", KindVerified)}
	require.NoError(t, Validate(readmitted))
	st, err := replay(nil, readmitted)
	require.NoError(t, err)
	assert.Equal(t, KindSigned, st[id].Status, "back in the running")
	assert.Equal(t, KindVerified, st[id].Envs["prod"])

	tests := []struct {
		name   string
		events []Event
	}{
		{"an environment's scheduled does not readmit", []Event{signed, ev(2, "", KindQuarantined), ev(3, "prod", KindScheduled)}},
		{"an environment set aside stays so", []Event{signed, ev(2, "prod", KindQuarantined), ev(3, "prod", KindScheduled)}},
		{"unsigned stays unsigned", []Event{ev(1, "", KindUnsigned), ev(2, "", KindScheduled)}},
		{"expired stays expired", []Event{signed, ev(2, "", KindExpired), ev(3, "", KindScheduled)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, Validate(tt.events), ErrTransition)
		})
	}
}
