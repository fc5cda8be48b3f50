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

// job is one ticket-environment being worked on in a round: its decision
// and what the phases it went through learnt, for the phases after them.
type job struct {
	decision
	// applySeq is the seq of the applying event (the idempotency key's
	// part); previous and changes are the state observed before the apply
	// and the words for each action, recorded in it (a rollback restores
	// previous).
	applySeq int
	previous []target.State
	changes  []string
	// started is when the apply started (Step.Duration).
	started time.Time
}

// claimsPerWorker is the default of Options.MaxClaims per worker.
const claimsPerWorker = 32

// entry is a result to record for a job, if the ticket is still where the
// job saw it.
type entry struct {
	j   *job
	out result
}

// wait reports whether e records a wait: recording it is not progress.
func (e entry) wait() bool { _, ok := e.out.(blocked); return ok }

// phase is one step of a round, as data. Every phase is the same cycle,
// run by one loop (execute): run does the work for each job that reached
// the phase (in parallel, at most Workers at once) and returns its typed
// result; the results are collected (a wait recorded already is dropped)
// and recorded by one compare-and-swap; and each job whose result is
// recorded is routed to the phase whose after is that result's event kind
// (none: it is done for the round).
type phase struct {
	// name names the boundary after its events are recorded
	// ("after-"+name).
	name string
	// after is the event kind that leads a job here: recorded in this
	// round, or the last event of an apply resumed after a crash or a
	// lease ("": only the decisions of the round lead here).
	after string
	// resuming is what a dry run says of an apply resumed here.
	resuming string
	// run does the phase for one job and returns what to record (nil:
	// nothing).
	run func(p *pass, ctx context.Context, j *job) result
}

// The phases, in the order they run.
const (
	phaseClaim = iota
	phaseApply
	phaseVerify
	phaseRollback
	numPhases
)

// phases are the steps of a round (a table: never modified). The claim
// phase also records the decisions that need no work (waits, set-asides,
// readmissions), with the claims, in one compare-and-swap.
var phases = [numPhases]phase{
	phaseClaim:    {name: "claim", run: (*pass).claim},
	phaseApply:    {name: "applied", after: ledger.KindApplying, resuming: "resume an unfinished apply", run: (*pass).apply},
	phaseVerify:   {name: "verified", after: ledger.KindApplied, resuming: "run the postchecks of an unfinished apply", run: (*pass).postchecks},
	phaseRollback: {name: "rolled-back", after: ledger.KindFailed, resuming: "roll back a failed apply", run: (*pass).rollback},
}

// leadsTo is the phase a job goes on to once an event of kind is recorded
// for it (false: it is done for the round); an apply whose last event is
// of kind resumes there too.
func leadsTo(kind string) (int, bool) {
	for i, ph := range phases {
		if ph.after != "" && ph.after == kind {
			return i, true
		}
	}
	return 0, false
}

// execute carries out the decisions of one round and reports whether it
// made progress: recorded something other than a wait, or found that
// another reconciler moved a ticket it meant to move.
func (p *pass) execute(ctx context.Context, ds []decision) (bool, error) {
	queues := p.route(ds)
	progressed := false
	for i, ph := range phases {
		jobs := queues[i]
		outs := make([]result, len(jobs))
		p.parallel(ctx, jobs, func(ctx context.Context, k int, j *job) { outs[k] = ph.run(p, ctx, j) })
		if err := ctx.Err(); err != nil {
			return progressed, err
		}
		entries := p.collect(jobs, outs)
		kept, err := p.record(ctx, entries, ph.name)
		if err != nil {
			return progressed, err
		}
		for _, e := range entries {
			if !kept[e.j] {
				progressed = true // another reconciler moved the ticket: plan again
				continue
			}
			progressed = progressed || !e.wait()
			if to, ok := leadsTo(e.out.kind()); ok {
				queues[to] = append(queues[to], e.j)
			}
		}
	}
	return progressed, nil
}

// route puts each decision in the queue of the phase it starts at: an
// unfinished apply where it resumes, everything else at the claim — the
// decisions that need no work first, then the fresh applies admit lets
// start.
func (p *pass) route(ds []decision) [numPhases][]*job {
	var queues [numPhases][]*job
	var fresh, resumed []*job
	for _, d := range ds {
		j := &job{decision: d}
		switch o := d.out.(type) {
		case ready:
			fresh = append(fresh, j)
		case resume:
			p.resumeJob(j, o)
			queues[o.phase] = append(queues[o.phase], j)
			resumed = append(resumed, j)
		default:
			queues[phaseClaim] = append(queues[phaseClaim], j)
		}
	}
	queues[phaseClaim] = append(queues[phaseClaim], p.admit(fresh, resumed)...)
	return queues
}

