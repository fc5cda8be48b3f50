package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/redact"
	"github.com/cabhq/cab/reconcile"
)

// hour keeps the timer out of a test's way.
const hour = time.Hour

func TestNew(t *testing.T) {
	rec := (&counter{}).reconcile
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no reconcile", cfg: Config{}, wantErr: "Config.Reconcile is required"},
		{name: "negative interval", cfg: Config{Reconcile: rec, Interval: -time.Second}, wantErr: "Config.Interval is negative"},
		{name: "negative grace", cfg: Config{Reconcile: rec, Grace: -1}, wantErr: "Config.Grace is negative"},
		{name: "negative body limit", cfg: Config{Reconcile: rec, MaxBody: -1}, wantErr: "Config.MaxBody is negative"},
		{name: "defaults", cfg: Config{Reconcile: rec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "refs/heads/main", s.ref)
			assert.Equal(t, DefaultInterval, s.cfg.Interval)
			assert.Equal(t, DefaultGrace, s.cfg.Grace)
			assert.Equal(t, DefaultShutdownTimeout, s.cfg.ShutdownTimeout)
			assert.Equal(t, int64(DefaultMaxBody), s.cfg.MaxBody)
		})
	}
}

// The branch is watched whichever way it is spelled.
func TestBranch(t *testing.T) {
	for _, branch := range []string{"release", "refs/heads/release"} {
		t.Run(branch, func(t *testing.T) {
			s, base := handlerT(t, Config{Branch: branch, GitHubSecret: githubSecret})
			status, got := githubPush(t, base, "refs/heads/release")
			assert.Equal(t, http.StatusAccepted, status)
			assert.Equal(t, "queued", got.Result)
			_, got = githubPush(t, base, "refs/heads/main")
			assert.Equal(t, "ignored", got.Result, "main is not watched")
			assert.Len(t, s.queue, 1)
		})
	}
}

