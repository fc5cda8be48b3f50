package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// DefaultMaxBody is the largest webhook body read: 25 MiB, GitHub's
	// limit for a delivery.
	DefaultMaxBody = 25 << 20
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

	mu      sync.Mutex
	running bool      // the loop runs and is not shutting down
	lastErr error     // of the last finished pass
	lastEnd time.Time // of the last finished pass
	heard   int       // steps the observer heard in the current pass
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		cfg:   cfg,
		ref:   "refs/heads/" + branch,
		log:   log,
		m:     newMetrics(),
		queue: make(chan string, 1),
	}, nil
}

// Handler returns the server's routes: /webhook/github, /webhook/gitlab,
// /healthz and /metrics (see the package documentation).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhook/github", s.github)
	mux.HandleFunc("POST /webhook/gitlab", s.gitlab)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.m.handler())
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
	for {
		if ctx.Err() != nil { // a queued trigger starts nothing once shutting down
			return nil
		}
		var reason string
		select {
		case <-ctx.Done():
			return nil
		case reason = <-s.queue:
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
			s.pass(passCtx, reason)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			s.setRunning(false)
			return s.drain(done, cancelPass)
		}
		timer.Reset(s.cfg.Interval)
	}
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
	s.mu.Lock()
	s.heard = 0
	s.mu.Unlock()
	start := time.Now()
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

	s.mu.Lock()
	s.lastErr, s.lastEnd = err, end
	s.mu.Unlock()

	attrs := []any{"trigger", reason, "duration", took, "steps", steps}
	if sum != nil && sum.LedgerHead != "" {
		attrs = append(attrs, "ledger", sum.LedgerHead)
	}
	if err != nil {
		s.log.Error("reconcile pass failed", append(attrs, "err", redact(err.Error()))...)
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

// healthz answers 200 "ok" while the loop runs and the last pass succeeded
// (or none has finished yet), and 503 with the reason otherwise.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	running, lastErr, lastEnd := s.running, s.lastErr, s.lastEnd
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case !running:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "reconcile loop not running")
	case s.unhealthy(w):
	case lastErr != nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "last reconcile pass failed at %s: %s\n", lastEnd.UTC().Format(time.RFC3339), redact(lastErr.Error()))
	default:
		fmt.Fprintln(w, "ok")
	}
}

// userinfo matches the credentials of a URL ("https://user:token@host").
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// redact hides credentials embedded in URLs (a remote such as
// https://x-access-token:TOKEN@github.com/...) before an error is shown on
// the unauthenticated /healthz or logged.
func redact(s string) string {
	return userinfo.ReplaceAllString(s, "${1}REDACTED@")
}
