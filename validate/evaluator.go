package validate

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
)

// File is a file's repository-relative (or user-given) name and content.
type File = load.File

// Job is everything one evaluation needs besides the tickets: it is what a
// sandboxed child receives.
type Job struct {
	// Config is cab.cue, or nil outside a change repository.
	Config   *File         `json:"config,omitempty"`
	Policies []File        `json:"policies"`
	Mode     policy.Mode   `json:"mode"`
	Now      time.Time     `json:"now"`
	Review   *model.Review `json:"review,omitempty"`
	// ChangedFiles are passed to policies as input.changedFiles.
	ChangedFiles []string `json:"changedFiles,omitempty"`
	// Skip names policies left out (they blew their budget before).
	Skip []string `json:"skip,omitempty"`
	// Open are the merged tickets with open windows, for conflict
	// detection (pull-request mode).
	Open []Open `json:"open,omitempty"`
	// Isolate evaluates the policies one by one, each traced by name,
	// rather than all at once (faster, but a budget blown inside cannot
	// be pinned on one policy).
	Isolate bool `json:"isolate,omitempty"`
}

// Result is the verdict on one ticket file.
type Result struct {
	File string `json:"file"`
	// ID, Service and the references are set when the ticket parsed.
	ID         string   `json:"id,omitempty"`
	Service    string   `json:"service,omitempty"`
	DependsOn  []string `json:"dependsOn,omitempty"`
	Supersedes string   `json:"supersedes,omitempty"`
	Cancels    string   `json:"cancels,omitempty"`
	// PostReviewOf is the emergency whose review the ticket records.
	PostReviewOf string    `json:"postReviewOf,omitempty"`
	Diags        diag.List `json:"diagnostics,omitempty"`
	// JSON is the ticket's canonical JSON export, when it parsed: the bytes
	// a signature covers. A byte slice, not json.RawMessage, so that it
	// crosses the child's pipe exactly (RawMessage would be re-escaped).
	JSON []byte `json:"json,omitempty"`
	// positions of reference fields, for repo-wide diagnostics.
	Positions map[string][2]int `json:"positions,omitempty"`
}

// Evaluator checks tickets against the schema, the configuration and the
// policies, in process, within one cue.Context. It is not safe for
// concurrent use: give each goroutine its own. Run it on untrusted input
// only inside a sandboxed child (see Run).
type Evaluator struct {
	schema   *schema.Schema
	config   *schema.ParsedConfig
	calendar calendar.Calendar
	policies *policy.Set
	// compiled is policies before the shared input was bound.
	compiled *policy.Set
	job      Job
	// Trace, if set, is called with the step about to run: "schema",
	// "policies" or, with Job.Isolate, each policy file's name. A sandbox parent uses it to name what blew a budget.
	Trace func(step string)
	// Setup holds problems with the configuration and the policies.
	Setup diag.List
	// readsNow is set when a policy may read input.now (policy.MayReadNow).
	readsNow bool
	// sharedFacts is the sha256 of the shared policy input as a verdict
	// depends on it: without now unless a policy may read it (see facts).
	sharedFacts []byte
}

// NewEvaluator compiles the schema, the configuration and the policies of
// job. Problems with them are in Setup; the evaluator still checks
// tickets against what compiled. trace, if not nil, becomes e.Trace and
// also sees the setup steps ("config", then each policy).
func NewEvaluator(job Job, trace func(step string)) (*Evaluator, error) {
	return newEvaluator(job, prepare(job, trace), load.New(), trace)
}

// prepared is the configuration of a job, validated once and shared, read
// only, by every evaluator of a child.
type prepared struct {
	config   *schema.ParsedConfig
	calendar calendar.Calendar
	setup    diag.List
}

