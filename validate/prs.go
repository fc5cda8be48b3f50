package validate

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cabhq/cab/internal/diag"
)

// maxShared bounds how many tickets one shared child evaluates, so that
// its request, and the memory it needs besides the evaluators (recycled
// every recycleEvery tickets), stay those of an ordinary check. A
// variable only so that a test can cut smaller chunks.
var maxShared = 500

// maxSharedFailures is how many shared children of one set of rules may
// blow a budget or crash before the merges left are checked one by one,
// as CheckPR does: rules that are hostile to many tickets cost at most
// this many extra budgets in all.
const maxSharedFailures = 3

// CheckPRs checks many pull requests, giving for each the report CheckPR
// would give (in the order of opts). Cab sign uses it to judge every new
// merge of main again: the tickets of the pull requests judged by the
// same rules (same cab.cue and policies, see Job.RulesDigest) are
// evaluated in one sandboxed child rather than one child each, each
// ticket in the context of its own pull request (its time, review,
// changed files and open tickets; see Context).
//
// The sandbox's limits are unchanged: the time budget is per ticket, the
// memory budget per child, and a child judges at most a few hundred
// tickets. When a shared child blows a budget or crashes, the pull
// requests whose tickets were in flight are checked again alone, exactly
// as CheckPR checks them (with their own Limits.Total, strikes and
// diagnostics naming the policy), and the others keep the verdicts they
// got or are evaluated again together: one pull request's ticket that
// makes a policy blow its budget never changes another's verdict. After
// maxSharedFailures such failures for one set of rules, what is left is
// checked one pull request at a time. The Progress of opts is not called.
func CheckPRs(ctx context.Context, opts []PROptions) ([]*Report, error) {
	checks := make([]*prCheck, len(opts))
	results := make([][]Result, len(checks))
	setups := make([]diag.List, len(checks))
	judged := make([]bool, len(checks))
	// The shared children run while later pull requests are prepared: a
	// chunk of a group (whole checks, up to maxShared tickets, as shared
	// cuts them) is sent to the evaluation as soon as the next check would
	// not fit in it. The evaluation goroutine alone touches results,
	// setups and judged, and the checks of the chunks it was sent, until
	// it is done.
	type group struct {
		chunk    []int
		n        int // tickets in chunk
		failures int // of its shared children (see shared)
	}
	type work struct {
		g     *group
		chunk []int
	}
	queue := make(chan work, len(opts))
	closeQueue := sync.OnceFunc(func() { close(queue) })
	evalCtx, cancel := context.WithCancel(ctx)
	var evalErr error
	evaluated := make(chan struct{})
	go func() {
		defer close(evaluated)
		for w := range queue {
			if evalErr == nil {
				_, evalErr = shared(evalCtx, checks, w.chunk, results, setups, judged, &w.g.failures)
			}
		}
	}()
	defer func() {
		// On an early return the evaluation is stopped; either way it is
		// done before the checks it reads are closed.
		cancel()
		closeQueue()
		<-evaluated
		for _, c := range checks {
			if c != nil {
				c.close()
			}
		}
	}()
	// Group what shares rules; a check that only changes rules is left
	// to CheckPR's own path.
	type key struct {
		digest string
		limits Limits
	}
	groups := map[key]*group{}
	var order []key
	send := func(g *group) {
		if len(g.chunk) > 0 {
			queue <- work{g, g.chunk}
			g.chunk, g.n = nil, 0
		}
	}
	for i, o := range opts {
		o.Progress = nil
		c, err := preparePR(o)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", o.Head, err)
		}
		checks[i] = c
		if len(c.added) == 0 || len(c.job.Skip) > 0 {
			continue
		}
		l := c.o.Limits
		l.lost = nil
		k := key{c.rep.RulesDigest + "\x00" + string(c.job.Mode), l}
		g, ok := groups[k]
		if !ok {
			g = &group{}
			groups[k] = g
			order = append(order, k)
		}
		if g.n > 0 && g.n+len(c.added) > maxShared {
			send(g)
		}
		g.chunk = append(g.chunk, i)
		g.n += len(c.added)
	}
	for _, k := range order {
		send(groups[k])
	}
	closeQueue()
	<-evaluated
	if evalErr != nil {
		return nil, evalErr
	}
	reports := make([]*Report, len(checks))
	for i, c := range checks {
		if c.evaluates() && !judged[i] {
			var err error
			if results[i], setups[i], err = Run(ctx, c.job, c.added, c.o.Limits, nil); err != nil {
				return nil, fmt.Errorf("checking %s: %w", c.o.Head, err)
			}
		}
		rep, err := c.finish(ctx, results[i], setups[i])
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", c.o.Head, err)
		}
		reports[i] = rep
	}
	return reports, nil
}

