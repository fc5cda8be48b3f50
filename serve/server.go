package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabhq/cab/drift"
	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/reconcile"
)

// Defaults of the Config fields left zero.
const (
	// DefaultBranch is the branch whose pushes trigger a pass.
	DefaultBranch = "main"
	// DefaultInterval is the time from the end of one pass to the timer's
	// next one.
	DefaultInterval = time.Minute
	// DefaultGrace is how long a running pass may go on after shutdown
	// begins before its context is cancelled.
	DefaultGrace = 30 * time.Second
	// DefaultShutdownTimeout bounds http.Server.Shutdown, and how long a
	// cancelled pass may take to return.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultMaxBody is the largest webhook body read: 1 MiB. A GitHub
	// body is read whole before its signature can be checked, so this is
	// unauthenticated memory; GitHub caps deliveries at 25 MB, but cab
	// only needs ref, after and deleted, and a push event with its
	// commit list stays far below 1 MiB unless thousands of commits are
	// pushed at once. Such a delivery is refused (413) and the timer's
	// pass (Interval) picks the push up: a lost webhook costs at most one
	// interval, never a change.
	DefaultMaxBody = 1 << 20
	// DefaultMaxBodies is how many webhook bodies are read at once; more
	// concurrent deliveries are refused with 503 and Retry-After. With
	// DefaultMaxBody this bounds the memory unauthenticated requests can
	// hold to a few MiB, whatever the flood.
	DefaultMaxBodies = 4
	// DefaultBodyTimeout bounds the reading of one webhook body, so that a
	// slow sender cannot hold one of the MaxBodies slots for long.
	DefaultBodyTimeout = 10 * time.Second
	// DefaultPassWarn is how long a pass may run before /healthz reports
	// it (the lease: a step older than that may be taken over).
	DefaultPassWarn = reconcile.DefaultLease
	// DefaultPassWedged is how long a pass may run before /livez fails and
	// an orchestrator restarts the daemon (the next start resumes).
	DefaultPassWedged = time.Hour
	// DefaultSLATimeout bounds one approval-SLA poll: it runs in the loop,
	// so a forge that hangs delays the next pass by at most this much.
	DefaultSLATimeout = time.Minute
)

// ErrAbandoned is returned by Run and Serve when the running pass did not
// return within Config.ShutdownTimeout after its context was cancelled.
var ErrAbandoned = errors.New("reconcile pass abandoned: it did not return after its context was cancelled")

// Config configures a Server. Only Reconcile is required.
type Config struct {
	// Reconcile runs one pass: bring the checkout of main and the ledger
	// up to date and apply what is due. It is called from one goroutine
	// at a time. Its context is cancelled Grace after shutdown begins; it
	// must then abandon the current step safely and return.
	Reconcile func(ctx context.Context) (*reconcile.Summary, error)
	// Branch is the branch whose pushes trigger a pass ("main" or
	// "refs/heads/main"); DefaultBranch when empty.
	Branch string
	// GitHubSecret is the secret of the GitHub webhook. Empty: the
	// /webhook/github route answers 404.
	GitHubSecret []byte
	// GitLabToken is the secret token of the GitLab webhook. Empty: the
	// /webhook/gitlab route answers 404.
	GitLabToken []byte
	// Interval is the time from the end of one pass to the timer's next;
	// DefaultInterval when zero.
	Interval time.Duration
	// Grace is how long a running pass may go on once shutdown begins;
	// DefaultGrace when zero.
	Grace time.Duration
	// ShutdownTimeout bounds the HTTP server's shutdown and the wait for a
	// cancelled pass; DefaultShutdownTimeout when zero.
	ShutdownTimeout time.Duration
	// MaxBody is the largest webhook body accepted (413 beyond);
	// DefaultMaxBody when zero.
	MaxBody int64
	// MaxBodies bounds the webhook bodies read at once (503 with
	// Retry-After beyond); DefaultMaxBodies when zero.
	MaxBodies int
	// BodyTimeout bounds the reading of one body (408 beyond);
	// DefaultBodyTimeout when zero.
	BodyTimeout time.Duration
	// PassWarn is how long a pass may run before /healthz fails;
	// DefaultPassWarn when zero.
	PassWarn time.Duration
	// PassWedged is how long a pass may run before /livez fails;
	// DefaultPassWedged when zero.
	PassWedged time.Duration
	// Redactor scrubs credentials out of errors before /healthz shows
	// them or they are logged (nil: the known token formats only).
	Redactor *redact.Redactor
	// Logger receives one line per webhook, pass and step; nothing is
	// logged when nil.
	Logger *slog.Logger
	// Now returns the wall clock for timestamps; time.Now when nil.
	// Durations always use the monotonic clock.
	Now func() time.Time
	// Healthy, when set, is asked by /healthz on every request: an error
	// makes it answer 503 with the error (e.g. the reconciler stopped on
	// a ledger that is not its checkpoint plus added events).
	Healthy func() error
	// Drift, when set with a positive DriftInterval, checks the
	// environments for drift (reconcile.Reconciler.Drift) every
	// DriftInterval, in the loop that runs the passes (never at the same
	// time as one); its findings set the cab_drift gauge.
	Drift         func(ctx context.Context) ([]drift.Finding, error)
	DriftInterval time.Duration
	// SLA, when set with a positive SLAInterval, polls the open pull
	// requests for approval-SLA breaches every SLAInterval, in the loop
	// that runs the passes (never at the same time as one). It returns how
	// many breaches it notified for the first time (one per pull request
	// and escalation level), which cab_approval_sla_breaches_total counts.
	// A poll's context ends after SLATimeout (default DefaultSLATimeout):
	// a forge that is down delays reconciling by at most that much, and
	// is polled again at the next interval.
	SLA         func(ctx context.Context) (int, error)
	SLAInterval time.Duration
	SLATimeout  time.Duration
	// UI, when set, is mounted at /ui/ (the read-only web UI, package
	// webui); it does its own authentication.
	UI http.Handler
}

