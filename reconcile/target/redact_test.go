package target_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/reconcile/target"
)

// leaky is a driver that repeats what a careless server said.
type leaky struct{ said string }

func (l leaky) Observe(context.Context, target.Change) (target.State, error) {
	return target.State{Value: "state " + l.said, Restore: []byte(`{"keep":"` + l.said + `"}`)}, fmt.Errorf("GET: 401 %s: %w", l.said, target.ErrMismatch)
}

func (l leaky) Apply(ctx context.Context, c target.Change) (target.State, error) {
	return l.Observe(ctx, c)
}

func (l leaky) Restore(context.Context, target.Change, target.State) error {
	return errors.New("restore: " + l.said)
}

func TestRedacting(t *testing.T) {
	r, err := redact.New("env-token-0123456")
	require.NoError(t, err)
	for _, said := range []string{"env-token-0123456", "Authorization: Bearer abcdefghijk", "ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8"} {
		d := target.Redacting(leaky{said}, r)
		st, err := d.Observe(context.Background(), target.Change{})
		assert.NotContains(t, err.Error(), said)
		assert.ErrorIs(t, err, target.ErrMismatch, "typed errors survive")
		assert.NotContains(t, st.Value, said)
		assert.Contains(t, string(st.Restore), said, "restore data is kept byte for byte")
		_, err = d.Apply(context.Background(), target.Change{})
		assert.NotContains(t, err.Error(), said)
		assert.NotContains(t, d.Restore(context.Background(), target.Change{}, st).Error(), said)
	}
}
