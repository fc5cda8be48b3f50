package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
)

// decision is what one ticket needs in one environment now.
type decision struct {
	tk  *ticket
	env string // "" for the ticket as a whole
	// seq is the ticket's last sequence number when planned: a step is
	// recorded only if nobody moved the ticket since.
	seq int
	out outcome
}

// pass is one round of a reconcile pass.
type pass struct {
	r   *Reconciler
	cfg *model.Config
	cal calendar.Calendar
	log *ledger.Log
	now time.Time
	sum *Summary
	// burn caches the error-budget reading and verdict per service and
	// server for the round; burnMu guards it (prepare reads it in
	// parallel).
	burn   map[string]budget
	burnMu sync.Mutex
	// inFlight are ticket-environments another reconciler is applying:
	// they hold their resources.
	inFlight []decision
	// bound counts the events recorded, for the pass's bounds.
	bound *bound
}

// plan decides, for each ticket, what its next environment needs.
func (p *pass) plan(ctx context.Context, tickets []*ticket) []decision {
	var out []decision
	for _, tk := range tickets {
		st := p.log.State(tk.id)
		if o := p.whole(tk, st); o != nil {
			out = append(out, decision{tk: tk, seq: st.Seq, out: o})
			continue
		}
		if st.Status != ledger.KindSigned {
			continue // set aside, and the reason still holds
		}
		for i, env := range tk.t.Environments {
			o, next := p.step(ctx, tk, st, i, env)
			if o != nil {
				out = append(out, decision{tk: tk, env: env, seq: st.Seq, out: o})
			}
			if !next {
				break
			}
		}
	}
	return out
}

// whole decides for the ticket as a whole; nil leaves it to each
// environment. A ticket set aside for a cause that has gone (its merge
// commit is here now) is readmitted; one whose merge commit is still
// missing waits for it, readmitted as scheduled.
func (p *pass) whole(tk *ticket, st ledger.TicketState) outcome {
	aside := st.Status == ledger.KindQuarantined
	switch {
	case tk.problem != "" && aside:
		return nil // set aside already
	case tk.problem != "":
		return quarantined{reason: tk.problem}
	case tk.wait != nil:
		return *tk.wait
	case aside:
		return readmit{cause: setAside(p.log, tk.id)}
	}
	return nil
}

// step decides for one environment; next reports whether the following
// environments may be looked at too (they may not while this one is not
// verified).
func (p *pass) step(ctx context.Context, tk *ticket, st ledger.TicketState, i int, env string) (o outcome, next bool) {
	quarantine := func(reason string) (outcome, bool) { return quarantined{reason: reason}, false }
	state := st.Envs[env]
	switch state {
	case ledger.KindVerified:
		return nil, true
	case ledger.KindRolledBack, ledger.KindRollbackFailed, ledger.KindExpired, ledger.KindQuarantined:
		return nil, true // the next environment is set aside in turn
	case ledger.KindApplying, ledger.KindApplied, ledger.KindFailed:
		last := p.lastEvent(tk.id, env)
		if last.Actor != p.r.o.Instance && p.now.Sub(last.At) < p.r.o.Lease {
			p.inFlight = append(p.inFlight, decision{tk: tk, env: env})
			return nil, false // another reconciler is at it
		}
		ph, _ := leadsTo(state) // where the apply left off
		return resume{phase: ph, applying: p.applyingEvent(tk.id, env)}, false
	}

	// Fresh (or scheduled): the gates, cheapest first.
	start, errS := time.Parse(time.RFC3339, tk.t.Window.Start)
	end, errE := time.Parse(time.RFC3339, tk.t.Window.End)
	if errS != nil || errE != nil {
		return quarantine("unreadable window")
	}
	if !p.now.Before(end) {
		return expired{reason: "the window closed at " + end.UTC().Format(time.RFC3339) + " before the change could apply"}, false
	}
	if i > 0 {
		prev := tk.t.Environments[i-1]
		switch k := st.Envs[prev]; {
		case k == ledger.KindVerified:
		case terminal(k):
			return quarantine(fmt.Sprintf("not promoted: %s ended %s", prev, k))
		default:
			return nil, false // waits for its own promotion
		}
	}
	if p.now.Before(start) {
		return waiting{until: start}, false
	}
	envCfg, ok := p.cfg.Environments[env]
	if !ok {
		return quarantine(fmt.Sprintf("environment %q is not declared in cab.cue", env))
	}
	for _, a := range tk.t.Actions {
		tg, ok := envCfg.Targets[a.Target]
		switch {
		case !ok:
			return quarantine(fmt.Sprintf("target %q is not declared for %s in cab.cue", a.Target, env))
		case tg.Type != a.Type:
			return quarantine(fmt.Sprintf("target %q of %s is of type %s, the action is %s", a.Target, env, tg.Type, a.Type))
		case p.r.o.Drivers[a.Type] == nil:
			return quarantine(fmt.Sprintf("this reconciler has no %s driver", a.Type))
		}
	}
	if o := p.dependencies(tk, env); o != nil {
		return o, false
	}
	if tk.t.Kind != "emergency" {
		if active := p.cal.Active(p.now, []string{env}); len(active) > 0 {
			s := active[0]
			return blocked{cause: newCause(causeFreeze, s.Name),
				reason: fmt.Sprintf("freeze %q until %s", s.Name, s.End.UTC().Format(time.RFC3339))}, false
		}
		if b := p.errorBudget(ctx, tk.t.Service, envCfg); b != nil {
			return *b, false
		}
	}
	return ready{}, false
}

