package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema"
)

// what a decision asks for.
type what int

const (
	// doRecord records a scheduled, expired or quarantined event.
	doRecord what = iota
	// doApply starts a fresh apply: prechecks, observe, claim, apply.
	doApply
	// doResumeApplying finishes an apply that has no outcome yet.
	doResumeApplying
	// doResumeApplied runs the postchecks of an apply that has no verdict.
	doResumeApplied
	// doResumeFailed restores after a failure that has no rollback yet.
	doResumeFailed
)

// decision is what one ticket needs in one environment now.
type decision struct {
	tk  *ticket
	env string // "" for a ticket-wide record
	do  what
	// kind and reason of a doRecord; err marks a wait caused by an error.
	kind, reason string
	err          bool
	// seq is the ticket's last sequence number when planned: a step is
	// recorded only if nobody moved the ticket since.
	seq int
	// applying is the event that started an apply being resumed.
	applying *ledger.Event
}

// pass is one round of a reconcile pass.
type pass struct {
	r   *Reconciler
	cfg *schema.Config
	cal calendar.Calendar
	log *ledger.Log
	now time.Time
	sum *Summary
	// burn caches the error-budget verdict per service for the round.
	burn map[string]burnVerdict
	// inFlight are ticket-environments another reconciler is applying:
	// they hold their resources.
	inFlight []decision
}

// plan decides, for each ticket, what its next environment needs.
func (p *pass) plan(ctx context.Context, tickets []*ticket) []decision {
	var out []decision
	for _, tk := range tickets {
		st := p.log.State(tk.id)
		if tk.problem != "" {
			out = append(out, decision{tk: tk, do: doRecord, kind: ledger.KindQuarantined, reason: tk.problem, seq: st.Seq})
			continue
		}
		for i, env := range tk.t.Environments {
			d, next := p.step(ctx, tk, st, i, env)
			if d != nil {
				d.seq = st.Seq
				if d.do == doRecord && p.repeats(tk.id, env, d.kind, d.reason) {
					if d.err {
						p.emitOnce(Step{Ticket: tk.id, Env: env, Kind: d.kind, Reason: d.reason, Error: true})
					}
					d = nil
				}
			}
			if d != nil {
				out = append(out, *d)
			}
			if !next {
				break
			}
		}
	}
	return out
}

// step decides for one environment; next reports whether the following
// environments may be looked at too (they may not while this one is not
// verified).
func (p *pass) step(ctx context.Context, tk *ticket, st ledger.TicketState, i int, env string) (d *decision, next bool) {
	rec := func(kind, reason string) *decision {
		return &decision{tk: tk, env: env, do: doRecord, kind: kind, reason: reason}
	}
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
		applying := p.applyingEvent(tk.id, env)
		do := map[string]what{ledger.KindApplying: doResumeApplying, ledger.KindApplied: doResumeApplied, ledger.KindFailed: doResumeFailed}[state]
		return &decision{tk: tk, env: env, do: do, applying: applying}, false
	}

	// Fresh (or scheduled): the gates, cheapest first.
	start, errS := time.Parse(time.RFC3339, tk.t.Window.Start)
	end, errE := time.Parse(time.RFC3339, tk.t.Window.End)
	if errS != nil || errE != nil {
		return rec(ledger.KindQuarantined, "unreadable window"), false
	}
	if !p.now.Before(end) {
		return rec(ledger.KindExpired, "the window closed at "+end.UTC().Format(time.RFC3339)+" before the change could apply"), false
	}
	if i > 0 {
		prev := tk.t.Environments[i-1]
		switch k := st.Envs[prev]; {
		case k == ledger.KindVerified:
		case terminal(k):
			return rec(ledger.KindQuarantined, fmt.Sprintf("not promoted: %s ended %s", prev, k)), false
		default:
			return nil, false // waits for its own promotion
		}
	}
	if p.now.Before(start) {
		return rec(ledger.KindScheduled, "waiting for the window to open at "+start.UTC().Format(time.RFC3339)), false
	}
	envCfg, ok := p.cfg.Environments[env]
	if !ok {
		return rec(ledger.KindQuarantined, fmt.Sprintf("environment %q is not declared in cab.cue", env)), false
	}
	for _, a := range tk.t.Actions {
		tg, ok := envCfg.Targets[a.Target]
		switch {
		case !ok:
			return rec(ledger.KindQuarantined, fmt.Sprintf("target %q is not declared for %s in cab.cue", a.Target, env)), false
		case tg.Type != a.Type:
			return rec(ledger.KindQuarantined, fmt.Sprintf("target %q of %s is of type %s, the action is %s", a.Target, env, tg.Type, a.Type)), false
		case p.r.o.Drivers[a.Type] == nil:
			return rec(ledger.KindQuarantined, fmt.Sprintf("this reconciler has no %s driver", a.Type)), false
		}
	}
	if reason, dead := p.dependencies(tk, env); reason != "" {
		if dead {
			return rec(ledger.KindQuarantined, reason), false
		}
		return rec(ledger.KindScheduled, reason), false
	}
	emergency := tk.t.Kind == "emergency"
	if !emergency {
		for _, s := range p.cal {
			if s.Contains(p.now) && s.Applies([]string{env}) {
				return rec(ledger.KindScheduled, fmt.Sprintf("freeze %q until %s", s.Name, s.End.UTC().Format(time.RFC3339))), false
			}
		}
		if reason, failed := p.errorBudget(ctx, tk.t.Service, envCfg); reason != "" {
			d := rec(ledger.KindScheduled, reason)
			d.err = failed
			return d, false
		}
	}
	return &decision{tk: tk, env: env, do: doApply}, false
}