// Server is the reconciler daemon: a reconcile loop and the HTTP handler
// that feeds it. Make one with New.
type Server struct {
	cfg Config
	ref string // refs/heads/<branch>
	log *slog.Logger
	m   *metrics

	// queue holds the one pass that may wait while another runs.
	queue   chan string
	started atomic.Bool

	redact *redact.Redactor
	// bodies holds a token per webhook body being read.
	bodies chan struct{}

	mu           sync.Mutex
	running      bool                 // the loop runs and is not shutting down
	passStart    time.Time            // of the running pass; zero when none runs
	failures     int                  // passes in a row that failed
	failingSince time.Time            // end of the first of them
	conds        map[string]condition // failing conditions by name
	heard        int                  // steps the observer heard in the current pass
}

// New checks cfg, fills in its defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Reconcile == nil {
		return nil, errors.New("serve: Config.Reconcile is required")
	}
	branch := strings.TrimPrefix(cfg.Branch, "refs/heads/")
	if branch == "" {
		branch = DefaultBranch
	}
	cfg.Branch = branch
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Interval", &cfg.Interval, DefaultInterval},
		{"Grace", &cfg.Grace, DefaultGrace},
		{"ShutdownTimeout", &cfg.ShutdownTimeout, DefaultShutdownTimeout},
		{"BodyTimeout", &cfg.BodyTimeout, DefaultBodyTimeout},
		{"PassWarn", &cfg.PassWarn, DefaultPassWarn},
		{"PassWedged", &cfg.PassWedged, DefaultPassWedged},
		{"SLATimeout", &cfg.SLATimeout, DefaultSLATimeout},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("serve: Config.%s is negative (%s): use a positive duration, or zero for the default %s", d.name, *d.v, d.def)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case cfg.MaxBody < 0:
		return nil, fmt.Errorf("serve: Config.MaxBody is negative (%d)", cfg.MaxBody)
	case cfg.MaxBody == 0:
		cfg.MaxBody = DefaultMaxBody
	}
	switch {
	case cfg.MaxBodies < 0:
		return nil, fmt.Errorf("serve: Config.MaxBodies is negative (%d)", cfg.MaxBodies)
	case cfg.MaxBodies == 0:
		cfg.MaxBodies = DefaultMaxBodies
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		cfg:    cfg,
		ref:    "refs/heads/" + branch,
		log:    log,
		m:      newMetrics(),
		queue:  make(chan string, 1),
		redact: cfg.Redactor,
		bodies: make(chan struct{}, cfg.MaxBodies),
		conds:  map[string]condition{},
	}, nil
}