// prepare validates the configuration of job in a context of its own.
func prepare(job Job, trace func(step string)) *prepared {
	p := &prepared{}
	if job.Config == nil {
		return p
	}
	if trace != nil {
		trace(stepConfig)
	}
	cfg, ds, err := load.New().Parse(*job.Config)
	if err != nil {
		p.setup = diag.List{{File: job.Config.Name, Severity: diag.Error, Code: "internal", Message: err.Error()}}
		return p
	}
	p.setup = ds
	if cfg == nil {
		return p
	}
	p.config = cfg
	cal, err := calendar.New(cfg.Config.Freezes)
	if err != nil {
		d := diag.Diagnostic{File: job.Config.Name, Line: 1, Column: 1, Severity: diag.Error, Code: "config",
			Message: err.Error(), Hint: "fix freezes: in cab.cue"}
		var fe *calendar.FreezeError
		if errors.As(err, &fe) {
			d.Path = fmt.Sprintf("freezes.%d.%s", fe.Index, fe.Field)
			d.Line, d.Column = cfg.Position(fmt.Sprintf("freezes[%d].%s", fe.Index, fe.Field))
		}
		p.setup = append(p.setup, d)
	}
	p.calendar = cal
	return p
}

// newEvaluator sets up an evaluator with l's schema. An evaluator runs on
// one goroutine and owns l's cue.Context: each worker holds its own Loader.
func newEvaluator(job Job, prep *prepared, l *load.Loader, trace func(step string)) (*Evaluator, error) {
	s, err := l.Schema()
	if err != nil {
		return nil, err
	}
	e := &Evaluator{schema: s, job: job, Trace: trace, config: prep.config, calendar: prep.calendar}
	e.Setup = append(e.Setup, prep.setup...)
	var files []policy.File
	for _, f := range job.Policies {
		if !slices.Contains(job.Skip, f.Name) {
			files = append(files, policy.File{Name: f.Name, Source: f.Source})
		}
	}
	e.readsNow = policy.MayReadNow(files)
	set, ds := policy.Compile(s.Context(), files, trace)
	e.Setup = append(e.Setup, ds...)
	e.compiled = set
	if err := e.bind(); err != nil {
		return nil, err
	}
	e.Setup = e.Setup.Sort()
	return e, nil
}

// bind fills the parts of the policy input shared by every ticket (mode,
// time, calendar) from e.job into the compiled policies.
func (e *Evaluator) bind() error {
	job := e.job
	in := policy.Shared{
		Mode:     job.Mode,
		Now:      job.Now.UTC().Format(time.RFC3339),
		Calendar: policy.SharedCalendar{Freezes: freezes(e.calendar.Listing(job.Now, job.Now.AddDate(1, 0, 0)))},
	}
	shared, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding policy input: %w", err)
	}
	if !e.readsNow {
		in.Now = ""
	}
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding policy input: %w", err)
	}
	sum := sha256.Sum256(b)
	e.sharedFacts = sum[:]
	if e.policies, err = e.compiled.Bind(shared); err != nil {
		return err
	}
	return nil
}

// Context is what differs between the changes one evaluation judges
// together: several merges judged by the same rules (see CheckPRs) share
// the compiled schema, configuration and policies, and each ticket is
// checked in the context of its own change.
type Context struct {
	Now          time.Time     `json:"now"`
	Review       *model.Review `json:"review,omitempty"`
	ChangedFiles []string      `json:"changedFiles,omitempty"`
	Open         []Open        `json:"open,omitempty"`
}

// contextOf is the context a job gives its tickets.
func contextOf(job Job) Context {
	return Context{Now: job.Now, Review: job.Review, ChangedFiles: job.ChangedFiles, Open: job.Open}
}

// CheckIn validates one ticket file in context c: as if the evaluator's
// job had c's time, review, changed files and open tickets.
func (e *Evaluator) CheckIn(f File, c Context) (Result, error) {
	rebind := !c.Now.Equal(e.job.Now)
	e.job.Now, e.job.Review, e.job.ChangedFiles, e.job.Open = c.Now, c.Review, c.ChangedFiles, c.Open
	if rebind {
		if err := e.bind(); err != nil {
			return Result{}, err
		}
	}
	return e.Check(f), nil
}

func freezes(c []calendar.Span) []policy.Freeze {
	out := []policy.Freeze{}
	for _, s := range c {
		envs := s.Environments
		if envs == nil {
			envs = []string{}
		}
		out = append(out, policy.Freeze{
			Name: s.Name, Reason: s.Reason,
			Start: s.Start.UTC().Format(time.RFC3339), End: s.End.UTC().Format(time.RFC3339),
			EndInclusive: s.EndInclusive, Timezone: s.Timezone, Environments: envs,
		})
	}
	return out
}

