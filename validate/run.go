package validate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/sandbox"
)

// Limits bound the evaluation of untrusted input.
type Limits struct {
	// Memory is the child's memory budget in bytes (sandbox.DefaultMemory if 0).
	Memory uint64
	// Ticket is the time budget of one ticket (DefaultTicketTimeout if 0).
	Ticket time.Duration
	// Setup is the time budget for compiling config and policies
	// (DefaultSetupTimeout if 0).
	Setup time.Duration
	// Workers is the number of tickets evaluated in parallel
	// (GOMAXPROCS if 0).
	Workers int
	// Strikes is how many tickets one policy may blow the budget on before
	// it is left out for the rest (DefaultStrikes if 0).
	Strikes int
	// Total is the time one check may lose to evaluation that blows a
	// budget, summed over every child of the check (compile included):
	// once it is spent, what is left is failed unevaluated, so that a
	// hostile policy fails a check in bounded time however many tickets
	// it meets (DefaultTotalTimeout if 0). Evaluation that finishes within
	// its budgets is never cut short by it.
	Total time.Duration

	// lost is the time lost so far; shared by the runs of one check.
	lost *lostTime
}

// Defaults for Limits. A check loses at most DefaultTotalTimeout to a
// hostile policy, and fails within 30 s of wall time with the policy named.
const (
	DefaultTicketTimeout = 10 * time.Second
	DefaultSetupTimeout  = 20 * time.Second
	DefaultTotalTimeout  = 25 * time.Second
	DefaultStrikes       = 3
)

// lostTime accumulates the time of children that blew a budget.
type lostTime struct {
	d time.Duration
	// culprit is the last step blamed: a policy, cab.cue or "".
	culprit string
}

func (l Limits) withDefaults() Limits {
	if l.Ticket == 0 {
		l.Ticket = DefaultTicketTimeout
	}
	if l.Setup == 0 {
		l.Setup = DefaultSetupTimeout
	}
	if l.Workers == 0 {
		l.Workers = runtime.GOMAXPROCS(0)
	}
	if l.Strikes == 0 {
		l.Strikes = DefaultStrikes
	}
	if l.Total == 0 {
		l.Total = DefaultTotalTimeout
	}
	if l.lost == nil {
		l.lost = &lostTime{}
	}
	return l
}

// remaining is what is left of the total budget.
func (l Limits) remaining() time.Duration { return l.Total - l.lost.d }

// Run evaluates tickets in sandboxed children. It returns one Result per
// ticket, in order, and the setup problems (config and policies).
//
// A ticket that blows the time or memory budget gets a diagnostic naming
// the step at fault and the others still get their verdict: after a crash
// with several tickets in flight, each suspect is re-run alone. A policy
// that blows the budget on Strikes tickets is left out for the rest and
// reported once. progress, if not nil, is called after each ticket.
func Run(ctx context.Context, job Job, tickets []File, limits Limits, progress func(done, total int)) ([]Result, diag.List, error) {
	return newRunner(job, tickets, limits, progress).run(ctx)
}

func newRunner(job Job, tickets []File, limits Limits, progress func(done, total int)) *runner {
	return &runner{job: job, tickets: tickets, limits: limits.withDefaults(), progress: progress,
		results: make([]*Result, len(tickets)), strikes: map[string]int{}}
}

type runner struct {
	job      Job
	tickets  []File
	limits   Limits
	progress func(done, total int)

	// contexts, when set, are the changes the tickets belong to, and
	// of[i] the index in contexts of ticket i (see CheckPRs).
	contexts []Context
	of       []int

	// cached, when set, holds a stored verdict for each ticket (nil where
	// none); facts, when set, receives the facts of every verdict evaluated
	// afresh (see the verdict cache in cache.go).
	cached []*cached
	facts  []*facts
	reused int

	results []*Result
	done    int
	setup   diag.List
	strikes map[string]int
}

// failure says how a child died and what it was doing.
type failure struct {
	reason string // "time", "memory" or "crash"
	detail string
	// inflight maps ticket index (-1: setup) to the step it was in, for
	// every worker that had not finished.
	inflight []flight
}

// what says what happened, as a verb phrase.
func (f failure) what() string {
	switch f.reason {
	case "time", "memory":
		return "exceeded the " + f.reason + " budget"
	default:
		return "crashed the evaluator"
	}
}