// Handler returns the server's routes: /webhook/github, /webhook/gitlab,
// /healthz, /livez, /readyz and /metrics (see the package documentation).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhook/github", s.github)
	mux.HandleFunc("POST /webhook/gitlab", s.gitlab)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /livez", s.livez)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.m.handler())
	if s.cfg.UI != nil {
		mux.Handle("/ui/", s.cfg.UI)
	}
	return mux
}

// Observer returns the observer to give the reconcile engine: it counts
// each step in the metrics and logs it as it happens.
func (s *Server) Observer() reconcile.Observer { return observer{s} }

type observer struct{ s *Server }

// Step implements reconcile.Observer.
func (o observer) Step(st reconcile.Step) {
	o.s.mu.Lock()
	o.s.heard++
	o.s.mu.Unlock()
	o.s.step(st)
}

func (s *Server) step(st reconcile.Step) {
	s.m.step(st)
	attrs := []any{"ticket", st.Ticket, "env", st.Env, "kind", st.Kind}
	if st.Reason != "" {
		attrs = append(attrs, "reason", st.Reason)
	}
	if len(st.Changes) > 0 {
		attrs = append(attrs, "changes", st.Changes)
	}
	if st.Duration > 0 {
		attrs = append(attrs, "duration", st.Duration)
	}
	s.log.Info("step", attrs...)
}

// Serve answers HTTP on ln and runs the reconcile loop until ctx is
// cancelled, then shuts down gracefully: the HTTP server stops accepting
// requests (bounded by Config.ShutdownTimeout) while the running pass gets
// Config.Grace to finish before its context is cancelled. Serve returns
// nil after a clean shutdown, ErrAbandoned when the pass did not return
// after cancellation, or the error that stopped the HTTP server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	loopDone := make(chan error, 1)
	go func() { loopDone <- s.Run(loopCtx) }()
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", addr, "branch", s.cfg.Branch, "interval", s.cfg.Interval,
		"github", len(s.cfg.GitHubSecret) > 0, "gitlab", len(s.cfg.GitLabToken) > 0)

	var err error
	loopEnded, httpEnded := false, false
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "cause", context.Cause(ctx), "grace", s.cfg.Grace)
	case e := <-httpDone:
		httpEnded = true
		err = fmt.Errorf("serving HTTP on %s: %w", addr, e)
		s.log.Error("HTTP server stopped: shutting down", "err", e)
	case e := <-loopDone:
		loopEnded = true
		err = e
	}
	stopLoop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if e := hs.Shutdown(sctx); e != nil {
		s.log.Warn("HTTP shutdown timed out: closing the remaining connections", "err", e)
		_ = hs.Close()
	}
	if !httpEnded {
		<-httpDone // http.ErrServerClosed, now that Shutdown was called
	}
	if !loopEnded {
		if e := <-loopDone; e != nil && err == nil {
			err = e
		}
	}
	if err == nil {
		s.log.Info("stopped")
	}
	return err
}

// Run runs the reconcile loop until ctx is cancelled: one pass at start,
// one Config.Interval after each pass ends, and one for each queued
// webhook. When ctx is cancelled during a pass, the pass gets
// Config.Grace to finish; then its context is cancelled and Run waits up
// to Config.ShutdownTimeout more for it (ErrAbandoned when it does not
// return). Serve calls Run; call it directly only to run the loop without
// serving HTTP. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("serve: Run called twice: a Server runs one loop")
	}
	s.setRunning(true)
	defer s.setRunning(false)
	// A pass is not cancelled with ctx but Grace later.
	passCtx, cancelPass := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPass()

	s.trigger("start")
	timer := time.NewTimer(s.cfg.Interval)
	defer timer.Stop()
	var driftC <-chan time.Time
	if s.cfg.Drift != nil && s.cfg.DriftInterval > 0 {
		t := time.NewTicker(s.cfg.DriftInterval)
		defer t.Stop()
		driftC = t.C
	}
	var slaC <-chan time.Time
	if s.cfg.SLA != nil && s.cfg.SLAInterval > 0 {
		t := time.NewTicker(s.cfg.SLAInterval)
		defer t.Stop()
		slaC = t.C
	}
	for {
		if ctx.Err() != nil { // a queued trigger starts nothing once shutting down
			return nil
		}
		var reason string
		select {
		case <-ctx.Done():
			return nil
		case reason = <-s.queue:
		case <-driftC:
			reason = "drift"
		case <-slaC:
			reason = "sla"
		case <-timer.C:
			reason = "timer"
			select { // a queued webhook is served by this pass too
			case <-s.queue:
			default:
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			switch reason {
			case "drift":
				s.drift(passCtx)
				return
			case "sla":
				s.sla(passCtx)
				return
			}
			s.pass(passCtx, reason)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.setRunning(false)
			return s.drain(done, cancelPass)
		}
		if reason != "drift" && reason != "sla" {
			timer.Reset(s.cfg.Interval)
		}
	}
}

