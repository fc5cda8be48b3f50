package serve

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SLA poll runs on its interval, in the loop, and
// cab_approval_sla_breaches_total counts what it newly notified, even when
// the poll failed after notifying some.
func TestSLAPollCountsBreaches(t *testing.T) {
	c := &counter{}
	var polls atomic.Int32
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: time.Hour, SLAInterval: 5 * time.Millisecond,
		SLA: func(context.Context) (int, error) {
			switch polls.Add(1) {
			case 1:
				return 2, nil
			case 2:
				return 1, errors.New("forge down")
			}
			return 0, nil
		}})
	_, ok := lookup(t, s.Server, "cab_approval_sla_breaches_total")
	assert.True(t, ok, "the counter exists from the start")
	require.Eventually(t, func() bool { return polls.Load() >= 3 }, wait, tick)
	assert.Equal(t, 3.0, metric(t, s.Server, "cab_approval_sla_breaches_total"))
	assert.LessOrEqual(t, c.calls.Load(), int32(1), "polls are not passes: the timer's pass is an hour away")
}

// A poll that hangs (a forge that never answers) is cut at SLATimeout and
// the loop goes on: the pass a webhook queued runs.
func TestSLAPollIsBounded(t *testing.T) {
	c := &counter{}
	var polls atomic.Int32
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: time.Hour, SLAInterval: 5 * time.Millisecond, SLATimeout: 50 * time.Millisecond,
		SLA: func(ctx context.Context) (int, error) {
			polls.Add(1)
			<-ctx.Done() // the forge never answers
			return 0, ctx.Err()
		}})
	require.Eventually(t, func() bool { return polls.Load() >= 3 }, wait, tick, "each hung poll ends at its timeout")
	before := c.calls.Load()
	s.trigger("test")
	require.Eventually(t, func() bool { return c.calls.Load() > before }, wait, tick, "passes still run between polls")
}
