package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/plan"
	"github.com/cabhq/cab/reconcile/target"
)

// job is one ticket-environment being worked on in a round.
type job struct {
	decision
	// seq of the applying event (the idempotency key's part).
	applySeq int
	previous []target.State
	changes  []string
	started  time.Time
	// err is why the job's current phase did not succeed; wait, when
	// set, is what holds a fresh apply instead (prechecks, a target that
	// cannot be observed).
	err      error
	wait     *blocked
	observed []target.State
	// burnBefore and burnAfter are the service's burn rate read just
	// before the apply and at postcheck (M10; nil: no burnRate, or not
	// readable).
	burnBefore, burnAfter *ledger.BurnRate
}

// claimsPerWorker is the default of Options.MaxClaims per worker.
const claimsPerWorker = 32

// next is an event to record for a job, if the ticket is still where the
// job saw it.
type next struct {
	j    *job
	kind string
	data eventData
	// wait marks a scheduled event: recording it is not progress.
	wait bool
	// err marks a wait caused by an error.
	err bool
}

// phase is one step of applying a change, as data: the work it does for
// each job that reached it (in parallel, at most Workers at once) and the
// event that records how it went. Phases run in order in a round; the
// events of a phase are recorded by one compare-and-swap, and a job whose
// event is recorded goes on to the phase that event leads to (leadsTo).
type phase struct {
	// name names the boundary after its events are recorded
	// ("after-"+name).
	name string
	// work does the phase for one job: nil when it succeeded.
	work func(p *pass, ctx context.Context, j *job) error
	// settle returns the event that records the outcome of work (nil:
	// nothing to record, e.g. a wait recorded already).
	settle func(p *pass, j *job, err error) *next
}

// The phases, in the order they run.
const (
	phaseClaim = iota
	phaseApply
	phaseVerify
	phaseRollback
	numPhases
)

// phases are the steps of applying a change (a table: never modified).
var phases = [numPhases]phase{
	phaseClaim:    {name: "claim", work: (*pass).prepare, settle: (*pass).claim},
	phaseApply:    {name: "applied", work: (*pass).apply, settle: settle(ledger.KindApplied, "apply")},
	phaseVerify:   {name: "verified", work: (*pass).postchecks, settle: settle(ledger.KindVerified, "postchecks")},
	phaseRollback: {name: "rolled-back", work: (*pass).restore, settle: (*pass).rolledBack},
}

// leadsTo is the phase a job goes on to once an event of kind is recorded
// for it (false: it is done for the round).
func leadsTo(kind string) (int, bool) {
	switch kind {
	case ledger.KindApplying:
		return phaseApply, true
	case ledger.KindApplied:
		return phaseVerify, true
	case ledger.KindFailed:
		return phaseRollback, true
	}
	return 0, false
}

// resumeAt is the phase an apply whose last event is of kind (applying,
// applied or failed) resumes at: the phase that kind leads to.
func resumeAt(kind string) int {
	ph, _ := leadsTo(kind)
	return ph
}

