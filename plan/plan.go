package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/validate"
)

// DefaultTimeout bounds each observation of a target.
const DefaultTimeout = 20 * time.Second

// Options configure Make.
type Options struct {
	// Config is the configuration whose targets are observed: on a pull
	// request, the base cab.cue.
	Config *model.Config
	// Drivers observe targets, by type (oci, git, http). A type without a
	// driver is "unknown".
	Drivers map[string]target.Driver
	// Now is when the plan is made: the earliest possible apply.
	Now time.Time
	// Timeout bounds each observation (default DefaultTimeout).
	Timeout time.Duration
}

// Action states.
const (
	// StateChange: the target holds another value; the apply changes it.
	StateChange = "change"
	// StateCreate: the target holds nothing yet; the apply creates it.
	StateCreate = "create"
	// StateNoop: the target already is as the action wants it.
	StateNoop = "no-op"
	// StateUnknown: the target could not be read (Why says why).
	StateUnknown = "unknown"
)

// Plan is what a set of tickets would change.
type Plan struct {
	Tickets []Ticket `json:"tickets"`
}

// Ticket is the plan of one ticket, environment by environment in
// promotion order.
type Ticket struct {
	ID       string    `json:"id"`
	File     string    `json:"file,omitempty"`
	Envs     []Env     `json:"environments"`
	Problems []Problem `json:"problems,omitempty"`
}

// Env is what a ticket would change in one environment.
type Env struct {
	Name    string   `json:"name"`
	Actions []Action `json:"actions"`
}

// Action is what one action would change.
type Action struct {
	Index int    `json:"index"`
	Type  string `json:"type"`
	// Target is the target's name in cab.cue; Subject what within it.
	Target  string `json:"target"`
	Subject string `json:"subject"`
	// State is one of StateChange, StateCreate, StateNoop, StateUnknown.
	State string `json:"state"`
	From  string `json:"from,omitempty"`
	To    string `json:"to"`
	// Why is why the state is unknown.
	Why string `json:"why,omitempty"`
	// Diff is a small diff of a git value (- from, + to).
	Diff string `json:"diff,omitempty"`
	// Call is the webhook an http action would call.
	Call *Call `json:"call,omitempty"`
	// Line is the action in one line (Describe).
	Line string `json:"line"`
}

// Call is a webhook call.
type Call struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   string `json:"body,omitempty"`
}

// Problem is something the plan found that would make the apply fail.
type Problem struct {
	// Severity is error for what fails the apply whatever the credentials
	// (a window a freeze closes), warning for what the reconciler's own
	// credentials may still read (a target refusing the plan's).
	Severity diag.Severity `json:"severity"`
	Env      string        `json:"env,omitempty"`
	Target   string        `json:"target,omitempty"`
	Message  string        `json:"message"`
	Hint     string        `json:"hint,omitempty"`
}

// Problems counts the problems of every ticket.
func (p *Plan) Problems() int {
	n := 0
	for _, t := range p.Tickets {
		n += len(t.Problems)
	}
	return n
}

// Diagnostics are the problems as diagnostics of the tickets' files (code
// "plan"), for the gate's report.
func (p *Plan) Diagnostics() diag.List {
	var out diag.List
	for _, t := range p.Tickets {
		for _, pr := range t.Problems {
			out = append(out, diag.Diagnostic{File: t.File, Path: "environments", Severity: pr.Severity,
				Code: "plan", Message: pr.Message, Hint: pr.Hint})
		}
	}
	return out
}

// Inputs are the tickets of a gate's report that parsed, to plan.
func Inputs(rep *validate.Report) ([]Input, error) {
	var in []Input
	for _, r := range rep.Tickets {
		if r.JSON == nil {
			continue
		}
		var t model.Ticket
		if err := json.Unmarshal(r.JSON, &t); err != nil {
			return nil, fmt.Errorf("decoding ticket %s: %w", r.File, err)
		}
		in = append(in, Input{File: r.File, Ticket: t})
	}
	return in, nil
}

// Input is one ticket to plan, with the file it came from.
type Input struct {
	File   string
	Ticket model.Ticket
}

// Make observes the target of every action of every ticket in every
// environment, in promotion order, and says what the apply would change.
// It never fails: what it cannot read is unknown, and problems are
// listed per ticket.
func Make(ctx context.Context, o Options, in []Input) *Plan {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	cal, calErr := calendar.New(configFreezes(o.Config))
	p := &Plan{Tickets: []Ticket{}}
	for _, it := range in {
		t := Ticket{ID: it.Ticket.ID, File: it.File, Envs: []Env{}}
		for _, env := range it.Ticket.Environments {
			e, probs := o.env(ctx, it.Ticket, env)
			t.Envs = append(t.Envs, e)
			t.Problems = append(t.Problems, probs...)
			if calErr == nil {
				t.Problems = append(t.Problems, closedByFreeze(it.Ticket, env, cal, o.Now)...)
			}
		}
		p.Tickets = append(p.Tickets, t)
	}
	return p
}

func configFreezes(c *model.Config) []model.Freeze {
	if c == nil {
		return nil
	}
	return c.Freezes
}