// dependencies returns why tk cannot apply in env yet because of its
// dependsOn, and whether it never will (a dependency failed for good).
func (p *pass) dependencies(tk *ticket, env string) (reason string, dead bool) {
	for _, dep := range tk.t.DependsOn {
		st := p.log.State(dep)
		switch st.Status {
		case "":
			return "waiting for " + dep + " to be merged and signed", false
		case ledger.KindSigned:
		default:
			return fmt.Sprintf("dependency %s is %s", dep, st.Status), true
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
				return fmt.Sprintf("dependency %s ended %s in %s", dep, k, e), true
			default:
				return fmt.Sprintf("waiting for %s to be verified in %s", dep, e), false
			}
		}
	}
	return "", false
}

// envsOf returns the environments a signed ticket's statement names.
func (p *pass) envsOf(id string) []string {
	for _, ev := range p.log.Ticket(id) {
		if ev.Kind == ledger.KindSigned {
			return envelopeEnvironments(ev.Envelope)
		}
	}
	return nil
}

// errorBudget returns why service must wait for its error budget ("" when
// it need not), and whether that is because the budget could not be read:
// a query that cannot be answered holds changes too.
func (p *pass) errorBudget(ctx context.Context, service string, env schema.Environment) (string, bool) {
	svc, ok := p.cfg.Services[service]
	if !ok || svc.BurnRate == nil {
		return "", false
	}
	server := svc.BurnRate.Server
	if server == "" {
		server = env.Prometheus
	}
	key := service + "\x00" + server
	if r, ok := p.burn[key]; ok {
		return r.reason, r.failed
	}
	reason, failed := "", true
	switch {
	case p.r.o.Query == nil:
		reason = "error budget: no Prometheus client configured"
	case server == "":
		reason = "error budget: no Prometheus server for " + service
	default:
		v, err := p.r.o.Query(ctx, server, svc.BurnRate.Query)
		switch {
		case err != nil:
			reason = "error budget unknown (holding changes): " + err.Error()
		case v > svc.BurnRate.Threshold:
			reason, failed = fmt.Sprintf("error budget burning: %s = %g, above %g", svc.BurnRate.Query, v, svc.BurnRate.Threshold), false
		}
	}
	p.burn[key] = burnVerdict{reason, failed && reason != ""}
	return reason, failed && reason != ""
}

// burnVerdict is an error-budget answer cached for a round.
type burnVerdict struct {
	reason string
	failed bool
}

// repeats reports whether the last event of id in env already says this.
func (p *pass) repeats(id, env, kind, reason string) bool {
	ev := p.lastEvent(id, env)
	return ev.Kind == kind && decodeData(&ev).Reason == reason
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

// describe renders what an action does, for plans and the ledger.
func describe(a schema.Action, from string) string {
	switch a.Type {
	case "oci":
		to := a.Image
		if i := strings.LastIndexByte(to, '@'); i >= 0 {
			to = to[i+1:]
		}
		return fmt.Sprintf("oci %s:%s %s → %s", a.Target, a.Tag, from, to)
	case "git":
		switch {
		case a.Set != nil:
			return fmt.Sprintf("git %s:%s %s: %s → %v", a.Target, a.File, a.Set.Path, from, a.Set.Value)
		case a.KustomizeImage != nil:
			return fmt.Sprintf("git %s:%s image %s: %s → %s", a.Target, a.File, a.KustomizeImage.Name, from, a.KustomizeImage.Digest)
		}
		return fmt.Sprintf("git %s:%s %s", a.Target, a.File, from)
	default:
		return fmt.Sprintf("%s %s%s %s → (webhook call)", a.Type, a.Target, a.Path, from)
	}
}

// resources names what each action of t changes in env, so that two
// changes to one resource never run at once (schema.Action.Resource is the
// one definition, shared with the gate's conflict check).
func resources(t schema.Ticket, env string) []string { return t.Resources(env) }
