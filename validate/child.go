package validate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/schema/load"
)

// ChildRole is the sandbox role of a child process that evaluates tickets.
// A program that calls Run must serve it: when sandbox.Role() equals
// ChildRole, main calls ServeChild instead of its usual command line.
const ChildRole = "cab-validate"

// recycleEvery bounds how many tickets one cue.Context evaluates: contexts
// only grow, so a worker starts afresh after this many.
const recycleEvery = 250

type request struct {
	Job     Job    `json:"job"`
	Tickets []File `json:"tickets"`
	Workers int    `json:"workers"`
	// Contexts, when set, are the changes the tickets belong to (several
	// merges judged by the same rules, see CheckPRs), and Of[i] is the
	// index in Contexts of ticket i; Job's own context is then unused.
	Contexts []Context `json:"contexts,omitempty"`
	Of       []int     `json:"of,omitempty"`
	// Cached, when set, holds the time-derived facts of the stored verdict
	// of each ticket (nil where there is none): when they still hold, the
	// child answers Cached instead of evaluating the ticket, and the parent
	// uses the verdict it holds.
	Cached []*facts `json:"cached,omitempty"`
	// Facts asks for the facts of each verdict evaluated afresh, to store.
	Facts bool `json:"facts,omitempty"`
}

// event is one line of a child's output.
type event struct {
	// Kind is "step" (worker w starts step S of ticket I; I is -1 during
	// setup), "setup" (problems with config and policies) or "done".
	Kind   string    `json:"k"`
	Worker int       `json:"w"`
	Index  int       `json:"i"`
	Step   string    `json:"s,omitempty"`
	Result *Result   `json:"r,omitempty"`
	Setup  diag.List `json:"d,omitempty"`
	// Facts are the time-derived facts of Result, when asked for and the
	// ticket was evaluated to the end.
	Facts *facts `json:"f,omitempty"`
	// Cached is set, instead of Result, when the facts of the ticket's
	// stored verdict (request.Cached) still hold.
	Cached bool `json:"c,omitempty"`
}

// ServeChild is the main of a sandboxed evaluation child: it reads one
// request from r, evaluates its tickets with the requested number of
// workers and writes events to w. It returns the process exit code.
func ServeChild(r io.Reader, w io.Writer, stderr io.Writer) int {
	if err := sandbox.Enter(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var req request
	if err := json.NewDecoder(r).Decode(&req); err != nil {
		fmt.Fprintf(stderr, "reading request: %v\n", err)
		return 2
	}
	out := &eventWriter{w: bufio.NewWriterSize(w, 64<<10), eager: len(req.Tickets) <= 1}
	stop := out.flushEvery(stepFlush)
	err := evaluate(req, out.write)
	stop()
	if err == nil {
		err = out.flush()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	return 0
}

// stepFlush is how stale the parent's view of a busy child may get: step
// events are buffered and flushed with each result or at this interval,
// so a ticket stuck in a policy is still named within a fraction of any
// sensible time budget.
const stepFlush = 50 * time.Millisecond

// eventWriter serialises events from the workers onto one stream.
type eventWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
	// eager flushes every event: a child judging one ticket may die
	// without warning, and the parent must know the step it died in.
	eager bool
	err   error
}

func (e *eventWriter) write(ev event) {
	b, err := json.Marshal(ev)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return
	}
	if err != nil {
		e.err = err
		return
	}
	b = append(b, '\n')
	if _, e.err = e.w.Write(b); e.err == nil && (e.eager || ev.Kind != "step") {
		e.err = e.w.Flush()
	}
}

func (e *eventWriter) flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

// flushEvery flushes e at interval d until the returned stop is called.
func (e *eventWriter) flushEvery(d time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = e.flush()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// evaluate checks req.Tickets with req.Workers evaluators, reporting
// through emit. It is the body of the child, and runs in process in tests
// and benchmarks.
func evaluate(req request, emit func(event)) error {
	if err := req.valid(); err != nil {
		return fmt.Errorf("reading request: %w", err)
	}
	workers := max(1, min(req.Workers, len(req.Tickets)))
	// Tickets are handed out in runs of the same context (the tickets of
	// one merge, see CheckPRs), so that a worker binds the policies to a
	// context once for all of them rather than once per ticket.
	next := make(chan []int)
	go func() {
		for i := 0; i < len(req.Tickets); {
			j := i + 1
			for req.Contexts != nil && j < len(req.Tickets) && req.Of[j] == req.Of[i] {
				j++
			}
			run := make([]int, 0, j-i)
			for k := i; k < j; k++ {
				run = append(run, k)
			}
			next <- run
			i = j
		}
		close(next)
	}()
	// The configuration is validated once, in worker 0's name, and shared.
	prep := prepare(req.Job, func(step string) { emit(event{Kind: "step", Worker: 0, Index: -1, Step: step}) })
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = work(req, prep, w, next, emit)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func work(req request, prep *prepared, w int, next <-chan []int, emit func(event)) error {
	current := -1
	trace := func(step string) { emit(event{Kind: "step", Worker: w, Index: current, Step: step}) }
	// The worker's own schema, in a context of its own: CUE contexts are
	// not safe for concurrent use, and only grow, so a recycle drops it.
	l := load.New()
	// Set up before the first ticket, so that configuration and policy
	// problems are reported even when there is no ticket to check.
	setup := func() (*Evaluator, error) {
		current = -1
		l.Recycle()
		ev, err := newEvaluator(req.Job, prep, l, trace)
		if err != nil {
			return nil, err
		}
		if ev.Setup != nil {
			emit(event{Kind: "setup", Worker: w, Index: -1, Setup: ev.Setup})
		}
		return ev, nil
	}
	ev, err := setup()
	if err != nil {
		return err
	}
	n := 0
	for i := range runs(next) {
		if n == recycleEvery {
			if ev, err = setup(); err != nil {
				return err
			}
			n = 0
		}
		current = i
		var res Result
		var fx *facts
		switch {
		case req.Contexts != nil:
			if res, err = ev.CheckIn(req.Tickets[i], req.Contexts[req.Of[i]]); err != nil {
				return err
			}
		case req.Cached != nil && req.Cached[i] != nil && ev.stillHolds(*req.Cached[i]):
			emit(event{Kind: "done", Worker: w, Index: i, Cached: true})
			continue // not counted: evaluated nothing
		default:
			res, fx = ev.check(req.Tickets[i])
			if !req.Facts {
				fx = nil
			}
		}
		n++
		emit(event{Kind: "done", Worker: w, Index: i, Result: &res, Facts: fx})
	}
	return nil
}

// runs yields the tickets of the runs received from next, in order.
func runs(next <-chan []int) func(yield func(int) bool) {
	return func(yield func(int) bool) {
		for run := range next {
			for _, i := range run {
				if !yield(i) {
					return
				}
			}
		}
	}
}

// valid checks that every ticket of a request with contexts has one.
func (req request) valid() error {
	if req.Cached != nil && (len(req.Cached) != len(req.Tickets) || req.Contexts != nil) {
		return fmt.Errorf("%d tickets but %d cached verdicts", len(req.Tickets), len(req.Cached))
	}
	if req.Contexts == nil {
		return nil
	}
	if len(req.Of) != len(req.Tickets) {
		return fmt.Errorf("%d tickets but %d context indexes", len(req.Tickets), len(req.Of))
	}
	for i, c := range req.Of {
		if c < 0 || c >= len(req.Contexts) {
			return fmt.Errorf("ticket %d: no context %d", i, c)
		}
	}
	return nil
}