type flight struct {
	index int
	step  string
}

func (r *runner) run(ctx context.Context) ([]Result, diag.List, error) {
	queue := make([]int, len(r.tickets))
	for i := range queue {
		queue[i] = i
	}
	var alone []int // suspects of a crash, each re-run in a child of its own
	if len(r.tickets) == 0 {
		// Still compile the configuration and the policies: a change that
		// breaks only them must not pass.
		if r.limits.remaining() <= 0 {
			r.setup = append(r.setup, r.outOfTime(r.setupFile()))
			return nil, r.setup.Sort(), nil
		}
		if fail, err := r.child(ctx, nil, 1, false); err != nil {
			return nil, nil, err
		} else if fail != nil {
			r.blame(*fail, true, &alone)
		}
	}
	for attempts := 0; len(queue) > 0 || len(alone) > 0; attempts++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if r.limits.remaining() <= 0 {
			for _, i := range append(queue, alone...) {
				r.record(i, r.outOfTime(r.tickets[i].Name))
			}
			break
		}
		if attempts > 2*len(r.tickets)+2*len(r.job.Policies)+4 {
			return nil, nil, errors.New("evaluation keeps failing; giving up")
		}
		batch, workers, isolated := queue, r.limits.Workers, false
		if len(alone) > 0 {
			batch, workers, isolated = alone[:1], 1, true
			alone = alone[1:]
		} else {
			queue = nil
		}
		fail, err := r.child(ctx, batch, workers, isolated)
		if err != nil {
			return nil, nil, err
		}
		remaining := r.unfinished(batch)
		if fail == nil {
			if len(remaining) > 0 {
				return nil, nil, fmt.Errorf("evaluation child exited without judging %d ticket(s)", len(remaining))
			}
			continue
		}
		blamed := r.blame(*fail, isolated, &alone)
		for _, i := range remaining {
			if !slices.Contains(blamed, i) && !slices.Contains(alone, i) && r.results[i] == nil {
				queue = append(queue, i)
			}
		}
	}
	out := make([]Result, len(r.results))
	for i, res := range r.results {
		out[i] = *res
	}
	return out, r.setup.Sort(), nil
}

func (r *runner) unfinished(batch []int) []int {
	var out []int
	for _, i := range batch {
		if r.results[i] == nil {
			out = append(out, i)
		}
	}
	return out
}

// blame turns a child's death into diagnostics. It returns the tickets it
// gave a verdict to; suspects that need a run of their own (isolated: one
// ticket, policies evaluated one by one so that the guilty one is named)
// go to alone.
func (r *runner) blame(f failure, isolated bool, alone *[]int) []int {
	var blamed []int
	var tickets []flight
	for _, fl := range f.inflight {
		switch {
		case isPolicy(fl.step):
			r.limits.lost.culprit = fl.step
		case fl.step == stepConfig && r.limits.lost.culprit == "":
			r.limits.lost.culprit = r.setupFile()
		}
		if fl.index < 0 {
			r.setupFailed(f, fl.step)
			continue
		}
		tickets = append(tickets, fl)
	}
	for _, fl := range tickets {
		switch {
		case isolated, fl.step != stepPolicies && (f.reason == "time" || len(tickets) == 1):
			r.record(fl.index, budgetDiag(r.tickets[fl.index].Name, f, fl.step))
			blamed = append(blamed, fl.index)
			if isPolicy(fl.step) {
				r.strike(fl.step, f)
			}
		default:
			// Several suspects of a crash, or a budget blown while the
			// policies ran together: find out alone.
			*alone = append(*alone, fl.index)
		}
	}
	return blamed
}

// Steps other than a policy's name.
const (
	stepSchema   = "schema"
	stepConfig   = "config"
	stepPolicies = "policies" // all policies at once
)

func isPolicy(step string) bool {
	return step != "" && step != stepSchema && step != stepConfig && step != stepPolicies
}