// Check validates one ticket file.
func (e *Evaluator) Check(f File) Result {
	r, _ := e.check(f)
	return r
}

// check is Check that also returns the time-derived facts the verdict was
// made with, when the policies ran to the end (see facts).
func (e *Evaluator) check(f File) (Result, *facts) {
	r := Result{File: f.Name}
	e.trace(stepSchema)
	p, ds := e.schema.ParseTicket(f.Name, f.Source)
	if p == nil {
		r.Diags = ds
		return r, nil
	}
	t := p.Ticket
	r.JSON = p.JSON
	r.ID, r.Service, r.DependsOn, r.Supersedes, r.Cancels = t.ID, t.Service, t.DependsOn, t.Supersedes, t.Cancels
	r.PostReviewOf = t.PostReviewOf
	r.Positions = map[string][2]int{}
	for _, k := range []string{"id", "dependsOn", "supersedes", "cancels", "service", "postReviewOf"} {
		l, c := p.Position(k)
		r.Positions[k] = [2]int{l, c}
	}
	for i := range t.DependsOn {
		k := fmt.Sprintf("dependsOn.%d", i)
		l, c := p.Position(k)
		r.Positions[k] = [2]int{l, c}
	}
	r.Diags = append(r.Diags, e.checkLayout(p)...)
	r.Diags = append(r.Diags, e.checkRefs(p)...)
	r.Diags = append(r.Diags, e.checkApplicable(p)...)
	repo, err := e.repoFor(t)
	if err != nil {
		r.Diags = append(r.Diags, internal(f.Name, err))
		return r, nil
	}
	in := policy.TicketInput{Ticket: p.JSON, Repo: repo, Review: e.job.Review, ChangedFiles: e.job.ChangedFiles}
	if in.ChangedFiles == nil {
		in.ChangedFiles = []string{}
	}
	in.Calendar = e.ticketCalendar(t)
	in.Conflicts = conflicts(t, e.job.Open)
	raw, err := json.Marshal(in)
	if err != nil {
		r.Diags = append(r.Diags, internal(f.Name, err))
		return r, nil
	}
	var findings []policy.Finding
	if e.job.Isolate {
		findings, err = e.policies.EvaluateEach(raw, e.trace)
	} else {
		e.trace(stepPolicies)
		findings, err = e.policies.Evaluate(raw)
	}
	if err != nil {
		r.Diags = append(r.Diags, internal(f.Name, err))
		return r, nil
	}
	for _, fd := range findings {
		l, c := p.Position(fd.Path)
		r.Diags = append(r.Diags, diag.Diagnostic{
			File: f.Name, Line: l, Column: c, Path: fd.Path, Severity: fd.Severity,
			Code: "policy", Message: fd.Message, Hint: fd.Hint, Rule: fd.Rule, ID: fd.ID,
		})
	}
	r.Diags = r.Diags.Sort()
	cal, err := json.Marshal(in.Calendar)
	if err != nil {
		return r, nil
	}
	return r, &facts{Window: window{Start: t.Window.Start, End: t.Window.End, Environments: t.Environments}, Calendar: cal, Shared: e.sharedFacts}
}