// execute carries out the decisions of one round and reports whether it
// made progress: recorded something other than a wait, or found that
// another reconciler moved a ticket it meant to move.
func (p *pass) execute(ctx context.Context, ds []decision) (bool, error) {
	var queues [numPhases][]*job
	var steps []next // the waits, set-asides and readmissions: with the claims
	for _, d := range ds {
		j := &job{decision: d}
		switch o := d.out.(type) {
		case ready:
			queues[phaseClaim] = append(queues[phaseClaim], j)
		case resume:
			data := decodeData(o.applying)
			j.previous, j.changes, j.started = data.Previous, data.Changes, p.now
			if o.applying != nil {
				j.applySeq = o.applying.Seq
			}
			queues[o.phase] = append(queues[o.phase], j)
		default:
			if n := p.settleDecision(j); n != nil {
				steps = append(steps, *n)
			}
		}
	}
	var resumed []*job
	for _, q := range queues[phaseClaim+1:] {
		resumed = append(resumed, q...)
	}
	queues[phaseClaim] = p.admit(queues[phaseClaim], resumed)

	progressed := false
	for i, ph := range phases {
		jobs := queues[i]
		p.parallel(ctx, jobs, func(ctx context.Context, j *job) { j.err = ph.work(p, ctx, j) })
		if err := ctx.Err(); err != nil {
			return progressed, err
		}
		for _, j := range jobs {
			if n := ph.settle(p, j, j.err); n != nil {
				steps = append(steps, *n)
			}
		}
		kept, err := p.record(ctx, steps, ph.name)
		if err != nil {
			return progressed, err
		}
		for _, s := range steps {
			if !kept[s.j] {
				progressed = true // another reconciler moved the ticket: plan again
				continue
			}
			progressed = progressed || !s.wait
			if to, ok := leadsTo(s.kind); ok {
				queues[to] = append(queues[to], s.j)
			}
		}
		steps = nil
	}
	return progressed, nil
}

// admit returns the fresh applies that may start this round: one change
// per resource at a time — what is in flight (resumed, or another
// reconciler's) holds its resources, and of two fresh changes to one
// resource the first goes first — and at most MaxClaims. The rest wait
// for a later round (so that concurrent reconcilers share the work).
func (p *pass) admit(fresh, resumed []*job) []*job {
	busy := map[string]bool{}
	for _, j := range resumed {
		for _, r := range resources(j.tk.t, j.env) {
			busy[r] = true
		}
	}
	for _, d := range p.inFlight {
		for _, r := range resources(d.tk.t, d.env) {
			busy[r] = true
		}
	}
	var ready []*job
	for _, j := range fresh {
		rs := resources(j.tk.t, j.env)
		if len(ready) == p.r.o.MaxClaims || slices.ContainsFunc(rs, func(r string) bool { return busy[r] }) {
			continue
		}
		for _, r := range rs {
			busy[r] = true
		}
		ready = append(ready, j)
	}
	return ready
}

// settleDecision returns the event a decision that needs no work records:
// a wait (once per cause), a set-aside, a readmission.
func (p *pass) settleDecision(j *job) *next {
	switch o := j.out.(type) {
	case waiting:
		return p.wait(j, o.blocked())
	case blocked:
		return p.wait(j, o)
	case stalled:
		return &next{j: j, kind: o.kind, data: eventData{Reason: o.reason}}
	case readmit:
		return &next{j: j, kind: ledger.KindScheduled, data: eventData{
			Reason: fmt.Sprintf("judged again: what set it aside (%s) is gone", o.cause),
			Cause:  string(newCause(causeReadmitted, string(o.cause))),
		}}
	}
	return nil
}

// wait returns the scheduled event that records b for j, or nil when a
// wait for the same cause is on the ledger already: the words may have
// changed (an error body, a burn rate), the wait has not. A repeated wait
// caused by an error is still reported, once a pass.
func (p *pass) wait(j *job, b blocked) *next {
	p.r.o.Logger.Info("waiting", "ticket", j.tk.id, "env", j.env, "cause", b.cause, "reason", b.reason)
	if p.recorded(j.tk.id, j.env, b.cause) {
		if b.err {
			p.emitOnce(Step{Ticket: j.tk.id, Env: j.env, Kind: ledger.KindScheduled, Cause: string(b.cause), Reason: b.reason, Error: true})
		}
		return nil
	}
	return &next{j: j, kind: ledger.KindScheduled, data: eventData{Reason: b.reason, Cause: string(b.cause)}, wait: true, err: b.err}
}