// shared evaluates the tickets of the checks group (indexes into checks,
// all with the same rules and limits) in shared children, and records the
// verdicts of every check judged cleanly in results, setups and judged.
// Checks left unjudged are checked alone by the caller. failures counts
// the shared children of these rules that failed, across calls: from
// maxSharedFailures on, nothing is shared. It returns how many children
// it ran.
func shared(ctx context.Context, checks []*prCheck, group []int, results [][]Result, setups []diag.List, judged []bool, failures *int) (children int, err error) {
	pending := slices.Clone(group)
	for len(pending) > 0 && *failures < maxSharedFailures {
		// A chunk of whole checks, at least one, up to maxShared tickets.
		var chunk []int
		n := 0
		for len(pending) > 0 && (len(chunk) == 0 || n+len(checks[pending[0]].added) <= maxShared) {
			chunk = append(chunk, pending[0])
			n += len(checks[pending[0]].added)
			pending = pending[1:]
		}
		first := checks[chunk[0]]
		limits := first.o.Limits
		limits.lost = &lostTime{} // the shared child's losses are no check's
		r := &runner{job: first.job, limits: limits, strikes: map[string]int{}}
		var span [][2]int // the tickets of chunk[k] are r.tickets[span[k][0]:span[k][1]]
		for k, i := range chunk {
			c := checks[i]
			r.contexts = append(r.contexts, contextOf(c.job))
			span = append(span, [2]int{len(r.tickets), len(r.tickets) + len(c.added)})
			for _, f := range c.added {
				r.tickets = append(r.tickets, f)
				r.of = append(r.of, k)
			}
		}
		r.results = make([]*Result, len(r.tickets))
		all := make([]int, len(r.tickets))
		for i := range all {
			all[i] = i
		}
		children++
		fail, err := r.child(ctx, all, limits.Workers, false)
		if err != nil {
			return children, err
		}
		if fail == nil && len(r.unfinished(all)) > 0 {
			return children, fmt.Errorf("evaluation child exited without judging %d ticket(s)", len(r.unfinished(all)))
		}
		guilty := map[int]bool{}
		if fail != nil {
			*failures++
			for _, fl := range fail.inflight {
				if fl.index < 0 {
					// The rules themselves blew the budget: nothing is
					// gained by sharing them.
					*failures = maxSharedFailures
					continue
				}
				guilty[r.of[fl.index]] = true
			}
		}
		var retry []int
		for k, i := range chunk {
			done := !guilty[k]
			for _, res := range r.results[span[k][0]:span[k][1]] {
				done = done && res != nil
			}
			switch {
			case done:
				out := make([]Result, 0, span[k][1]-span[k][0])
				for _, res := range r.results[span[k][0]:span[k][1]] {
					out = append(out, *res)
				}
				results[i], setups[i], judged[i] = out, slices.Clone(r.setup).Sort(), true
			case !guilty[k]:
				retry = append(retry, i)
			}
		}
		pending = append(retry, pending...)
	}
	return children, nil
}
