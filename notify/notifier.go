package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cabhq/cab/internal/backoff"
	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/model"
)

// Ticket is what routing needs to know of a ticket.
type Ticket struct {
	Service string
	Risk    string
	// PR is the pull request that introduced it, from its signed predicate.
	PR int64
}

// Describe tells what a ticket is (its service, risk and pull request),
// for events that name only the ticket.
type Describe func(ctx context.Context, ticket string) (Ticket, error)

// Options configure a Notifier.
type Options struct {
	// Config is cab.cue's notify: (nil: nothing is sent).
	Config *model.Notify
	// Getenv reads the secrets sinks name (default os.Getenv).
	Getenv func(string) string
	// StateFile keeps what was sent and what is pending (empty: kept in
	// memory only). See StatePath.
	StateFile string
	// Describe fills in the service, risk and PR of a ticket's events.
	Describe Describe
	// HTTPClient posts to webhooks (default: a client with Timeout).
	HTTPClient *http.Client
	// TLSConfig is the base TLS configuration for SMTP (nil: system roots).
	TLSConfig *tls.Config
	// Timeout bounds one send to one sink (default 10s).
	Timeout time.Duration
	// Attempts bounds the tries of one event in one delivery round
	// (default 5); what is still unsent stays pending for the next round.
	Attempts int
	// Backoff is the first wait between tries, doubled each time up to a
	// minute (default 1s).
	Backoff time.Duration
	// RetryEvery is how often Run tries pending events again (default 1m).
	RetryEvery time.Duration
	// Queue bounds the events waiting in memory (default 256).
	Queue int
	// Secrets are more strings to scrub from messages (forge tokens).
	Secrets []string
	Now     func() time.Time
	Logger  *slog.Logger
}

// Notifier sends events to the sinks cab.cue routes them to.
type Notifier struct {
	o       Options
	senders map[string]sender
	red     *redact.Redactor
	queue   chan string

	mu       sync.Mutex
	st       *state
	inflight map[string]bool
}

// StatePath is the state file of the checkout whose git directory is
// gitDir.
func StatePath(gitDir string) string { return gitDir + "/" + StateDir + "/state.json" }

// New returns a Notifier for o. It fails when a sink's secret is not set
// in the environment, or the state file cannot be read.
func New(o Options) (*Notifier, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Minute
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &Notifier{o: o, senders: map[string]sender{}, queue: make(chan string, o.Queue), inflight: map[string]bool{}}
	secrets := slices.Clone(o.Secrets)
	if o.Config != nil {
		for name, s := range o.Config.Sinks {
			snd, sec, err := newSender(name, s, o.Getenv, o.HTTPClient, o.TLSConfig)
			if err != nil {
				return nil, err
			}
			n.senders[name] = snd
			secrets = append(secrets, sec...)
		}
	}
	red, err := redact.New(secrets...)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	n.red = red
	if n.st, err = loadState(o.StateFile); err != nil {
		return nil, err
	}
	return n, nil
}

// Notify records ev as pending and queues it; it never blocks. It returns
// false when ev was sent or pending already (a duplicate) or cab.cue
// routes nothing. A full queue leaves ev pending for the next round.
func (n *Notifier) Notify(ev Event) bool {
	if n.o.Config == nil || len(n.senders) == 0 {
		return false
	}
	if ev.At.IsZero() {
		ev.At = n.o.Now()
	}
	ev.Reason = n.red.String(ev.Reason) // never a secret on disk either
	n.mu.Lock()
	if _, sent := n.st.Sent[ev.ID]; sent || n.st.find(ev.ID) >= 0 {
		n.mu.Unlock()
		return false
	}
	n.st.Pending = append(n.st.Pending, pending{Event: ev})
	n.saveLocked()
	n.mu.Unlock()
	select {
	case n.queue <- ev.ID:
	default:
		n.o.Logger.Warn("notification queue full; left pending", "event", ev.ID)
	}
	return true
}

// Run delivers queued events, and every RetryEvery the pending ones,
// until ctx is done.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTicker(n.o.RetryEvery)
	defer t.Stop()
	n.requeue()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-n.queue:
			n.deliver(ctx, id)
		case <-t.C:
			n.requeue()
		}
	}
}

