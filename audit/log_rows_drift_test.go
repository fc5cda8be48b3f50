package audit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/ledger"
)

// Drift (drifted, drift-cleared) after a verified deployment leaves its
// outcome verified, as the ledger's state machine keeps the environment
// verified: a drifted change is still a change that succeeded.
func TestOutcomesIgnoreDrift(t *testing.T) {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ev := func(seq int, kind string, d time.Duration) ledgerEvent {
		return ledgerEvent{Seq: seq, Kind: kind, Env: "prod", At: at.Add(d)}
	}
	for _, tail := range [][]ledgerEvent{
		{ev(5, ledger.KindDrifted, 3*time.Hour)},
		{ev(5, ledger.KindDrifted, 3*time.Hour), ev(6, ledger.KindDriftCleared, 4*time.Hour)},
	} {
		events := append([]ledgerEvent{
			ev(2, ledger.KindApplying, 0), ev(3, ledger.KindApplied, time.Minute), ev(4, ledger.KindVerified, 2*time.Minute),
		}, tail...)
		envs, outcome := outcomes([]string{"prod"}, events, "signed")
		assert.Equal(t, ledger.KindVerified, envs[0].Outcome, "after %d drift event(s)", len(tail))
		assert.Equal(t, at.Add(2*time.Minute), envs[0].At)
		assert.Equal(t, ledger.KindVerified, outcome)
	}
}