// sla runs one approval-SLA poll and counts the breaches it notified; a
// failed poll is logged and tried again at the next interval.
func (s *Server) sla(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SLATimeout)
	defer cancel()
	n, err := s.cfg.SLA(ctx)
	s.m.slaBreaches.Add(float64(n))
	if err != nil {
		s.log.Error("approval SLA poll failed", "err", s.redact.String(err.Error()))
		return
	}
	s.log.Info("approval SLAs polled", "breaches", n)
}

// drift runs one drift check and sets the cab_drift gauge from it; a
// failed check leaves the gauge as it was.
func (s *Server) drift(ctx context.Context) {
	fs, err := s.cfg.Drift(ctx)
	if err != nil {
		s.log.Error("drift check failed", "err", s.redact.String(err.Error()))
		return
	}
	s.m.drift(fs)
	n := 0
	for _, f := range fs {
		if f.Drifted {
			n++
		}
	}
	s.log.Info("drift checked", "keys", len(fs), "drifted", n)
}

// drain waits for the running pass to finish during shutdown: Grace
// first, then cancellation and ShutdownTimeout.
func (s *Server) drain(done <-chan struct{}, cancelPass context.CancelFunc) error {
	s.log.Info("waiting for the running pass", "grace", s.cfg.Grace)
	grace := time.NewTimer(s.cfg.Grace)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-grace.C:
	}
	s.log.Warn("grace period over: cancelling the running pass; the reconciler resumes an interrupted apply on its next start")
	cancelPass()
	hard := time.NewTimer(s.cfg.ShutdownTimeout)
	defer hard.Stop()
	select {
	case <-done:
		return nil
	case <-hard.C:
		s.log.Error("the cancelled pass did not return: abandoning it", "waited", s.cfg.ShutdownTimeout)
		return ErrAbandoned
	}
}

// trigger queues a pass unless one is queued already, and reports whether
// it queued one (false: coalesced into the queued pass).
func (s *Server) trigger(reason string) bool {
	select {
	case s.queue <- reason:
		return true
	default:
		s.log.Debug("pass already queued: trigger coalesced", "trigger", reason)
		return false
	}
}

// pass runs one reconcile pass and records its outcome.
func (s *Server) pass(ctx context.Context, reason string) {
	start := time.Now()
	s.mu.Lock()
	s.heard = 0
	s.passStart = start
	s.mu.Unlock()
	sum, err := s.call(ctx)
	took := time.Since(start)
	end := s.cfg.Now()

	s.mu.Lock()
	heard := s.heard
	s.mu.Unlock()
	var states map[string]int
	steps := 0
	if sum != nil {
		// Steps the observer did not hear (an engine not given it) are
		// counted now; Summary.Steps is in the order they happened, so
		// the heard ones are its prefix.
		for i := heard; i < len(sum.Steps); i++ {
			s.step(sum.Steps[i])
		}
		states, steps = sum.States, len(sum.Steps)
	}
	s.m.pass(states, err, took, end)

	s.passEnded(err)

	attrs := []any{"trigger", reason, "duration", took, "steps", steps}
	if sum != nil && sum.LedgerHead != "" {
		attrs = append(attrs, "ledger", sum.LedgerHead)
	}
	if err != nil {
		s.log.Error("reconcile pass failed", append(attrs, "err", s.redact.String(err.Error()))...)
		return
	}
	s.log.Info("reconcile pass", attrs...)
}

// call runs Config.Reconcile, turning a panic into an error so that one
// bad pass does not take the daemon down.
func (s *Server) call(ctx context.Context) (sum *reconcile.Summary, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("reconcile pass panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			sum, err = nil, fmt.Errorf("reconcile pass panicked: %v", r)
		}
	}()
	return s.cfg.Reconcile(ctx)
}

func (s *Server) setRunning(v bool) {
	s.mu.Lock()
	s.running = v
	s.mu.Unlock()
}