func (r *runner) strike(policy string, f failure) {
	r.strikes[policy]++
	if r.strikes[policy] >= r.limits.Strikes && !slices.Contains(r.job.Skip, policy) {
		r.job.Skip = append(r.job.Skip, policy)
		r.setup = append(r.setup, diag.Diagnostic{File: policy, Line: 1, Column: 1, Severity: diag.Error, Code: "budget",
			Message: fmt.Sprintf("policy %s on %d tickets; it was left out for the remaining tickets (%s)", f.what(), r.strikes[policy], f.detail),
			Hint:    "fix the policy: it must evaluate in bounded time and memory"})
	}
}

func (r *runner) setupFailed(f failure, step string) {
	file := step
	if step == stepConfig && r.job.Config != nil {
		file = r.job.Config.Name
	}
	r.setup = append(r.setup, diag.Diagnostic{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "budget",
		Message: fmt.Sprintf("compiling %s (%s)", f.what(), f.detail),
		Hint:    "fix the file: it must evaluate in bounded time and memory"})
	switch {
	case step == stepConfig:
		r.job.Config = nil
	case isPolicy(step) && !slices.Contains(r.job.Skip, step):
		r.job.Skip = append(r.job.Skip, step)
	}
}

// outOfTime is the verdict on what is left when the check's total budget
// is spent.
func (r *runner) outOfTime(file string) diag.Diagnostic {
	msg := fmt.Sprintf("not evaluated: this check already lost its total budget (%s) to evaluation that blew its budgets", r.limits.Total)
	if c := r.limits.lost.culprit; c != "" {
		msg += " (" + c + ")"
	}
	return diag.Diagnostic{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "budget", Message: msg, Rule: ruleOf(r.limits.lost.culprit),
		Hint: "fix what blew the budget (the policy or cab.cue named above), then check again"}
}

func (r *runner) setupFile() string {
	if r.job.Config != nil {
		return r.job.Config.Name
	}
	return ConfigFile
}

func budgetDiag(file string, f failure, step string) diag.Diagnostic {
	what := "validating the ticket"
	if isPolicy(step) {
		what = "evaluating policy " + step
	}
	return diag.Diagnostic{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "budget",
		Message: fmt.Sprintf("%s %s (%s)", what, f.what(), f.detail),
		Rule:    ruleOf(step),
		Hint:    "a ticket must be checked in bounded time and memory; if the policy is at fault, fix the policy"}
}

func ruleOf(step string) string {
	if isPolicy(step) {
		return step
	}
	return ""
}

func (r *runner) record(i int, d ...diag.Diagnostic) {
	if r.results[i] != nil {
		return
	}
	r.results[i] = &Result{File: r.tickets[i].Name, Diags: d}
	r.advance()
}

func (r *runner) advance() {
	r.done++
	if r.progress != nil {
		r.progress(r.done, len(r.tickets))
	}
}

// child runs one sandboxed child over batch and collects its results. It
// returns a failure if the child died or blew a budget, and an error if
// the child could not be run at all.
func (r *runner) child(ctx context.Context, batch []int, workers int, isolated bool) (fail *failure, err error) {
	req := request{Job: r.job, Workers: workers, Facts: r.facts != nil}
	req.Job.Isolate = isolated
	for _, i := range batch {
		req.Tickets = append(req.Tickets, r.tickets[i])
		if r.cached != nil {
			var fx *facts
			if c := r.cached[i]; c != nil {
				fx = &c.Facts
			}
			req.Cached = append(req.Cached, fx)
		}
	}
	if r.of != nil {
		// Send only the contexts of this batch, renumbered.
		seen := map[int]int{}
		for _, i := range batch {
			k, ok := seen[r.of[i]]
			if !ok {
				k = len(req.Contexts)
				seen[r.of[i]] = k
				req.Contexts = append(req.Contexts, r.contexts[r.of[i]])
			}
			req.Of = append(req.Of, k)
		}
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding evaluation request: %w", err)
	}
	// Budgets never reach beyond what is left of the check's total.
	ticketBudget, setupBudget := min(r.limits.Ticket, r.limits.remaining()), min(r.limits.Setup, r.limits.remaining())
	began := time.Now()
	defer func() {
		if fail != nil {
			r.limits.lost.d += time.Since(began)
		}
	}()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, err := sandbox.Command(cctx, ChildRole, r.limits.Memory)
	if err != nil {
		return nil, err
	}
	cmd.Stdin = bytes.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("evaluation child: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting evaluation child: %w", err)
	}
	events := make(chan event)
	readErr := make(chan error, 1)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
		for sc.Scan() {
			var ev event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				readErr <- fmt.Errorf("evaluation child sent %q: %w", truncate(sc.Text()), err)
				return
			}
			events <- ev
		}
		readErr <- sc.Err()
	}()

	type state struct {
		index int
		step  string
		since time.Time
	}
	busy := map[int]*state{} // by worker
	started := false
	var timedOut *failure
	timer := time.NewTimer(setupBudget)
	defer timer.Stop()
	deadline := func() {
		var next time.Time
		for _, s := range busy {
			budget := ticketBudget
			if s.index < 0 {
				budget = setupBudget
			}
			if d := s.since.Add(budget); next.IsZero() || d.Before(next) {
				next = d
			}
		}
		if next.IsZero() {
			next = time.Now().Add(setupBudget)
		}
		timer.Reset(time.Until(next))
	}
