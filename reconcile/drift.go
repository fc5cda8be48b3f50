package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

// DriftReport is what one drift check found, and the events it recorded.
type DriftReport struct {
	Findings []drift.Finding `json:"findings"`
	// Recorded are the drifted and drift-cleared events recorded (none in
	// a dry run).
	Recorded []Step `json:"recorded,omitempty"`
	// Problems are verified tickets whose content could not be verified
	// again: their keys are not checked.
	Problems   []LedgerProblem `json:"problems,omitempty"`
	LedgerHead string          `json:"ledgerHead"`
}

// Drifted counts the findings that drifted.
func (d *DriftReport) Drifted() int {
	n := 0
	for _, f := range d.Findings {
		if f.Drifted {
			n++
		}
	}
	return n
}

// Drift compares every (environment, target, key) a verified ticket last
// set with what its target holds now (each observation bounded by
// timeout), and records a signed drifted event when one differs, once per
// drift, and drift-cleared when it holds its value again (package drift).
// It changes no target. With Options.DryRun it records nothing.
func (r *Reconciler) Drift(ctx context.Context, timeout time.Duration) (*DriftReport, error) {
	rep := &DriftReport{Findings: []drift.Finding{}}
	if err := r.fetchMain(ctx); err != nil {
		return rep, err
	}
	cfg, err := r.config()
	if err != nil {
		return rep, err
	}
	if err := r.trustOutcomes(cfg); err != nil {
		return rep, err
	}
	log, err := r.o.Ledger.Read(ctx)
	if err != nil {
		return rep, fmt.Errorf("reading the ledger: %w", err)
	}
	var tickets []*ticket
	for id, st := range log.States() {
		if !slices.Contains(slices.Collect(maps.Values(st.Envs)), ledger.KindVerified) {
			continue
		}
		if ev := signedEvent(log, id); ev != nil {
			tickets = append(tickets, ticketOf(ev))
		}
	}
	slices.SortFunc(tickets, func(a, b *ticket) int { return strings.Compare(a.id, b.id) })
	if err := r.loader.verify(ctx, log, tickets); err != nil {
		return rep, err
	}
	content := map[string]model.Ticket{}
	for _, tk := range tickets {
		switch {
		case tk.problem != "":
			rep.Problems = append(rep.Problems, LedgerProblem{Ticket: tk.id, What: "unverified", Message: tk.problem})
		case tk.wait != nil:
			rep.Problems = append(rep.Problems, LedgerProblem{Ticket: tk.id, What: "unverified", Message: tk.wait.reason})
		default:
			content[tk.id] = tk.t
		}
	}
	rep.Findings = drift.Check(ctx, cfg, r.o.Drivers, timeout, drift.Settings(log, content))
	rep.LedgerHead = log.Head.String()
	if r.o.DryRun {
		return rep, nil
	}
	var recorded []ledger.Event
	log, err = r.o.Ledger.Update(ctx, func(log *ledger.Log) ([]ledger.Event, error) {
		recorded = nil
		for _, ev := range drift.Events(log, rep.Findings) {
			if log.State(ev.Ticket).Envs[ev.Env] != ledger.KindVerified {
				continue // moved on since
			}
			ev.Actor = r.o.Instance
			recorded = append(recorded, ev)
		}
		return recorded, nil
	})
	if err != nil {
		return rep, fmt.Errorf("recording drift: %w", err)
	}
	rep.LedgerHead = log.Head.String()
	r.reportDrift(rep, recorded)
	if r.o.Heal {
		if err := r.heal(ctx, cfg, log, rep); err != nil {
			return rep, err
		}
	}
	return rep, r.saveCheckpoint()
}

// reportDrift adds the recorded drift events to rep and tells the
// observer.
func (r *Reconciler) reportDrift(rep *DriftReport, recorded []ledger.Event) {
	for _, ev := range recorded {
		st := Step{Ticket: ev.Ticket, Env: ev.Env, Kind: ev.Kind, Seq: ev.Seq, Reason: string(ev.Data)}
		rep.Recorded = append(rep.Recorded, st)
		if r.o.Observer != nil {
			r.o.Observer.Step(st)
		}
	}
}