// env plans one ticket in one environment.
func (o Options) env(ctx context.Context, t model.Ticket, env string) (Env, []Problem) {
	e := Env{Name: env, Actions: []Action{}}
	var probs []Problem
	var envCfg model.Environment
	ok := false
	if o.Config != nil {
		envCfg, ok = o.Config.Environments[env]
	}
	for i, a := range t.Actions {
		act := Action{Index: i, Type: a.Type, Target: a.Target, Subject: Subject(a), To: To(a)}
		tg, declared := envCfg.Targets[a.Target]
		if a.Type == "http" {
			act.Call = call(a, tg)
		}
		unknown := func(why string) {
			act.State, act.Why = StateUnknown, why
			act.Line = Describe(a, "unknown ("+why+")")
		}
		switch {
		case !ok:
			unknown("environment not declared in the base cab.cue")
			probs = append(probs, Problem{Severity: diag.Error, Env: env, Message: fmt.Sprintf("environment %q is not declared in the base cab.cue", env)})
		case !declared || tg.Type != a.Type:
			unknown("target not declared in the base cab.cue")
			probs = append(probs, Problem{Severity: diag.Error, Env: env, Target: a.Target,
				Message: fmt.Sprintf("no %s target %q for %s in the base cab.cue", a.Type, a.Target, env),
				Hint:    "targets come from the base branch; declare the target in its own pull request first"})
		case o.Drivers[a.Type] == nil:
			unknown("no " + a.Type + " driver")
		default:
			st, err := o.observe(ctx, target.Change{Ticket: t.ID, Env: env, Index: i, Action: a, Target: tg, TargetName: a.Target})
			if err != nil {
				unknown(brief(err))
				if Unreadable(err) {
					probs = append(probs, Problem{Severity: diag.Warning, Env: env, Target: a.Target,
						Message: "the reconciler cannot read target " + a.Target + ": " + brief(err),
						Hint:    "check the reconciler's credentials for the target and that it exists"})
				}
				break
			}
			if !st.Done {
				if sr, ok := o.Drivers[a.Type].(target.SourceReader); ok {
					if err := o.readSource(ctx, sr, target.Change{Ticket: t.ID, Env: env, Index: i, Action: a, Target: tg, TargetName: a.Target}); err != nil {
						probs = append(probs, Problem{Severity: diag.Warning, Env: env, Target: a.Target,
							Message: "the reconciler cannot read the source of " + a.Target + ": " + brief(err),
							Hint:    "check that the image exists and the reconciler's credentials can read its registry"})
					}
				}
			}
			act.From = st.Value
			switch {
			case st.Done:
				act.State = StateNoop
			case st.Value == target.Absent || st.Value == "":
				act.State = StateCreate
			default:
				act.State = StateChange
			}
			act.Line = Describe(a, st.Value)
			if a.Type == "git" && act.State != StateNoop {
				act.Diff = "- " + st.Value + "\n+ " + act.To + "\n"
			}
		}
		e.Actions = append(e.Actions, act)
	}
	return e, probs
}

// observe reads one target within the plan's time bound.
func (o Options) observe(ctx context.Context, c target.Change) (target.State, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	st, err := o.Drivers[c.Action.Type].Observe(ctx, c)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return st, err
}

// readSource checks a source within the plan's time bound.
func (o Options) readSource(ctx context.Context, sr target.SourceReader, c target.Change) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	return sr.ReadSource(ctx, c)
}

// call is the webhook an http action would call.
func call(a model.Action, tg model.Target) *Call {
	m := a.Method
	if m == "" {
		m = http.MethodPost
	}
	return &Call{Method: m, URL: strings.TrimSuffix(tg.URL, "/") + a.Path, Body: string(a.Body)}
}

// Unreadable reports whether err says the target refuses the credentials
// or does not exist (an apply would fail the same way), as opposed to a
// target that could not be reached (which may answer at apply time).
func Unreadable(err error) bool {
	var te *gcrtransport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
	}
	return errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrRepositoryNotFound)
}

// brief is the first line of err, bounded.
func brief(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// closedByFreeze flags a window a freeze closes before the earliest
// possible apply: from max(now, window start), every freeze covering the
// moment (for a ticket that is not an emergency) pushes it to the freeze's
// end. A window that closed already is the gate's own error.
func closedByFreeze(t model.Ticket, env string, cal calendar.Calendar, now time.Time) []Problem {
	if t.Kind == "emergency" {
		return nil
	}
	start, err1 := time.Parse(time.RFC3339, t.Window.Start)
	end, err2 := time.Parse(time.RFC3339, t.Window.End)
	if err1 != nil || err2 != nil || !now.Before(end) {
		return nil
	}
	at := start
	if now.After(at) {
		at = now
	}
	var by []string
	for range cal.Len() + 1 { // each freeze can push it once
		active := cal.Active(at, []string{env})
		if len(active) == 0 {
			break
		}
		for _, s := range active {
			if s.End.After(at) {
				at = s.End
			}
			by = append(by, s.Name)
		}
	}
	if len(by) == 0 || at.Before(end) {
		return nil
	}
	return []Problem{{Severity: diag.Error, Env: env, Message: fmt.Sprintf("the window closes at %s, before the earliest possible apply in %s at %s (freeze %s)",
		end.UTC().Format(time.RFC3339), env, at.UTC().Format(time.RFC3339), strings.Join(by, ", ")),
		Hint: "move the window after the freeze"}}
}
