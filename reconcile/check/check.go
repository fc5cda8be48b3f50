package check

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cabhq/cab/internal/backoff"

	"github.com/cabhq/cab/model"
)

// Defaults of Options and of the checks.
const (
	// DefaultInterval is the pause between attempts.
	DefaultInterval = 5 * time.Second
	// DefaultTimeout bounds one attempt of a check.
	DefaultTimeout = 10 * time.Second
	// MaxBody is the most of a response body a check reads (1 MiB).
	MaxBody = 1 << 20
)

// Options configure a run of checks.
type Options struct {
	// Client sends the requests (default: http.DefaultClient).
	Client *http.Client
	// Prometheus is the default server of prometheus checks: the
	// environment's prometheus in cab.cue.
	Prometheus string
	// Budget is the total time a Run may spend retrying failing checks
	// (0: one attempt each). A check with for needs a budget of at least
	// that long, and some room above it.
	Budget time.Duration
	// Interval is the pause between attempts (default DefaultInterval).
	Interval time.Duration
	// Now is the clock (default time.Now); it must be safe for concurrent
	// use, as the checks of one round run concurrently.
	Now func() time.Time
	// Sleep pauses between rounds (default: a timer that gives up when
	// ctx is done).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Budget < 0 {
		o.Budget = 0
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = backoff.Sleep
	}
	return o
}

// Outcome is one check's verdict.
type Outcome struct {
	// Name is the check's name, or its URL or query when it has none.
	Name string `json:"name"`
	// Type is http or prometheus.
	Type string `json:"type"`
	// OK reports whether the check passed.
	OK bool `json:"ok"`
	// Detail says what the last attempt saw and what was wanted.
	Detail string `json:"detail"`
	// Attempts is how many times the check was tried (0 when it could
	// not be tried at all).
	Attempts int `json:"attempts"`
}

// String is "name: detail".
func (o Outcome) String() string {
	return o.Name + ": " + o.Detail
}

// Failed is the error of a Run in which some checks did not pass.
type Failed struct {
	// Checks are the outcomes of the checks that failed, in ticket order.
	Checks []Outcome
	// Total is how many checks ran.
	Total int
}

// Error lists the failed checks.
func (f *Failed) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d checks failed: ", len(f.Checks), f.Total)
	for i, o := range f.Checks {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(o.String())
	}
	return b.String()
}

// Names are the names of the failed checks.
func (f *Failed) Names() []string {
	names := make([]string, len(f.Checks))
	for i, o := range f.Checks {
		names[i] = o.Name
	}
	return names
}

// prober samples a check once: whether its condition holds now, and what
// it saw, in a few words.
type prober interface {
	probe(ctx context.Context) (ok bool, detail string)
}

// running is a check Run is still trying.
type running struct {
	i       int
	p       prober
	hold    time.Duration // for
	holding bool
	since   time.Time // first sample of the current streak
	longest time.Duration
}

// Run runs every check, retrying the failing ones every Interval until
// they pass or the budget is spent; a check with for passes once its
// condition held on every sample for that long. It returns the outcomes in
// the order of checks and, when any failed, a *Failed listing them. When
// ctx ends first, it returns the outcomes so far and ctx's error.
func Run(ctx context.Context, checks []model.Check, o Options) ([]Outcome, error) {
	o = o.withDefaults()
	out := make([]Outcome, len(checks))
	var live []*running
	for i, c := range checks {
		out[i] = Outcome{Name: name(c), Type: c.Type}
		p, hold, err := prepare(c, o)
		if err != nil {
			out[i].Detail = err.Error()
			continue
		}
		if hold > o.Budget {
			out[i].Detail = fmt.Sprintf("for %s is longer than the check budget %s: it cannot pass; shorten for or raise the budget", hold, o.Budget)
			continue
		}
		live = append(live, &running{i: i, p: p, hold: hold})
	}

	deadline := o.Now().Add(o.Budget)
	maxRounds := int(o.Budget/o.Interval) + 1
	for round := 1; len(live) > 0; round++ {
		at := o.Now()
		type sample struct {
			ok     bool
			detail string
		}
		samples := make([]sample, len(live))
		var wg sync.WaitGroup
		for j, r := range live {
			wg.Go(func() {
				ok, detail := r.p.probe(ctx)
				samples[j] = sample{ok, detail}
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("running checks: %w", err)
		}
		next := live[:0]
		for j, r := range live {
			oc := &out[r.i]
			oc.Attempts++
			s := samples[j]
			oc.Detail = s.detail
			switch {
			case !s.ok:
				r.holding = false
				next = append(next, r)
			case r.hold == 0:
				oc.OK = true
			default:
				if !r.holding {
					r.holding, r.since = true, at
				}
				held := at.Sub(r.since)
				r.longest = max(r.longest, held)
				if held >= r.hold {
					oc.OK = true
					oc.Detail = fmt.Sprintf("%s, held for %s", s.detail, r.hold)
				} else {
					next = append(next, r)
				}
			}
		}
		live = next
		if len(live) == 0 || round >= maxRounds || o.Now().Add(o.Interval).After(deadline) {
			break
		}
		if err := o.Sleep(ctx, o.Interval); err != nil {
			return out, fmt.Errorf("running checks: %w", err)
		}
	}
	for _, r := range live {
		if r.hold > 0 {
			out[r.i].Detail += fmt.Sprintf(" (held at most %s of %s)", r.longest, r.hold)
		}
	}

	f := &Failed{Total: len(checks)}
	for _, oc := range out {
		if !oc.OK {
			f.Checks = append(f.Checks, oc)
		}
	}
	if len(f.Checks) > 0 {
		return out, f
	}
	return out, nil
}

// name is a check's name, or what it looks at.
func name(c model.Check) string {
	if c.Name != "" {
		return c.Name
	}
	switch c.Type {
	case "http":
		return "GET " + redactURL(c.URL)
	case "prometheus":
		q := strings.Join(strings.Fields(c.Query), " ")
		if r := []rune(q); len(r) > 60 {
			q = string(r[:59]) + "…"
		}
		return q
	}
	return c.Type + " check"
}

// prepare turns a check into a prober, with its for.
func prepare(c model.Check, o Options) (prober, time.Duration, error) {
	switch c.Type {
	case "http":
		p, err := newHTTPProbe(c, o)
		return p, 0, err
	case "prometheus":
		p, err := newPromProbe(c, o)
		if err != nil {
			return nil, 0, err
		}
		hold, err := duration("for", c.For, 0)
		if err != nil {
			return nil, 0, err
		}
		return p, hold, nil
	}
	return nil, 0, fmt.Errorf("unknown check type %q: want http or prometheus", c.Type)
}

// duration parses a duration field of a check; "" is def.
func duration(field, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a duration such as 500ms or 2m", field, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s %q: must not be negative", field, s)
	}
	return d, nil
}