// Flush delivers every pending event now, one round each, until done or
// ctx ends; it returns how many are still pending. A one-shot command
// calls it before it exits, with a deadline.
func (n *Notifier) Flush(ctx context.Context) int {
	for _, id := range n.pendingIDs() {
		if ctx.Err() != nil {
			break
		}
		n.deliver(ctx, id)
	}
	return len(n.pendingIDs())
}

// Pending returns the ids of the events not yet acknowledged by all their
// sinks.
func (n *Notifier) Pending() []string { return n.pendingIDs() }

func (n *Notifier) pendingIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.st.Pending))
	for _, p := range n.st.Pending {
		ids = append(ids, p.Event.ID)
	}
	return ids
}

func (n *Notifier) requeue() {
	for _, id := range n.pendingIDs() {
		select {
		case n.queue <- id:
		default:
			return
		}
	}
}

// deliver tries event id on each sink still to acknowledge it, with
// backoff, at most Attempts rounds.
func (n *Notifier) deliver(ctx context.Context, id string) {
	n.mu.Lock()
	i := n.st.find(id)
	if i < 0 || n.inflight[id] {
		n.mu.Unlock()
		return
	}
	n.inflight[id] = true
	p := n.st.Pending[i]
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.inflight, id)
		n.mu.Unlock()
	}()

	if p.Sinks == nil {
		ev, ok := n.prepare(ctx, p.Event)
		if !ok {
			return // describe failed: next round
		}
		p.Event, p.Sinks = ev, Route(n.o.Config, ev)
		if p.Sinks == nil {
			p.Sinks = []string{} // routed nowhere: done
		}
		n.update(p)
	}
	wait := n.o.Backoff
	for attempt := 0; attempt < n.o.Attempts && len(p.Sinks) > 0; attempt++ {
		if attempt > 0 {
			if backoff.Sleep(ctx, backoff.Jitter(wait)) != nil {
				return
			}
			wait = min(2*wait, time.Minute)
		}
		left := []string{} // non-nil: routed
		for _, name := range p.Sinks {
			snd, ok := n.senders[name]
			if !ok {
				continue // a sink cab.cue no longer has
			}
			sctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
			err := snd.send(sctx, p.Event)
			cancel()
			if err != nil {
				n.o.Logger.Warn("notification not delivered", "event", id, "sink", name, "attempt", attempt+1,
					"err", n.red.Error(&SinkError{Sink: name, Err: err}))
				left = append(left, name)
			}
		}
		p.Sinks = left
		n.update(p)
	}
}

// prepare fills in what routing needs and scrubs every text of ev.
func (n *Notifier) prepare(ctx context.Context, ev Event) (Event, bool) {
	if ev.Ticket != "" && ev.Service == "" && n.o.Describe != nil {
		dctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
		t, err := n.o.Describe(dctx, ev.Ticket)
		cancel()
		if err != nil {
			n.o.Logger.Warn("notification: describing ticket", "ticket", ev.Ticket, "err", n.red.Error(err))
			return ev, false
		}
		ev.Service, ev.Risk = t.Service, t.Risk
		if ev.PR == 0 {
			ev.PR = t.PR
		}
	}
	ev.Reason = n.red.String(ev.Reason)
	for _, f := range []*string{&ev.ID, &ev.Ticket, &ev.Environment, &ev.Service, &ev.Risk} {
		*f = n.red.Bound(*f, 256)
	}
	return ev, true
}

// update stores p back; an event every sink has is sent.
func (n *Notifier) update(p pending) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := n.st.find(p.Event.ID)
	if i < 0 {
		return
	}
	if p.Sinks != nil && len(p.Sinks) == 0 {
		n.st.Pending = slices.Delete(n.st.Pending, i, i+1)
		n.st.Sent[p.Event.ID] = n.o.Now()
	} else {
		n.st.Pending[i] = p
	}
	n.saveLocked()
}

func (n *Notifier) saveLocked() {
	if err := n.st.save(n.o.StateFile, n.o.Now()); err != nil {
		n.o.Logger.Warn("notification state not saved", "err", err)
	}
}