// prepare runs the prechecks of a fresh apply and observes the state
// before; what stops it is a wait (j.wait), never a failure.
func (p *pass) prepare(ctx context.Context, j *job) error {
	if len(j.tk.t.Prechecks) > 0 {
		hold := &blocked{cause: newCause(causePrechecks, j.env)}
		var err error
		if p.r.o.Checks == nil {
			err = errors.New("prechecks: this reconciler has no checker")
		} else if err = p.r.o.Checks(ctx, Pre, j.tk.t.Prechecks, p.prometheus(j.env)); err != nil {
			err = fmt.Errorf("prechecks failed: %w", err)
		}
		if err != nil {
			hold.reason, j.wait = err.Error(), hold
			return err
		}
	}
	for i := range j.tk.t.Actions {
		c, drv := p.change(j, i, j.tk.t.Actions[i])
		st, err := drv.Observe(ctx, c)
		if err != nil {
			err = fmt.Errorf("observing %s before applying: %w", c.TargetName, err)
			j.wait = &blocked{cause: newCause(causeTargetUnreadable, j.env, c.TargetName), reason: err.Error(), err: true}
			return err
		}
		j.previous = append(j.previous, st)
		j.changes = append(j.changes, plan.Describe(c.Action, st.Value))
	}
	j.burnBefore = p.burnRate(ctx, j.tk.t.Service, j.env, true)
	return nil
}

// claim records applying with the state observed before, or the wait.
func (p *pass) claim(j *job, err error) *next {
	if err != nil {
		return p.wait(j, *j.wait)
	}
	j.started = time.Now()
	return &next{j: j, kind: ledger.KindApplying,
		data: eventData{Instance: p.r.o.Instance, Previous: j.previous, Changes: j.changes, BurnRate: j.burnBefore}}
}

// settle returns the settle of a phase whose success is recorded as kind
// and whose failure as failed at step.
func settle(kind, step string) func(*pass, *job, error) *next {
	return func(_ *pass, j *job, err error) *next {
		if err != nil {
			return failed{step: step, err: err}.next(j)
		}
		n := &next{j: j, kind: kind}
		switch kind {
		case ledger.KindApplied:
			n.data.Observed = j.observed
		case ledger.KindVerified:
			n.data.BurnRate = j.burnAfter
		}
		return n
	}
}

// next is the failed event of j.
func (f failed) next(j *job) *next {
	d := eventData{Reason: f.err.Error(), Step: f.step}
	switch f.step {
	case "apply":
		d.Observed = j.observed
	case "postchecks":
		d.BurnRate = j.burnAfter
	}
	return &next{j: j, kind: ledger.KindFailed, data: d}
}

// rolledBack records rolled-back, or rollback-failed: a human is needed.
func (p *pass) rolledBack(j *job, err error) *next {
	if err != nil {
		p.r.o.Logger.Error("ROLLBACK FAILED: a human is needed", "ticket", j.tk.id, "env", j.env, "err", err)
		return &next{j: j, kind: ledger.KindRollbackFailed, data: eventData{Reason: err.Error(), Step: "rollback"}}
	}
	return &next{j: j, kind: ledger.KindRolledBack}
}

// postchecks runs the postchecks of an applied change, then reads the
// service's burn rate afresh for the outcome event (M10).
func (p *pass) postchecks(ctx context.Context, j *job) error {
	err := p.runPostchecks(ctx, j)
	if ctx.Err() == nil {
		j.burnAfter = p.burnRate(ctx, j.tk.t.Service, j.env, false)
	}
	return err
}

func (p *pass) runPostchecks(ctx context.Context, j *job) error {
	if len(j.tk.t.Postchecks) == 0 {
		return nil
	}
	if p.r.o.Checks == nil {
		return errors.New("postchecks: this reconciler has no checker")
	}
	if err := p.r.o.Checks(ctx, Post, j.tk.t.Postchecks, p.prometheus(j.env)); err != nil {
		return fmt.Errorf("postchecks failed: %w", err)
	}
	return nil
}