// repoFor returns the configuration as a policy sees it for ticket t:
// pruned to the entries t concerns (see policy.TicketInput.Repo).
func (e *Evaluator) repoFor(t model.Ticket) ([]byte, error) {
	if e.config == nil {
		return []byte("{}"), nil
	}
	cfg := e.config.Config
	out := model.Config{
		APIVersion: cfg.APIVersion, Repository: cfg.Repository, LedgerBranch: cfg.LedgerBranch,
		Promotion: cfg.Promotion, Environments: map[string]model.Environment{},
	}
	for _, env := range t.Environments {
		if v, ok := cfg.Environments[env]; ok {
			out.Environments[env] = v
		}
	}
	if svc, ok := cfg.Services[t.Service]; ok {
		out.Services = map[string]model.Service{t.Service: svc}
		for _, g := range []string{svc.Approvers, svc.Oncall} {
			if grp, ok := cfg.Approvers[g]; ok && g != "" {
				if out.Approvers == nil {
					out.Approvers = map[string]model.ApproverGroup{}
				}
				out.Approvers[g] = grp
			}
		}
	}
	if tmpl, ok := cfg.Templates[t.Template]; ok && t.Template != "" {
		out.Templates = map[string]model.Template{t.Template: tmpl}
	}
	if sla, ok := cfg.SLAFor(t.Service, t.Risk); ok {
		out.ApprovalSLA = &model.ApprovalSLA{
			Risk:   map[string]string{t.Risk: sla.Wait.String()},
			Backup: sla.Backup, EscalateAfter: sla.Escalate.String(),
		}
		if grp, ok := cfg.Approvers[sla.Backup]; ok && sla.Backup != "" {
			if out.Approvers == nil {
				out.Approvers = map[string]model.ApproverGroup{}
			}
			out.Approvers[sla.Backup] = grp
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding policy input: %w", err)
	}
	return b, nil
}

func (e *Evaluator) trace(step string) {
	if e.Trace != nil {
		e.Trace(step)
	}
}

func internal(file string, err error) diag.Diagnostic {
	return diag.Diagnostic{File: file, Severity: diag.Error, Code: "internal", Message: err.Error()}
}

func (e *Evaluator) ticketCalendar(t model.Ticket) policy.TicketCalendar {
	return e.calendarFor(window{Start: t.Window.Start, End: t.Window.End, Environments: t.Environments})
}

// window is what of a ticket its calendar facts are computed from.
type window struct {
	Start        string   `json:"start"`
	End          string   `json:"end"`
	Environments []string `json:"environments"`
}

// calendarFor computes the calendar facts of a ticket's window at the
// evaluator's time, and how long its review has waited.
func (e *Evaluator) calendarFor(w window) policy.TicketCalendar {
	tc := policy.TicketCalendar{Overlapping: []policy.Freeze{}}
	now := e.job.Now
	if r := e.job.Review; r != nil && r.OpenedAt != "" {
		// As CUE's time.ToUnix reads it; unparseable: left out, and a
		// policy that needs it fails to evaluate.
		if opened, err := time.Parse(time.RFC3339Nano, r.OpenedAt); err == nil {
			waited := (now.Unix() - opened.Unix()) * int64(time.Second)
			tc.ReviewWaited = &waited
		}
	}
	start, err1 := time.Parse(time.RFC3339, w.Start)
	end, err2 := time.Parse(time.RFC3339, w.End)
	if err1 != nil || err2 != nil {
		return tc // the schema already refused such a window
	}
	tc.WindowClosed = !now.Before(end)
	tc.WindowOpen = !now.Before(start) && now.Before(end)
	tc.Overlapping = freezes(e.calendar.Overlapping(start, end, w.Environments))
	return tc
}

// checkLayout enforces changes/<service>/<id>.cue for files inside a
// change repository.
func (e *Evaluator) checkLayout(p *schema.Parsed) diag.List {
	name := strings.ReplaceAll(p.File, "\\", "/")
	i := strings.LastIndex(name, "changes/")
	if e.job.Config == nil || i < 0 || (i > 0 && name[i-1] != '/') {
		return nil
	}
	dir := path.Dir(name[i+len("changes/"):])
	if dir == p.Ticket.Service {
		return nil
	}
	l, c := p.Position("service")
	return diag.List{{File: p.File, Line: l, Column: c, Path: "service", Severity: diag.Error, Code: "layout",
		Message: fmt.Sprintf("ticket of service %q is filed under changes/%s/", p.Ticket.Service, dir),
		Hint:    fmt.Sprintf("move it to changes/%s/%s.cue", p.Ticket.Service, p.Ticket.ID)}}
}

// checkRefs makes sure the environments and action targets of a ticket
// exist in cab.cue with the right types.
func (e *Evaluator) checkRefs(p *schema.Parsed) diag.List {
	if e.config == nil {
		return nil
	}
	cfg := e.config.Config
	var out diag.List
	add := func(path, msg, hint string) {
		l, c := p.Position(path)
		out = append(out, diag.Diagnostic{File: p.File, Line: l, Column: c, Path: path, Severity: diag.Error,
			Code: "config-ref", Message: msg, Hint: hint})
	}
	for i, env := range p.Ticket.Environments {
		if _, ok := cfg.Environments[env]; !ok {
			add(fmt.Sprintf("environments.%d", i), fmt.Sprintf("environment %q is not declared in cab.cue", env),
				"use one of: "+strings.Join(slices.Sorted(maps.Keys(cfg.Environments)), ", "))
		}
	}
	checkActions := func(prefix string, actions []model.Action) {
		for i, a := range actions {
			for _, env := range p.Ticket.Environments {
				envCfg, ok := cfg.Environments[env]
				if !ok {
					continue
				}
				tgt, ok := envCfg.Targets[a.Target]
				switch {
				case !ok:
					add(fmt.Sprintf("%s.%d.target", prefix, i), fmt.Sprintf("environment %q has no target %q", env, a.Target),
						fmt.Sprintf("declare environments: %s: targets: %s in cab.cue, or use one of: %s", env, a.Target, strings.Join(slices.Sorted(maps.Keys(envCfg.Targets)), ", ")))
				case tgt.Type != a.Type:
					add(fmt.Sprintf("%s.%d.type", prefix, i), fmt.Sprintf("target %q of environment %q is of type %q, not %q", a.Target, env, tgt.Type, a.Type),
						"use an action of the target's type")
				}
			}
		}
	}
	checkActions("actions", p.Ticket.Actions)
	if p.Ticket.Rollback != nil {
		checkActions("rollback.actions", p.Ticket.Rollback.Actions)
	}
	return out
}

// checkApplicable refuses what the schema allows but the reconciler would
// fail at apply time, so that it fails before merge instead: a prometheus
// check without a server to ask, a check that must hold longer than it may
// run, and an image whose registry is not named.
func (e *Evaluator) checkApplicable(p *schema.Parsed) diag.List {
	var out diag.List
	add := func(path, msg, hint string) {
		l, c := p.Position(path)
		out = append(out, diag.Diagnostic{File: p.File, Line: l, Column: c, Path: path, Severity: diag.Error,
			Code: "apply", Message: msg, Hint: hint})
	}
	t := p.Ticket
	for _, phase := range []struct {
		name   string
		checks []model.Check
		budget time.Duration
	}{{"prechecks", t.Prechecks, 0}, {"postchecks", t.Postchecks, model.DefaultCheckBudget}} {
		for i, c := range phase.checks {
			at := fmt.Sprintf("%s.%d", phase.name, i)
			if hold, err := time.ParseDuration(c.For); err == nil && hold > phase.budget {
				if phase.budget == 0 {
					add(at+".for", fmt.Sprintf("prechecks run once before the change, so for: %s can never be met", c.For),
						"remove for: from the precheck, or move the check to postchecks")
				} else {
					add(at+".for", fmt.Sprintf("for: %s is longer than the reconciler's check budget (%s), so the check can never pass and the change is rolled back", c.For, phase.budget),
						fmt.Sprintf("shorten for: to at most %s", phase.budget))
				}
			}
			if c.Type != "prometheus" || c.Server != "" || e.config == nil {
				continue
			}
			for _, env := range t.Environments {
				if ec, ok := e.config.Config.Environments[env]; ok && ec.Prometheus == "" {
					add(at, fmt.Sprintf("this prometheus check names no server, and environment %q has no prometheus in cab.cue", env),
						fmt.Sprintf("add server: \"https://prometheus.example.com\" to the check, or prometheus: \"https://...\" to environments: %s in cab.cue", env))
				}
			}
		}
	}
	checkImages := func(prefix string, actions []model.Action) {
		for i, a := range actions {
			if a.Type != "oci" || a.Image == "" {
				continue
			}
			host, _, _ := strings.Cut(a.Image, "/")
			if !strings.ContainsAny(host, ".:") && host != "localhost" {
				add(fmt.Sprintf("%s.%d.image", prefix, i), fmt.Sprintf("image %q does not name its registry (%q is a path, not a host)", a.Image, host),
					"name the registry host first: registry/repository@sha256:<hex>, e.g. docker.io/"+a.Image)
			}
		}
	}
	checkImages("actions", t.Actions)
	if t.Rollback != nil {
		checkImages("rollback.actions", t.Rollback.Actions)
	}
	return out
}