// resumeJob fills in j, an apply resumed, from the applying event that
// started it.
func (p *pass) resumeJob(j *job, o resume) {
	data := decodeData(o.applying)
	j.previous, j.changes, j.started = data.Previous, data.Changes, p.now
	if o.applying != nil {
		j.applySeq = o.applying.Seq
	}
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

// collect pairs each job with what its phase found, leaving out what
// records nothing: no result, or a wait recorded already.
func (p *pass) collect(jobs []*job, outs []result) []entry {
	var entries []entry
	for k, j := range jobs {
		out := outs[k]
		if b, ok := out.(blocked); ok && !p.newWait(j, b) {
			continue
		}
		if out != nil {
			entries = append(entries, entry{j: j, out: out})
		}
	}
	return entries
}

// settled is what a decision that needs no work records: a wait, a
// set-aside, a readmission (nil for ready and resume).
func settled(o outcome) result {
	switch o := o.(type) {
	case waiting:
		return o.blocked()
	case result:
		return o
	}
	return nil
}

// newWait reports whether b is a new wait for j, to record: false when a
// wait for the same cause is on the ledger already — the words may have
// changed (an error body, a burn rate), the wait has not. A repeated wait
// caused by an error is still reported, once a pass.
func (p *pass) newWait(j *job, b blocked) bool {
	p.r.o.Logger.Info("waiting", "ticket", j.tk.id, "env", j.env, "cause", b.cause, "reason", b.reason)
	if !p.recorded(j.tk.id, j.env, b.cause) {
		return true
	}
	if b.cause.isError() {
		p.emitOnce(Step{Ticket: j.tk.id, Env: j.env, Kind: ledger.KindScheduled, Cause: string(b.cause), Reason: b.reason, Error: true})
	}
	return false
}

// claim is the claim phase: what a decision that needs no work records,
// or for a fresh apply applying, with the state observed before, or the
// wait that holds it.
func (p *pass) claim(ctx context.Context, j *job) result {
	if _, ok := j.out.(ready); !ok {
		return settled(j.out)
	}
	if b := p.prepare(ctx, j); b != nil {
		return *b
	}
	j.started = time.Now()
	return claimed{instance: p.r.o.Instance, previous: j.previous, changes: j.changes,
		burn: p.burnRate(ctx, j.tk.t.Service, j.env, true)}
}

// prepare runs the prechecks of a fresh apply and observes the state
// before (j.previous, j.changes); what stops it is a wait, never a
// failure.
func (p *pass) prepare(ctx context.Context, j *job) *blocked {
	if len(j.tk.t.Prechecks) > 0 {
		var err error
		if p.r.o.Checks == nil {
			err = errors.New("prechecks: this reconciler has no checker")
		} else if err = p.r.o.Checks(ctx, Pre, j.tk.t.Prechecks, p.prometheus(j.env)); err != nil {
			err = fmt.Errorf("prechecks failed: %w", err)
		}
		if err != nil {
			return &blocked{cause: newCause(causePrechecks, j.env), reason: err.Error()}
		}
	}
	for i := range j.tk.t.Actions {
		c, drv := p.change(j, i, j.tk.t.Actions[i])
		st, err := drv.Observe(ctx, c)
		if err != nil {
			err = fmt.Errorf("observing %s before applying: %w", c.TargetName, err)
			return &blocked{cause: newCause(causeTargetUnreadable, j.env, c.TargetName), reason: err.Error()}
		}
		j.previous = append(j.previous, st)
		j.changes = append(j.changes, plan.Describe(c.Action, st.Value))
	}
	return nil
}

// postchecks is the verify phase: it runs the postchecks of an applied
// change, then reads the service's burn rate afresh for the outcome event
// (M10).
func (p *pass) postchecks(ctx context.Context, j *job) result {
	err := p.runPostchecks(ctx, j)
	var burn *ledger.BurnRate
	if ctx.Err() == nil {
		burn = p.burnRate(ctx, j.tk.t.Service, j.env, false)
	}
	if err != nil {
		return failed{step: stepPostchecks, err: err, burn: burn}
	}
	return verified{burn: burn}
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

// rollback is the rollback phase: rolled-back, or rollback-failed — a
// human is needed.
func (p *pass) rollback(ctx context.Context, j *job) result {
	if err := p.restore(ctx, j); err != nil {
		p.r.o.Logger.Error("ROLLBACK FAILED: a human is needed", "ticket", j.tk.id, "env", j.env, "err", err)
		return rollbackFailed{err: err}
	}
	return rolledBack{}
}

// record appends the events of entries by one compare-and-swap, leaving
// out any whose ticket moved since it was planned (another reconciler
// acted), and then reports each event recorded (emit: the Observer, and
// through it notifications, hear of an event only once the ledger holds
// it). It returns the jobs whose events were recorded.
func (p *pass) record(ctx context.Context, entries []entry, boundary string) (map[*job]bool, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	var kept map[*job]bool
	_, err := p.r.o.Ledger.Update(ctx, func(log *ledger.Log) ([]ledger.Event, error) {
		kept = map[*job]bool{}
		var events []ledger.Event
		seqs := map[string]int{}
		for _, e := range entries {
			st := log.State(e.j.tk.id)
			if _, seen := seqs[e.j.tk.id]; !seen {
				if st.Seq != e.j.seq {
					continue // moved since planned
				}
				seqs[e.j.tk.id] = st.Seq
			}
			seqs[e.j.tk.id]++
			ev := ledger.Event{Ticket: e.j.tk.id, Env: e.j.env, Kind: e.out.kind(), Seq: seqs[e.j.tk.id],
				Actor: p.r.o.Instance, Commit: e.j.tk.commit, Data: encodeData(e.out.data())}
			events = append(events, ev)
			kept[e.j] = true
		}
		return events, nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording on the ledger: %w", err)
	}
	p.bound.written += len(kept)
	// What was recorded: entries in order, each ticket's seq moving on.
	for _, e := range entries {
		if !kept[e.j] {
			continue
		}
		e.j.seq++
		if _, ok := e.out.(claimed); ok {
			e.j.applySeq = e.j.seq
		}
		p.emit(p.stepOf(e))
	}
	p.boundary("after-" + boundary)
	return kept, nil
}

// stepOf is the step that reports e, recorded.
func (p *pass) stepOf(e entry) Step {
	d := e.out.data()
	st := Step{Ticket: e.j.tk.id, Env: e.j.env, Kind: e.out.kind(), Seq: e.j.seq, Cause: d.Cause, Reason: d.Reason, Changes: d.Changes}
	switch o := e.out.(type) {
	case blocked:
		st.Error = o.cause.isError()
	case applied, failed:
		st.Duration = time.Since(e.j.started)
	}
	return st
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

// apply is the apply phase: it makes each action that the target does
// not already show; an apply being resumed after a crash observes first
// and never repeats what landed.
func (p *pass) apply(ctx context.Context, j *job) result {
	var observed []target.State
	for i, a := range j.tk.t.Actions {
		c, drv := p.change(j, i, a)
		st, err := applyAction(ctx, drv, c, p.boundary)
		if err != nil {
			return failed{step: stepApply, err: err, observed: observed}
		}
		observed = append(observed, st)
	}
	return applied{observed: observed}
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

// parallel runs f on each job (and its index) with at most Workers at
// once.
func (p *pass) parallel(ctx context.Context, jobs []*job, f func(context.Context, int, *job)) {
	sem := make(chan struct{}, p.r.o.Workers)
	var wg sync.WaitGroup
	for k, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(ctx, k, j)
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
		case ready:
			st.Changes = p.observeAll(ctx, j)
		case resume:
			p.resumeJob(j, o)
			st.Reason = phases[o.phase].resuming
			if o.phase == phaseApply {
				st.Changes = p.observeAll(ctx, j)
			}
		default:
			es := p.collect([]*job{j}, []result{settled(o)})
			if len(es) == 0 {
				continue // a wait recorded already
			}
			d := es[0].out.data()
			st.Kind, st.Cause, st.Reason = es[0].out.kind(), d.Cause, d.Reason
		}
		p.emit(st)
	}
}

// observeAll says what each action of j would change, as its target shows
// now.
func (p *pass) observeAll(ctx context.Context, j *job) []string {
	var changes []string
	for i, a := range j.tk.t.Actions {
		c, drv := p.change(j, i, a)
		o, err := drv.Observe(ctx, c)
		switch {
		case err != nil:
			changes = append(changes, plan.Describe(a, "(unobservable: "+err.Error()+")"))
		case o.Done:
			changes = append(changes, plan.Describe(a, o.Value)+" (already done)")
		default:
			changes = append(changes, plan.Describe(a, o.Value))
		}
	}
	return changes
}
