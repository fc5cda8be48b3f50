package ledger

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogOf(t *testing.T) {
	signed := Event{Ticket: "CHG-2026-0001", Kind: KindSigned, Seq: 1}
	applying := Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: KindApplying, Seq: 2}
	other := Event{Ticket: "CHG-2026-0102", Kind: KindUnsigned, Seq: 1}

	lg, err := LogOf([]Event{signed, other, applying})
	require.NoError(t, err)
	assert.Equal(t, []Event{signed, applying}, lg.Ticket("CHG-2026-0001"))
	assert.Equal(t, []Event{signed, applying, other}, lg.Events(), "ordered by ticket, then sequence")
	assert.Equal(t, 2, lg.State("CHG-2026-0001").Seq)
	assert.Empty(t, lg.Problems)

	_, err = LogOf([]Event{signed, signed})
	require.Error(t, err, "a second signed is refused, not set aside")
	var te *TransitionError
	var ie *InvalidError
	assert.True(t, errors.As(err, &te) || errors.As(err, &ie), "%v", err)
}