// record appends the events of steps by one compare-and-swap, leaving out
// any whose ticket moved since it was planned (another reconciler acted).
// It returns the jobs whose events were recorded.
func (p *pass) record(ctx context.Context, steps []next, boundary string) (map[*job]bool, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	var kept map[*job]bool
	_, err := p.r.o.Ledger.Update(ctx, func(log *ledger.Log) ([]ledger.Event, error) {
		kept = map[*job]bool{}
		var events []ledger.Event
		seqs := map[string]int{}
		for _, s := range steps {
			st := log.State(s.j.tk.id)
			if _, seen := seqs[s.j.tk.id]; !seen {
				if st.Seq != s.j.seq {
					continue // moved since planned
				}
				seqs[s.j.tk.id] = st.Seq
			}
			seqs[s.j.tk.id]++
			ev := ledger.Event{Ticket: s.j.tk.id, Env: s.j.env, Kind: s.kind, Seq: seqs[s.j.tk.id],
				Actor: p.r.o.Instance, Commit: s.j.tk.commit, Data: encodeData(s.data)}
			events = append(events, ev)
			kept[s.j] = true
		}
		return events, nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording on the ledger: %w", err)
	}
	p.bound.written += len(kept)
	// What was recorded: steps in order, each ticket's seq moving on.
	for _, s := range steps {
		if !kept[s.j] {
			continue
		}
		s.j.seq++
		if s.kind == ledger.KindApplying {
			s.j.applySeq = s.j.seq
		}
		st := Step{Ticket: s.j.tk.id, Env: s.j.env, Kind: s.kind, Seq: s.j.seq, Cause: s.data.Cause, Reason: s.data.Reason, Changes: s.data.Changes, Error: s.err}
		switch s.kind {
		case ledger.KindApplied, ledger.KindFailed:
			st.Duration = time.Since(s.j.started)
		}
		p.emit(st)
	}
	p.boundary("after-" + boundary)
	return kept, nil
}

func (p *pass) emit(st Step) {
	p.sum.Steps = append(p.sum.Steps, st)
	if p.r.o.Observer != nil {
		p.r.o.Observer.Step(st)
	}
	p.r.o.Logger.Info("step", "ticket", st.Ticket, "env", st.Env, "kind", st.Kind, "cause", st.Cause, "reason", st.Reason)
}

// emitOnce reports a step that is not recorded (a repeated wait), once a
// pass per cause.
func (p *pass) emitOnce(st Step) {
	for _, s := range p.sum.Steps {
		if s.Ticket == st.Ticket && s.Env == st.Env && s.Kind == st.Kind && s.Cause == st.Cause {
			return
		}
	}
	p.emit(st)
}

func (p *pass) boundary(name string) { p.r.boundary(name) }

func (r *Reconciler) boundary(name string) {
	if r.o.Boundary != nil {
		r.o.Boundary(name)
	}
}

// change is action i of j as a driver sees it.
func (p *pass) change(j *job, i int, a model.Action) (target.Change, target.Driver) {
	tg := p.cfg.Environments[j.env].Targets[a.Target]
	return target.Change{Ticket: j.tk.id, Env: j.env, Seq: j.applySeq, Index: i, Action: a,
		Target: tg, TargetName: a.Target, Commit: j.tk.commit}, p.r.o.Drivers[a.Type]
}

// apply makes each action that the target does not already show: an apply
// being resumed after a crash observes first and never repeats what landed.
func (p *pass) apply(ctx context.Context, j *job) error {
	j.observed = nil
	for i, a := range j.tk.t.Actions {
		c, drv := p.change(j, i, a)
		st, err := applyAction(ctx, drv, c, p.boundary)
		if err != nil {
			return err
		}
		j.observed = append(j.observed, st)
	}
	return nil
}

// applyAction is the one way an action reaches a target, for an apply and
// for a heal (Drift): observe c, apply it only when the target does not
// already show it, and read it back. boundary names the steps around the
// write for fault tests. The errors name the action (c.Index) and target.
func applyAction(ctx context.Context, drv target.Driver, c target.Change, boundary func(string)) (target.State, error) {
	st, err := drv.Observe(ctx, c)
	if err != nil {
		return st, fmt.Errorf("action %d (%s): observing: %w", c.Index+1, c.TargetName, err)
	}
	if st.Done {
		return st, nil
	}
	boundary("before-apply")
	if st, err = drv.Apply(ctx, c); err != nil {
		return st, fmt.Errorf("action %d (%s): %w", c.Index+1, c.TargetName, err)
	}
	boundary("after-apply")
	if !st.Done {
		return st, fmt.Errorf("action %d (%s): %w: reads %s", c.Index+1, c.TargetName, target.ErrMismatch, st.Value)
	}
	return st, nil
}

// restore undoes j: the ticket's explicit rollback actions, or (by default,
// rollback.auto) each action's recorded previous state, last action first.
func (p *pass) restore(ctx context.Context, j *job) error {
	rb := j.tk.t.Rollback
	if rb != nil && len(rb.Actions) > 0 {
		for i, a := range rb.Actions {
			c, drv := p.change(j, 1000+i, a)
			if drv == nil {
				return fmt.Errorf("rollback action %d: no %s driver", i+1, a.Type)
			}
			st, err := drv.Observe(ctx, c)
			if err == nil && !st.Done {
				_, err = drv.Apply(ctx, c)
			}
			if err != nil {
				return fmt.Errorf("rollback action %d (%s): %w", i+1, a.Target, err)
			}
		}
		return nil
	}
	if rb != nil && rb.Auto != nil && !*rb.Auto {
		return errors.New("the ticket turns automatic rollback off and lists no rollback actions: restore by hand")
	}
	if len(j.previous) != len(j.tk.t.Actions) {
		return fmt.Errorf("the applying event recorded %d previous states for %d actions: restore by hand", len(j.previous), len(j.tk.t.Actions))
	}
	var errs []string
	for i := len(j.tk.t.Actions) - 1; i >= 0; i-- {
		c, drv := p.change(j, i, j.tk.t.Actions[i])
		if err := drv.Restore(ctx, c, j.previous[i]); err != nil {
			errs = append(errs, fmt.Sprintf("action %d (%s) back to %s: %v", i+1, c.TargetName, j.previous[i].Value, err))
		}
		p.boundary("after-restore")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// prometheus is env's default Prometheus server.
func (p *pass) prometheus(env string) string { return p.cfg.Environments[env].Prometheus }

// parallel runs f on each job with at most Workers at once.
func (p *pass) parallel(ctx context.Context, jobs []*job, f func(context.Context, *job)) {
	sem := make(chan struct{}, p.r.o.Workers)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(ctx, j)
		}()
	}
	wg.Wait()
}

// dryRun reports what the decisions would do, observing targets but
// recording and changing nothing.
func (p *pass) dryRun(ctx context.Context, ds []decision) {
	for _, d := range ds {
		st := Step{Ticket: d.tk.id, Env: d.env, Kind: "plan"}
		j := &job{decision: d}
		switch o := d.out.(type) {
		case ready, resume:
			if r, ok := o.(resume); ok {
				if r.applying != nil {
					j.applySeq = r.applying.Seq
				}
				switch r.phase {
				case phaseVerify:
					st.Reason = "run the postchecks of an unfinished apply"
				case phaseRollback:
					st.Reason = "roll back a failed apply"
				default:
					st.Reason = "resume an unfinished apply"
				}
				if r.phase != phaseApply {
					break
				}
			}
			for i, a := range d.tk.t.Actions {
				c, drv := p.change(j, i, a)
				o, err := drv.Observe(ctx, c)
				switch {
				case err != nil:
					st.Changes = append(st.Changes, plan.Describe(a, "(unobservable: "+err.Error()+")"))
				case o.Done:
					st.Changes = append(st.Changes, plan.Describe(a, o.Value)+" (already done)")
				default:
					st.Changes = append(st.Changes, plan.Describe(a, o.Value))
				}
			}
		default:
			n := p.settleDecision(j)
			if n == nil {
				continue // a wait recorded already
			}
			st.Kind, st.Cause, st.Reason = n.kind, n.data.Cause, n.data.Reason
		}
		p.emit(st)
	}
}
