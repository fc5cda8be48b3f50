package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema"
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
	for id, st := range log.States {
		if !slices.Contains(slices.Collect(maps.Values(st.Envs)), ledger.KindVerified) {
			continue
		}
		if tk, _ := fromSigned(log, id); tk != nil {
			tickets = append(tickets, tk)
		}
	}
	slices.SortFunc(tickets, func(a, b *ticket) int { return strings.Compare(a.id, b.id) })
	if err := r.loader.verify(ctx, log, tickets); err != nil {
		return rep, err
	}
	content := map[string]schema.Ticket{}
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
	for _, ev := range recorded {
		st := Step{Ticket: ev.Ticket, Env: ev.Env, Kind: ev.Kind, Reason: string(ev.Data)}
		rep.Recorded = append(rep.Recorded, st)
		if r.o.Observer != nil {
			r.o.Observer.Step(st)
		}
	}
	return rep, r.saveCheckpoint()
}
