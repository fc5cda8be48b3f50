package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrPassBound is matched (errors.Is) by the error of a pass that stopped
// at one of its bounds (a *BoundError).
var ErrPassBound = errors.New("reconcile pass stopped at its bound")

// BoundError says which bound a pass stopped at. Every pass has a bound on
// the events it records, on its rounds and on its duration, derived from
// the work in flight: a pass that reaches one stops between steps (an
// unfinished apply stays applying on the ledger, resumed by the next pass)
// and reports it, rather than running on.
type BoundError struct {
	// What is "events", "rounds" or "duration".
	What string
	// Reached is how far the pass went, Limit its bound: events or rounds
	// as counts, durations in nanoseconds.
	Reached, Limit int64
	// InFlight is the number of ticket-environments the bounds were
	// derived from.
	InFlight int
}

func (e *BoundError) Error() string {
	reached, limit := fmt.Sprint(e.Reached), fmt.Sprint(e.Limit)
	if e.What == "duration" {
		reached, limit = time.Duration(e.Reached).Round(time.Millisecond).String(), time.Duration(e.Limit).String()
	}
	return fmt.Sprintf("reconcile pass stopped at its %s bound: %s of at most %s for %d ticket-environment(s) in flight (a target or a peer that keeps changing? the next pass goes on)",
		e.What, reached, limit, e.InFlight)
}

// Is makes errors.Is(err, ErrPassBound) true.
func (e *BoundError) Is(target error) bool { return target == ErrPassBound }

// Events a pass may record: for each ticket in flight eventsPerTicket
// (set aside, waiting for its merge commit, readmitted, expired), and for
// each of its environments not done yet eventsPerEnv (applying, applied,
// verified or failed, rolled-back, a set-aside, and one wait for each
// kind of cause) plus one wait per dependency, per action (its target
// unreadable) and per freeze; and eventsSlack more.
const (
	eventsPerTicket = 4
	eventsPerEnv    = 12
	eventsSlack     = 16
)

// bound is the bounds of one pass. The event and round bounds are checked
// before each round; the duration bound cancels the pass's context.
type bound struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	start  time.Time
	lease  time.Duration
	timer  *time.Timer
	// freezes is the number of freezes in cab.cue (each may hold a change).
	freezes int
	// seen are the tickets and ticket-environments in flight during the
	// pass; inFlight counts the ticket-environments (read by the timer:
	// guarded by mu).
	seen      map[string]bool
	mu        sync.Mutex
	inFlight  int
	maxEvents int
	written   int
	rounds    int
}

// newBound makes the bounds of a pass run under parent. The duration
// bound starts when the first round knows the work in flight (grow).
func newBound(parent context.Context, lease time.Duration) *bound {
	b := &bound{lease: lease, seen: map[string]bool{}, maxEvents: eventsSlack}
	b.ctx, b.cancel = context.WithCancelCause(parent)
	return b
}

// duration is the pass's duration bound, counted from when the first
// round has read the ledger and judged the signed tickets: a lease (the
// longest an apply and its postchecks may take) for each
// ticket-environment in flight, as if each ran after the other, and one
// more.
func (b *bound) duration() time.Duration { return b.lease * time.Duration(1+b.inFlight) }

func (b *bound) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cancel(&BoundError{What: "duration", Reached: int64(time.Since(b.start)), Limit: int64(b.duration()), InFlight: b.inFlight})
}

// grow counts the tickets in flight into the bounds (each once a pass).
func (b *bound) grow(tickets []*ticket, done func(id, env string) bool) {
	grew := false
	for _, tk := range tickets {
		if !b.seen[tk.id] {
			b.seen[tk.id], grew = true, true
			b.maxEvents += eventsPerTicket
		}
		for _, env := range tk.t.Environments {
			k := tk.id + "\x00" + env
			if b.seen[k] || done(tk.id, env) {
				continue
			}
			b.seen[k], grew = true, true
			b.mu.Lock()
			b.inFlight++
			b.mu.Unlock()
			b.maxEvents += eventsPerEnv + len(tk.t.DependsOn) + len(tk.t.Actions) + b.freezes
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.timer == nil:
		b.start = time.Now()
		b.timer = time.AfterFunc(b.duration(), b.expire)
	case grew:
		b.timer.Reset(time.Until(b.start.Add(b.duration())))
	}
}

// check returns the bound the pass reached before a round (nil: none).
func (b *bound) check() error {
	b.rounds++
	switch {
	case b.written >= b.maxEvents:
		return &BoundError{What: "events", Reached: int64(b.written), Limit: int64(b.maxEvents), InFlight: b.inFlight}
	case b.rounds > b.maxEvents:
		// Every round but the last records an event or loses one to a
		// peer's; a round that does neither ends the pass.
		return &BoundError{What: "rounds", Reached: int64(b.rounds), Limit: int64(b.maxEvents), InFlight: b.inFlight}
	}
	return nil
}

// reached returns the bound err stands for, if it is one: a bound check's
// error, or the cancellation of the pass by its duration bound (not the
// caller's).
func (b *bound) reached(parent context.Context, err error) *BoundError {
	var be *BoundError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be):
		return be
	case parent.Err() == nil && errors.As(context.Cause(b.ctx), &be):
		return be
	}
	return nil
}

// stop releases the timer and the context.
func (b *bound) stop() {
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.cancel(nil)
}
