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
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/schema"
)

// job is one ticket-environment being worked on in a round.
type job struct {
	decision
	// seq of the applying event (the idempotency key's part).
	applySeq int
	previous []target.State
	changes  []string
	started  time.Time
	// outcome of the current phase: err is why it failed, and
	// unobservable says a target could not be read (not a rule's verdict).
	err          error
	unobservable bool
	observed     []target.State
}

// claimsPerWorker is the default of Options.MaxClaims per worker.
const claimsPerWorker = 32

// next is an event to record for a job, if the ticket is still where the
// job saw it.
type next struct {
	j    *job
	kind string
	data eventData
	// err marks a wait caused by an error.
	err bool
}

// execute carries out the decisions of one round and reports whether
// anything was recorded.
func (p *pass) execute(ctx context.Context, ds []decision) (bool, error) {
	var first []next
	var fresh, applying, applied, failed []*job
	for _, d := range ds {
		j := &job{decision: d}
		switch d.do {
		case doRecord:
			first = append(first, next{j: j, kind: d.kind, data: eventData{Reason: d.reason}, err: d.err})
		case doApply:
			fresh = append(fresh, j)
		case doResumeApplying, doResumeApplied, doResumeFailed:
			data := decodeData(d.applying)
			j.previous, j.changes, j.started = data.Previous, data.Changes, p.now
			if d.applying != nil {
				j.applySeq = d.applying.Seq
			}
			switch d.do {
			case doResumeApplying:
				applying = append(applying, j)
			case doResumeApplied:
				applied = append(applied, j)
			default:
				failed = append(failed, j)
			}
		}
	}

	// One change per resource at a time: what is in flight holds its
	// resources, and of two fresh changes to one resource the first goes
	// first. The rest wait for a later round, as they do beyond the
	// claim limit (so that concurrent reconcilers share the work).
	busy := map[string]bool{}
	for _, j := range append(append(append([]*job(nil), applying...), applied...), failed...) {
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
	fresh = ready

	// Prechecks and the state before, for fresh applies.
	p.parallel(ctx, fresh, func(ctx context.Context, j *job) {
		if len(j.tk.t.Prechecks) > 0 {
			if p.r.o.Checks == nil {
				j.err = errors.New("prechecks: this reconciler has no checker")
				return
			}
			if err := p.r.o.Checks(ctx, Pre, j.tk.t.Prechecks, p.prometheus(j.env)); err != nil {
				j.err = fmt.Errorf("prechecks failed: %w", err)
				return
			}
		}
		for i := range j.tk.t.Actions {
			c, drv := p.change(j, i, j.tk.t.Actions[i])
			st, err := drv.Observe(ctx, c)
			if err != nil {
				j.err, j.unobservable = fmt.Errorf("observing %s before applying: %w", c.TargetName, err), true
				return
			}
			j.previous = append(j.previous, st)
			j.changes = append(j.changes, describe(c.Action, st.Value))
		}
	})
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var claims []*job
	for _, j := range fresh {
		if j.err != nil {
			reason := j.err.Error()
			switch {
			case !p.repeats(j.tk.id, j.env, ledger.KindScheduled, reason):
				first = append(first, next{j: j, kind: ledger.KindScheduled, data: eventData{Reason: reason}, err: j.unobservable})
			case j.unobservable:
				p.emitOnce(Step{Ticket: j.tk.id, Env: j.env, Kind: ledger.KindScheduled, Reason: reason, Error: true})
			}
			p.r.o.Logger.Info("waiting", "ticket", j.tk.id, "env", j.env, "reason", reason)
			continue
		}
		j.started = time.Now()
		first = append(first, next{j: j, kind: ledger.KindApplying,
			data: eventData{Instance: p.r.o.Instance, Previous: j.previous, Changes: j.changes}})
		claims = append(claims, j)
	}
	recorded, err := p.record(ctx, first, "claim")
	if err != nil {
		return false, err
	}
	// Lost claims mean another reconciler moved on: plan again.
	progressed := len(recorded) > 0 || len(recorded) < len(first)
	for _, j := range claims {
		if recorded[j] {
			applying = append(applying, j)
		}
	}

	// Apply (or finish applying), then record applied or failed.
	p.parallel(ctx, applying, func(ctx context.Context, j *job) { j.err = p.apply(ctx, j) })
	if err := ctx.Err(); err != nil {
		return progressed, err
	}
	var outcomes []next
	for _, j := range applying {
		if j.err != nil {
			outcomes = append(outcomes, next{j: j, kind: ledger.KindFailed, data: eventData{Reason: j.err.Error(), Observed: j.observed}})
			continue
		}
		outcomes = append(outcomes, next{j: j, kind: ledger.KindApplied, data: eventData{Observed: j.observed}})
	}
	if recorded, err = p.record(ctx, outcomes, "applied"); err != nil {
		return progressed, err
	}
	for _, o := range outcomes {
		if !recorded[o.j] {
			continue
		}
		if o.kind == ledger.KindApplied {
			applied = append(applied, o.j)
		} else {
			failed = append(failed, o.j)
		}
	}

	// Postchecks, then verified or failed.
	p.parallel(ctx, applied, func(ctx context.Context, j *job) {
		j.err = nil
		if len(j.tk.t.Postchecks) == 0 {
			return
		}
		if p.r.o.Checks == nil {
			j.err = errors.New("postchecks: this reconciler has no checker")
			return
		}
		if err := p.r.o.Checks(ctx, Post, j.tk.t.Postchecks, p.prometheus(j.env)); err != nil {
			j.err = fmt.Errorf("postchecks failed: %w", err)
		}
	})
	if err := ctx.Err(); err != nil {
		return progressed, err
	}
	outcomes = outcomes[:0]
	for _, j := range applied {
		if j.err != nil {
			outcomes = append(outcomes, next{j: j, kind: ledger.KindFailed, data: eventData{Reason: j.err.Error()}})
		} else {
			outcomes = append(outcomes, next{j: j, kind: ledger.KindVerified})
		}
	}
	if recorded, err = p.record(ctx, outcomes, "verified"); err != nil {
		return progressed, err
	}
	for _, o := range outcomes {
		if recorded[o.j] && o.kind == ledger.KindFailed {
			failed = append(failed, o.j)
		}
	}

	// Roll back what failed.
	p.parallel(ctx, failed, func(ctx context.Context, j *job) { j.err = p.restore(ctx, j) })
	if err := ctx.Err(); err != nil {
		return progressed, err
	}
	outcomes = outcomes[:0]
	for _, j := range failed {
		if j.err != nil {
			p.r.o.Logger.Error("ROLLBACK FAILED: a human is needed", "ticket", j.tk.id, "env", j.env, "err", j.err)
			outcomes = append(outcomes, next{j: j, kind: ledger.KindRollbackFailed, data: eventData{Reason: j.err.Error()}})
		} else {
			outcomes = append(outcomes, next{j: j, kind: ledger.KindRolledBack})
		}
	}
	if _, err = p.record(ctx, outcomes, "rolled-back"); err != nil {
		return progressed, err
	}
	return progressed || len(applying)+len(applied)+len(failed) > 0, nil
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
	// What was recorded: steps in order, each ticket's seq moving on.
	for _, s := range steps {
		if !kept[s.j] {
			continue
		}
		s.j.seq++
		if s.kind == ledger.KindApplying {
			s.j.applySeq = s.j.seq
		}
		st := Step{Ticket: s.j.tk.id, Env: s.j.env, Kind: s.kind, Reason: s.data.Reason, Changes: s.data.Changes, Error: s.err}
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
	p.r.o.Logger.Info("step", "ticket", st.Ticket, "env", st.Env, "kind", st.Kind, "reason", st.Reason)
}

// emitOnce reports a step that is not recorded (a repeated wait), once a
// pass.
func (p *pass) emitOnce(st Step) {
	for _, s := range p.sum.Steps {
		if s.Ticket == st.Ticket && s.Env == st.Env && s.Kind == st.Kind && s.Reason == st.Reason {
			return
		}
	}
	p.emit(st)
}

func (p *pass) boundary(name string) {
	if p.r.o.Boundary != nil {
		p.r.o.Boundary(name)
	}
}

// change is action i of j as a driver sees it.
func (p *pass) change(j *job, i int, a schema.Action) (target.Change, target.Driver) {
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
		st, err := drv.Observe(ctx, c)
		if err != nil {
			return fmt.Errorf("action %d (%s): observing: %w", i+1, c.TargetName, err)
		}
		if !st.Done {
			p.boundary("before-apply")
			if st, err = drv.Apply(ctx, c); err != nil {
				return fmt.Errorf("action %d (%s): %w", i+1, c.TargetName, err)
			}
			p.boundary("after-apply")
			if !st.Done {
				return fmt.Errorf("action %d (%s): %w: reads %s", i+1, c.TargetName, target.ErrMismatch, st.Value)
			}
		}
		j.observed = append(j.observed, st)
	}
	return nil
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
		st := Step{Ticket: d.tk.id, Env: d.env}
		switch d.do {
		case doRecord:
			st.Kind, st.Reason = d.kind, d.reason
		case doApply, doResumeApplying:
			st.Kind = "plan"
			if d.do == doResumeApplying {
				st.Reason = "resume an unfinished apply"
			}
			j := &job{decision: d}
			if d.applying != nil {
				j.applySeq = d.applying.Seq
			}
			for i, a := range d.tk.t.Actions {
				c, drv := p.change(j, i, a)
				o, err := drv.Observe(ctx, c)
				switch {
				case err != nil:
					st.Changes = append(st.Changes, describe(a, "(unobservable: "+err.Error()+")"))
				case o.Done:
					st.Changes = append(st.Changes, describe(a, o.Value)+" (already done)")
				default:
					st.Changes = append(st.Changes, describe(a, o.Value))
				}
			}
		case doResumeApplied:
			st.Kind, st.Reason = "plan", "run the postchecks of an unfinished apply"
		case doResumeFailed:
			st.Kind, st.Reason = "plan", "roll back a failed apply"
		}
		p.emit(st)
	}
}
