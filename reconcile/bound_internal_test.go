package reconcile

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

// The bounds of a pass grow with the work in flight, each ticket and
// ticket-environment counted once, and a pass stops when it has written
// as many events as they allow, or run as many rounds.
func TestBoundsFollowTheWorkInFlight(t *testing.T) {
	b := newBound(context.Background(), time.Hour)
	defer b.stop()
	b.freezes = 2
	a := &ticket{id: "CHG-2026-0001", t: model.Ticket{Environments: []string{"staging", "prod"},
		DependsOn: []string{"CHG-2026-0009"}, Actions: make([]model.Action, 3)}}
	c := &ticket{id: "CHG-2026-0002", t: model.Ticket{Environments: []string{"staging", "prod"}, Actions: make([]model.Action, 1)}}
	stranded := &ticket{id: "CHG-2026-0003"} // not judged yet: no environments known
	done := func(id, env string) bool { return id == c.id && env == "staging" }

	b.grow([]*ticket{a, c, stranded}, done)
	want := eventsSlack +
		3*eventsPerTicket +
		2*(eventsPerEnv+1+3+2) + // a: staging and prod
		1*(eventsPerEnv+0+1+2) // c: prod only (staging is done)
	assert.Equal(t, want, b.maxEvents)
	assert.Equal(t, 3, b.inFlight)
	assert.Equal(t, 4*time.Hour, b.duration(), "a lease per ticket-environment, and one more")

	b.grow([]*ticket{a, c, stranded}, done) // the next round: the same work
	assert.Equal(t, want, b.maxEvents, "counted once a pass")

	tests := []struct {
		name    string
		written int
		rounds  int
		what    string
	}{
		{name: "within", written: want - 1, rounds: want - 1},
		{name: "events reached", written: want, rounds: 1, what: "events"},
		{name: "rounds reached", written: 0, rounds: want, what: "rounds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.written, b.rounds = tt.written, tt.rounds
			err := b.check()
			if tt.what == "" {
				assert.NoError(t, err)
				return
			}
			var be *BoundError
			require.ErrorAs(t, err, &be)
			assert.ErrorIs(t, err, ErrPassBound)
			assert.Equal(t, tt.what, be.What)
			assert.Equal(t, int64(want), be.Limit)
			assert.Equal(t, 3, be.InFlight)
			assert.Same(t, be, b.reached(context.Background(), err))
		})
	}
}

// The duration bound cancels the pass's context with a *BoundError; the
// caller's own cancellation is not a bound.
func TestDurationBoundCancelsThePass(t *testing.T) {
	b := newBound(context.Background(), 10*time.Millisecond)
	defer b.stop()
	b.grow(nil, nil) // nothing in flight: one lease
	<-b.ctx.Done()
	be := b.reached(context.Background(), b.ctx.Err())
	require.NotNil(t, be)
	assert.Equal(t, "duration", be.What)
	assert.Equal(t, int64(10*time.Millisecond), be.Limit)

	parent, cancel := context.WithCancel(context.Background())
	b = newBound(parent, time.Hour)
	defer b.stop()
	cancel()
	<-b.ctx.Done()
	assert.Nil(t, b.reached(parent, b.ctx.Err()), "cancelled by the caller")
	assert.Nil(t, b.reached(parent, errors.New("push rejected")))
}