// heal restores each drifted key of rep whose environment allows it
// (cab.cue's drift policy), no freeze holds and no change is in flight
// in: it applies the action of the ticket that last set the key through
// applyAction, the apply path of the reconciler, with the seq of the open
// drifted event in the change (so an http target's idempotency key is not
// the original apply's), and records a signed drift-cleared event with
// healed: true. A heal that fails, or is not allowed, says why in the
// finding and records nothing: the drift stays open.
//
// The ledger already allows the record: drift-cleared follows an open
// drifted in a verified environment and leaves it verified, so a heal
// needs no new kind or transition; a crash between the write and the
// record leaves the key holding its value, which the next check records
// as a plain drift-cleared.
func (r *Reconciler) heal(ctx context.Context, cfg *model.Config, log *ledger.Log, rep *DriftReport) error {
	cal, err := calendar.New(cfg.Freezes)
	if err != nil {
		return err
	}
	now := r.o.Now()
	var healed []drift.Finding
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if !f.Drifted || f.Unknown != "" {
			continue
		}
		seq, open := drift.OpenDrift(log, f.Ticket, f.Env, f.Index)
		env := cfg.Environments[f.Env]
		switch {
		case !open:
			f.NotHealed = "the drift is not recorded on the ledger"
		case env.HealRefusal() != "":
			f.NotHealed = env.HealRefusal()
		case len(cal.Active(now, []string{f.Env})) > 0:
			s := cal.Active(now, []string{f.Env})[0]
			f.NotHealed = fmt.Sprintf("freeze %q until %s", s.Name, s.End.UTC().Format(time.RFC3339))
		case applyingIn(log, f.Env) != "":
			f.NotHealed = applyingIn(log, f.Env) + " is being applied in " + f.Env
		}
		if f.NotHealed != "" {
			continue
		}
		c := target.Change{Ticket: f.Ticket, Env: f.Env, Seq: seq, Index: f.Index, Action: f.Action,
			Target: env.Targets[f.Target], TargetName: f.Target, Commit: f.Commit}
		st, err := applyAction(ctx, r.o.Drivers[f.Action.Type], c, r.boundary)
		if err != nil {
			f.NotHealed = "healing: " + err.Error()
			r.o.Logger.Warn("heal failed", "ticket", f.Ticket, "env", f.Env, "target", f.Target, "key", f.Key, "err", err)
			continue
		}
		f.Live = st.Value
		healed = append(healed, *f)
	}
	if len(healed) == 0 {
		return nil
	}
	var recorded []ledger.Event
	log, err = r.o.Ledger.Update(ctx, func(log *ledger.Log) ([]ledger.Event, error) {
		recorded = nil
		for _, f := range healed {
			if _, open := drift.OpenDrift(log, f.Ticket, f.Env, f.Index); !open || log.State(f.Ticket).Envs[f.Env] != ledger.KindVerified {
				continue // cleared or moved on since
			}
			ev := drift.Healed(f, f.Live)
			ev.Actor = r.o.Instance
			recorded = append(recorded, ev)
		}
		return recorded, nil
	})
	if err != nil {
		return fmt.Errorf("recording heals: %w", err)
	}
	rep.LedgerHead = log.Head.String()
	for i := range rep.Findings {
		f := &rep.Findings[i]
		for _, h := range healed {
			if h.Env == f.Env && h.Target == f.Target && h.Key == f.Key {
				f.Drifted, f.Healed = false, true
			}
		}
	}
	r.reportDrift(rep, recorded)
	return nil
}

// applyingIn names a ticket with an apply in flight in env ("" when
// none): a heal waits for it rather than write under it.
func applyingIn(log *ledger.Log, env string) string {
	ids := slices.Sorted(maps.Keys(log.States()))
	for _, id := range ids {
		switch log.States()[id].Envs[env] {
		case ledger.KindApplying, ledger.KindApplied, ledger.KindFailed:
			return id
		}
	}
	return ""
}