// A signed webhook from either forge makes a pass run; one that is not
// authenticated does not.
func TestServeWebhookRunsPass(t *testing.T) {
	c := &counter{}
	logs := &logBuffer{}
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: hour, GitHubSecret: githubSecret, GitLabToken: gitlabToken, Logger: jsonLogger(logs)})
	waitPasses(t, s.Server, 1) // the pass at start

	status, _ := githubPush(t, s.url, "refs/heads/main")
	require.Equal(t, http.StatusAccepted, status)
	waitPasses(t, s.Server, 2)

	body := []byte(`{"object_kind":"push","ref":"refs/heads/main","after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}`)
	status, _ = post(t, s.url+"/webhook/gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": string(gitlabToken), "X-Gitlab-Event-UUID": "u-1"}, body)
	require.Equal(t, http.StatusAccepted, status)
	waitPasses(t, s.Server, 3)

	status, _ = post(t, s.url+"/webhook/gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}, body)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = post(t, s.url+"/webhook/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": signGitHub([]byte("guess"), body)}, body)
	require.Equal(t, http.StatusUnauthorized, status)
	assert.Empty(t, s.queue, "refused deliveries queue nothing")
	require.NoError(t, s.stop())
	assert.Equal(t, int32(3), c.calls.Load(), "passes: start, GitHub push, GitLab push")

	// One log line per webhook and per pass.
	hooks := logs.records(t, "webhook")
	require.Len(t, hooks, 4)
	assert.Equal(t, map[string]any{"provider": "github", "event": "push", "delivery": "d-1", "result": "queued", "status": 202.0},
		pick(hooks[0], "provider", "event", "delivery", "result", "status"))
	assert.Equal(t, map[string]any{"provider": "gitlab", "event": "Push Hook", "delivery": "u-1", "result": "queued", "status": 202.0},
		pick(hooks[1], "provider", "event", "delivery", "result", "status"))
	assert.Equal(t, "WARN", hooks[2]["level"], "refused deliveries are warnings")
	pass := logs.records(t, "reconcile pass")
	require.Len(t, pass, 3)
	assert.Equal(t, []any{"start", "github d-1", "gitlab u-1"}, []any{pass[0]["trigger"], pass[1]["trigger"], pass[2]["trigger"]})
	for _, p := range pass {
		assert.Contains(t, p, "duration")
		assert.Equal(t, 0.0, p["steps"])
	}
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// Twenty webhooks during a slow pass queue one more pass, not twenty.
func TestCoalescing(t *testing.T) {
	release := make(chan struct{})
	running := make(chan struct{})
	c := &counter{do: func(ctx context.Context, call int32) (*reconcile.Summary, error) {
		if call == 1 {
			close(running)
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return &reconcile.Summary{}, nil
	}}
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: hour, GitHubSecret: githubSecret})
	select {
	case <-running:
	case <-time.After(wait):
		t.Fatal("the pass at start did not begin")
	}
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for range 20 {
		wg.Go(func() {
			if status, _ := githubPush(t, s.url, "refs/heads/main"); status == http.StatusAccepted {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(20), accepted.Load(), "every webhook is answered at once while the pass runs")
	assert.Equal(t, int32(1), c.calls.Load(), "no second pass while the first runs")
	close(release)
	waitPasses(t, s.Server, 2)
	require.NoError(t, s.stop())
	assert.Equal(t, int32(2), c.calls.Load(), "the running pass and one queued pass")
}

// The timer runs a pass Interval after each one ends.
func TestTimer(t *testing.T) {
	c := &counter{}
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: 5 * time.Millisecond})
	waitPasses(t, s.Server, 4)
	require.NoError(t, s.stop())
	assert.GreaterOrEqual(t, c.calls.Load(), int32(4))
}

func TestHealthz(t *testing.T) {
	step := make(chan error)
	c := &counter{do: func(ctx context.Context, _ int32) (*reconcile.Summary, error) {
		select {
		case err := <-step:
			return &reconcile.Summary{}, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	s, base := handlerT(t, Config{Reconcile: c.reconcile, Interval: hour, Now: func() time.Time {
		return time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	}})
	health := func() (int, string) { return get(t, base+"/healthz") }

	status, body := health()
	assert.Equal(t, http.StatusServiceUnavailable, status, "before the loop runs")
	assert.Equal(t, "reconcile loop not running\n", body)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { st, _ := health(); return st == http.StatusOK }, wait, tick, "healthy while the first pass runs")
	_, body = health()
	assert.Equal(t, "ok\n", body)

	step <- errors.New(`fetching main from https://x-access-token:ghs_TOPSECRET@github.com/acme/changes: authentication required`)
	waitPasses(t, s, 1)
	status, body = health()
	assert.Equal(t, http.StatusServiceUnavailable, status, "after a failing pass")
	assert.Equal(t, "last reconcile pass failed at 2026-12-01T22:00:00Z: fetching main from https://[REDACTED]@github.com/acme/changes: authentication required\n", body)

	s.trigger("test")
	step <- nil
	waitPasses(t, s, 2)
	status, body = health()
	assert.Equal(t, http.StatusOK, status, "after a pass that succeeded again")
	assert.Equal(t, "ok\n", body)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
	status, _ = health()
	assert.Equal(t, http.StatusServiceUnavailable, status, "after the loop stopped")
}

// A panicking pass is a failed pass; the loop goes on.
func TestPanicIsAFailedPass(t *testing.T) {
	c := &counter{do: func(_ context.Context, call int32) (*reconcile.Summary, error) {
		if call == 1 {
			panic("engine bug")
		}
		return &reconcile.Summary{}, nil
	}}
	s := serveT(t, Config{Reconcile: c.reconcile, Interval: hour, GitHubSecret: githubSecret})
	waitPasses(t, s.Server, 1)
	status, body := get(t, s.url+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "reconcile pass panicked: engine bug")
	assert.Equal(t, 1.0, metric(t, s.Server, "cab_reconcile_errors_total"))

	githubPush(t, s.url, "refs/heads/main")
	waitPasses(t, s.Server, 2)
	status, _ = get(t, s.url+"/healthz")
	assert.Equal(t, http.StatusOK, status)
}

func TestShutdown(t *testing.T) {
	const grace = 50 * time.Millisecond
	// stopping waits (bounded) until s's loop is shutting down.
	stopping := func(s *Server) {
		for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(tick) {
			s.mu.Lock()
			running := s.running
			s.mu.Unlock()
			if !running {
				return
			}
		}
	}
	tests := []struct {
		name string
		// pass runs as the pass at start.
		pass        func(ctx context.Context, s *Server) error
		wantErr     error
		wantCancel  bool // the pass saw its context cancelled
		minDuration time.Duration
	}{
		{
			name: "pass finishes within the grace",
			pass: func(ctx context.Context, s *Server) error {
				stopping(s)
				time.Sleep(grace / 5)
				return ctx.Err()
			},
		},
		{
			name: "pass cancelled after the grace",
			pass: func(ctx context.Context, _ *Server) error {
				<-ctx.Done()
				return ctx.Err()
			},
			wantCancel:  true,
			minDuration: grace,
		},
		{
			name: "pass ignoring cancellation is abandoned",
			pass: func(ctx context.Context, _ *Server) error {
				<-ctx.Done()
				time.Sleep(10 * grace) // ignores it for a while
				return ctx.Err()
			},
			wantErr:     ErrAbandoned,
			wantCancel:  true,
			minDuration: 2 * grace,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			type result struct{ err error }
			passDone := make(chan result, 1)
			srv := make(chan *Server, 1)
			c := &counter{do: func(ctx context.Context, call int32) (*reconcile.Summary, error) {
				if call > 1 {
					t.Errorf("pass %d started during shutdown", call)
					return nil, nil
				}
				close(started)
				err := tt.pass(ctx, <-srv)
				passDone <- result{err}
				return &reconcile.Summary{}, err
			}}
			s := serveT(t, Config{Reconcile: c.reconcile, Interval: hour, Grace: grace, ShutdownTimeout: grace, GitHubSecret: githubSecret})
			srv <- s.Server
			select {
			case <-started:
			case <-time.After(wait):
				t.Fatal("the pass did not start")
			}
			status, _ := githubPush(t, s.url, "refs/heads/main") // queued: never runs
			require.Equal(t, http.StatusAccepted, status)
			begin := time.Now()
			err := s.stop()
			took := time.Since(begin)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				select {
				case r := <-passDone:
					if tt.wantCancel {
						assert.ErrorIs(t, r.err, context.Canceled, "the pass's context was cancelled")
					} else {
						assert.NoError(t, r.err, "the pass's context was not cancelled")
					}
				default:
					t.Error("Serve returned before the pass did")
				}
			}
			assert.GreaterOrEqual(t, took, tt.minDuration, "Serve returned before the grace was over")
			assert.Less(t, took, wait, "Serve took too long")
			_, err = client.Get(s.url + "/healthz")
			assert.Error(t, err, "the listener is closed after Serve returns")
			assert.Equal(t, int32(1), c.calls.Load(), "the queued pass did not run")
		})
	}
}

// Serve stops its goroutines: the loop, the HTTP server and its
// connections.
func TestServeNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		c := &counter{}
		s, err := New(Config{Reconcile: c.reconcile, Interval: time.Millisecond, GitHubSecret: githubSecret})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx, ln) }()
		waitPasses(t, s, 3)
		client := &http.Client{Transport: &http.Transport{}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/metrics", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		client.CloseIdleConnections()
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(wait):
			t.Fatal("Serve did not return")
		}
	}
	// Not require.Eventually: it polls from a goroutine of its own.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(wait); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(tick)
	}
	assert.LessOrEqual(t, after, before, "goroutines: %d before, %d after Serve returned", before, after)
}

// Run refuses to run a second loop on one Server.
func TestRunTwice(t *testing.T) {
	s, _ := handlerT(t, Config{Interval: hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitPasses(t, s, 1)
	require.ErrorContains(t, s.Run(ctx), "Run called twice")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no url here", "no url here"},
		{"fetch https://github.com/acme/changes: 404", "fetch https://github.com/acme/changes: 404"},
		{"fetch https://oauth2:glpat-abc@gitlab.com/acme/c.git failed", "fetch https://[REDACTED]@gitlab.com/acme/c.git failed"},
		{"a ssh://git@host/x and http://u:p@h/y", "a ssh://[REDACTED]@host/x and http://[REDACTED]@h/y"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, redact.String(tt.in), "redact.String(%q)", tt.in)
	}
}
