package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSleep(t *testing.T) {
	require.NoError(t, Sleep(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	assert.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestJitter(t *testing.T) {
	assert.Zero(t, Jitter(0))
	assert.Zero(t, Jitter(-time.Second))
	for range 1000 {
		j := Jitter(100 * time.Millisecond)
		assert.GreaterOrEqual(t, j, 50*time.Millisecond)
		assert.Less(t, j, 150*time.Millisecond)
	}
}