// dependencies returns what tk's dependsOn make of it in env: blocked
// while one is not verified there yet, quarantined when one never will
// be, nil when they are all verified.
func (p *pass) dependencies(tk *ticket, env string) outcome {
	for _, dep := range tk.t.DependsOn {
		st := p.log.State(dep)
		switch {
		case st.Status == "":
			return blocked{cause: newCause(causeDependency, dep), reason: "waiting for " + dep + " to be merged and signed"}
		case st.Status == ledger.KindSigned:
		case st.Status == ledger.KindQuarantined && setAside(p.log, dep) != "":
			// Set aside for a cause that may go: it is judged again.
			return blocked{cause: newCause(causeDependency, dep), reason: fmt.Sprintf("waiting for %s, set aside until it is judged again", dep)}
		default:
			return quarantined{reason: fmt.Sprintf("dependency %s is %s", dep, st.Status)}
		}
		envs := []string{env}
		if _, ok := st.Envs[env]; !ok {
			// The dependency does not (yet) touch env: all of it first.
			if deps := p.envsOf(dep); !slices.Contains(deps, env) {
				envs = deps
			}
		}
		for _, e := range envs {
			switch k := st.Envs[e]; {
			case k == ledger.KindVerified:
			case terminal(k):
				return quarantined{reason: fmt.Sprintf("dependency %s ended %s in %s", dep, k, e)}
			default:
				return blocked{cause: newCause(causeDependency, dep, e), reason: fmt.Sprintf("waiting for %s to be verified in %s", dep, e)}
			}
		}
	}
	return nil
}

// envsOf returns the environments a signed ticket's statement names.
func (p *pass) envsOf(id string) []string {
	if ev := signedEvent(p.log, id); ev != nil {
		return p.r.stmts.of(id, ev.Envelope)
	}
	return nil
}

// budget is one reading of a service's error budget: the burn rate read
// (nil when it could not be) and what it holds (nil: nothing).
type budget struct {
	read *ledger.BurnRate
	hold *blocked
}

// errorBudget returns what holds service because of its error budget (nil
// when nothing does): a burn rate above the threshold, or one that cannot
// be read — a query that cannot be answered holds changes too. The burn
// rate is in the words, not in the cause: a new value is no new wait.
func (p *pass) errorBudget(ctx context.Context, service string, env model.Environment) *blocked {
	return p.budget(ctx, service, env, true).hold
}

// burnRate is service's burn rate for the record of an apply in env (nil
// when cab.cue gives the service no burnRate, or it cannot be read): the
// reading of this round when cached is true (the one the budget gate
// judged just before, so no second query), a fresh one otherwise (at
// postcheck).
func (p *pass) burnRate(ctx context.Context, service, env string, cached bool) *ledger.BurnRate {
	return p.budget(ctx, service, p.cfg.Environments[env], cached).read
}

// budget reads service's burn rate on its server in env, from the
// round's cache when cached (and then keeps it there).
func (p *pass) budget(ctx context.Context, service string, env model.Environment, cached bool) budget {
	svc, ok := p.cfg.Services[service]
	if !ok || svc.BurnRate == nil {
		return budget{}
	}
	server := svc.BurnRate.Server
	if server == "" {
		server = env.Prometheus
	}
	key := service + "\x00" + server
	if cached {
		p.burnMu.Lock()
		b, ok := p.burn[key]
		p.burnMu.Unlock()
		if ok {
			return b
		}
	}
	unreadable := func(reason string) budget {
		return budget{hold: &blocked{cause: newCause(causeBudgetUnreadable, service), reason: reason}}
	}
	var b budget
	switch {
	case p.r.o.Query == nil:
		b = unreadable("error budget: no Prometheus client configured")
	case server == "":
		b = unreadable("error budget: no Prometheus server for " + service)
	default:
		at := p.r.o.Now()
		v, err := p.r.o.Query(ctx, server, svc.BurnRate.Query)
		if err != nil {
			b = unreadable("error budget unknown (holding changes): " + err.Error())
			break
		}
		b.read = &ledger.BurnRate{Value: v, Query: svc.BurnRate.Query, Server: server, At: at.UTC()}
		if v > svc.BurnRate.Threshold {
			b.hold = &blocked{cause: newCause(causeBudget, service),
				reason: fmt.Sprintf("error budget burning: %s = %g, above %g", svc.BurnRate.Query, v, svc.BurnRate.Threshold)}
		}
	}
	if cached {
		p.burnMu.Lock()
		p.burn[key] = b
		p.burnMu.Unlock()
	}
	return b
}

// recorded reports whether a wait for c was recorded for id in env
// (ticket-wide when env is ""): a wait is recorded once per cause.
func (p *pass) recorded(id, env string, c cause) bool {
	for _, ev := range p.log.Ticket(id) {
		if ev.Env == env && ev.Kind == ledger.KindScheduled && decodeData(&ev).Cause == string(c) {
			return true
		}
	}
	return false
}

// lastEvent is the last event of id in env (ticket-wide when env is "").
func (p *pass) lastEvent(id, env string) ledger.Event {
	var last ledger.Event
	for _, ev := range p.log.Ticket(id) {
		if ev.Env == env {
			last = ev
		}
	}
	return last
}

// applyingEvent is the applying event that started the current apply.
func (p *pass) applyingEvent(id, env string) *ledger.Event {
	var out *ledger.Event
	for _, ev := range p.log.Ticket(id) {
		if ev.Env == env && ev.Kind == ledger.KindApplying {
			out = &ev
		}
	}
	return out
}

// resources names what each action of t changes in env, so that two
// changes to one resource never run at once (model.Action.Resource is the
// one definition, shared with the gate's conflict check).
func resources(t model.Ticket, env string) []string { return t.Resources(env) }