loop:
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				break loop
			}
			started = true
			switch ev.Kind {
			case "setup":
				r.setup = append(r.setup, ev.Setup...)
			case "step":
				s := busy[ev.Worker]
				if s == nil || s.index != ev.Index {
					s = &state{index: ev.Index, since: time.Now()}
					busy[ev.Worker] = s
				}
				s.step = ev.Step
			case "done":
				if ev.Index < 0 || ev.Index >= len(batch) {
					return nil, fmt.Errorf("evaluation child sent a bad result for ticket %d", ev.Index)
				}
				i := batch[ev.Index]
				if ev.Cached && r.cached != nil && r.cached[i] != nil {
					ev.Result = &r.cached[i].Result
				}
				if ev.Result == nil {
					return nil, fmt.Errorf("evaluation child sent a bad result for ticket %d", ev.Index)
				}
				if r.results[i] == nil {
					res := *ev.Result
					res.File = r.tickets[i].Name
					r.results[i] = &res
					if r.facts != nil {
						r.facts[i] = ev.Facts
					}
					if ev.Cached {
						r.reused++
					}
					r.advance()
				}
				delete(busy, ev.Worker)
			}
			deadline()
		case <-timer.C:
			now := time.Now()
			for _, s := range busy {
				budget := ticketBudget
				if s.index < 0 {
					budget = setupBudget
				}
				if now.Sub(s.since) >= budget {
					fl := flight{index: s.index, step: s.step}
					if fl.index >= 0 {
						fl.index = batch[fl.index]
					}
					timedOut = &failure{reason: "time", detail: budget.String(), inflight: []flight{fl}}
					break
				}
			}
			if timedOut != nil {
				cancel()
				for range events { // drain until the child is gone
				}
				break loop
			}
			deadline()
		}
	}
	werr := cmd.Wait()
	if err := <-readErr; err != nil && timedOut == nil {
		return nil, err
	}
	if timedOut != nil {
		return timedOut, nil
	}
	if werr == nil {
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	f := &failure{reason: "crash", detail: firstLine(stderr.String())}
	budget := fmt.Sprintf("%d MiB", memoryOf(r.limits)>>20)
	switch {
	case sandbox.OutOfMemory(stderr.Bytes()) || sandbox.NearLimit(cmd.ProcessState, memoryOf(r.limits)):
		f.reason, f.detail = "memory", budget
	case strings.HasPrefix(f.detail, "SIGSEGV"):
		// Under a data limit, an allocation the kernel refuses can surface
		// as a segmentation fault inside the Go runtime.
		f.reason, f.detail = "memory", budget+"; the evaluator died of SIGSEGV, which is how a refused allocation can show"
	}
	for _, s := range busy {
		fl := flight{index: s.index, step: s.step}
		if fl.index >= 0 {
			fl.index = batch[fl.index]
		}
		f.inflight = append(f.inflight, fl)
	}
	if !started || len(f.inflight) == 0 {
		return nil, fmt.Errorf("evaluation child failed: %v: %s", werr, firstLine(stderr.String()))
	}
	return f, nil
}

func memoryOf(l Limits) uint64 {
	if l.Memory == 0 {
		return sandbox.DefaultMemory
	}
	return l.Memory
}

// firstLine picks the line of a child's stderr that says why it died.
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "SIG") {
			return truncate(l)
		}
	}
	return truncate(lines[0])
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
