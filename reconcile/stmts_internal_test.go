package reconcile

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/sign"
)

// envelopeFor is an (unsigned: the memo never verifies) DSSE envelope
// whose statement names envs.
func envelopeFor(t *testing.T, id string, envs ...string) []byte {
	t.Helper()
	st := sign.NewStatement("changes/payments/"+id+".cue", "00", sign.Predicate{ID: id, Environments: envs})
	payload, err := json.Marshal(st)
	require.NoError(t, err)
	env, err := json.Marshal(map[string]any{"payloadType": sign.PayloadType, "payload": payload, "signatures": []any{}})
	require.NoError(t, err)
	return env
}

// The memo answers what the envelope it is given says: the same bytes
// give the same environments, other bytes for the same ticket (a ledger
// that changed) are decoded afresh, and a nil memo decodes every time.
func TestStatementEnvs(t *testing.T) {
	a := envelopeFor(t, "CHG-2026-0001", "staging")
	b := envelopeFor(t, "CHG-2026-0001", "staging", "prod")
	tests := []struct {
		name  string
		stmts *statementEnvs
	}{
		{"memo", &statementEnvs{}},
		{"nil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, []string{"staging"}, tc.stmts.of("CHG-2026-0001", a))
			assert.Equal(t, []string{"staging"}, tc.stmts.of("CHG-2026-0001", append([]byte{}, a...)), "equal bytes")
			assert.Equal(t, []string{"staging", "prod"}, tc.stmts.of("CHG-2026-0001", b), "other bytes, same ticket")
			assert.Equal(t, []string{"staging"}, tc.stmts.of("CHG-2026-0002", a), "another ticket")
			assert.Nil(t, tc.stmts.of("CHG-2026-0003", []byte("not an envelope")))
		})
	}
}
