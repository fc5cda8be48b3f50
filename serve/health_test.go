package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/reconcile"
)

// probes returns the status of /healthz, /readyz and /livez, and the
// body of /healthz.
func probes(t *testing.T, url string) (health, ready, live int, body string) {
	t.Helper()
	health, body = get(t, url+"/healthz")
	ready, _ = get(t, url+"/readyz")
	live, _ = get(t, url+"/livez")
	return health, ready, live, body
}

// TestHealthConditions drives a server through the states an operator
// must see: passes that keep failing, a ledger the server refuses, an
// overdue pass, a wedged one, a condition set from outside (the ledger's
// rewrite hook), and recovery.
func TestHealthConditions(t *testing.T) {
	rejected := fmt.Errorf("pushing ledger cab/ledger to origin: %w",
		&gitpush.RejectedError{Ref: "refs/heads/cab/ledger", Status: "pre-receive hook declined", Remote: "GH006: Protected branch"})
	block := make(chan struct{})
	results := make(chan error, 10)
	c := &counter{do: func(ctx context.Context, _ int32) (*reconcile.Summary, error) {
		err := <-results
		if errors.Is(err, errBlock) {
			select {
			case <-block:
			case <-ctx.Done():
			}
			return &reconcile.Summary{}, nil
		}
		return &reconcile.Summary{}, err
	}}
	s := serveT(t, Config{Reconcile: c.reconcile, GitHubSecret: githubSecret, Interval: time.Hour,
		PassWarn: 50 * time.Millisecond, PassWedged: 300 * time.Millisecond})

	// Three failures in a row: /healthz and /readyz say so, /livez does not
	// (restarting does not fix a failing remote).
	for i := 1; i <= 3; i++ {
		results <- errors.New("fetching main: connection refused")
		if i > 1 {
			githubPush(t, s.url, "refs/heads/main")
		}
		waitPasses(t, s.Server, i)
	}
	health, ready, live, body := probes(t, s.url)
	assert.Equal(t, []int{503, 503, 200}, []int{health, ready, live})
	assert.Contains(t, body, "3 reconcile passes in a row failed, since ")
	assert.Contains(t, body, "connection refused")

	// The ledger refused by the server: named as such, with its reason.
	results <- rejected
	githubPush(t, s.url, "refs/heads/main")
	waitPasses(t, s.Server, 4)
	health, ready, live, body = probes(t, s.url)
	assert.Equal(t, []int{503, 503, 200}, []int{health, ready, live})
	assert.Contains(t, body, "the ledger cannot be pushed: ")
	assert.Contains(t, body, "GH006: Protected branch")

	// A good pass clears both.
	results <- nil
	githubPush(t, s.url, "refs/heads/main")
	waitPasses(t, s.Server, 5)
	health, ready, live, body = probes(t, s.url)
	assert.Equal(t, []int{200, 200, 200}, []int{health, ready, live}, body)

	// A pass that runs past PassWarn: /healthz only; past PassWedged:
	// /livez too.
	results <- errBlock
	githubPush(t, s.url, "refs/heads/main")
	require.Eventually(t, func() bool { st, _ := get(t, s.url+"/healthz"); return st == 503 }, wait, tick)
	_, body = get(t, s.url+"/healthz")
	assert.Contains(t, body, "reconcile pass running for")
	st, _ := get(t, s.url+"/readyz")
	assert.Equal(t, 200, st, "a slow pass is not a reason to stop taking webhooks")
	require.Eventually(t, func() bool { st, _ := get(t, s.url+"/livez"); return st == 503 }, wait, tick, "wedged")
	close(block)
	waitPasses(t, s.Server, 6)
	health, ready, live, _ = probes(t, s.url)
	assert.Equal(t, []int{200, 200, 200}, []int{health, ready, live})

	// A condition set from outside.
	s.SetCondition(CondLedgerRewritten, errors.New("ledger rewritten: checkpoint abc is no longer in its history"))
	health, ready, live, body = probes(t, s.url)
	assert.Equal(t, []int{503, 503, 200}, []int{health, ready, live})
	assert.Contains(t, body, "checkpoint abc")
	s.SetCondition(CondLedgerRewritten, nil)
	health, _, _, _ = probes(t, s.url)
	assert.Equal(t, 200, health)
}

var errBlock = errors.New("block until released")

// TestWebhookBodySlots: while MaxBodies bodies are being read, another
// delivery is refused at once with 503 and Retry-After, without reading
// it; a body slower than BodyTimeout is cut off with 408 and frees its
// slot.
func TestWebhookBodySlots(t *testing.T) {
	c := &counter{}
	s := serveT(t, Config{Reconcile: c.reconcile, GitHubSecret: githubSecret, Interval: time.Hour,
		MaxBodies: 1, BodyTimeout: 300 * time.Millisecond})

	// A slow sender takes the only slot: headers, then part of the body.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /webhook/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=%s\r\nContent-Length: 100\r\n\r\n{\"ref\":", strings.Repeat("0", 64))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(s.bodies) == 1 }, wait, tick, "the slow body holds the slot")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/webhook/github", strings.NewReader(`{"ref":"refs/heads/main"}`))
	require.NoError(t, err)
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Equal(t, 1.0, metric(t, s.Server, "cab_webhooks_total", "provider", "github", "result", resultBusy))

	// The slow body runs out of time: 408, and the slot is free again.
	buf := make([]byte, 512)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(wait)))
	n, _ := conn.Read(buf)
	assert.Contains(t, string(buf[:n]), "408")
	require.Eventually(t, func() bool { return len(s.bodies) == 0 }, wait, tick)
	status, _ := githubPush(t, s.url, "refs/heads/main")
	assert.Equal(t, http.StatusAccepted, status)
}

// TestHealthyHook: while Config.Healthy reports a problem (the reconciler
// stopped on a rewritten ledger), /healthz and /readyz answer 503 with it,
// credentials scrubbed, even between passes that return nothing wrong;
// /livez stays 200 (a restart does not fix a ledger); once it clears, 200.
func TestHealthyHook(t *testing.T) {
	var stopped atomic.Pointer[error]
	s, base := handlerT(t, Config{Interval: time.Hour, Healthy: func() error {
		if p := stopped.Load(); p != nil {
			return *p
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { st, _ := get(t, base+"/healthz"); return st == http.StatusOK }, wait, tick)

	err := errors.New("STOPPED, nothing applied: the ledger was rewritten (https://x-access-token:ghs_SECRET0123456789abcdefghijklmnopqrstu@github.com/acme/changes)")
	stopped.Store(&err)
	health, ready, live, body := probes(t, base)
	assert.Equal(t, http.StatusServiceUnavailable, health)
	assert.Equal(t, http.StatusServiceUnavailable, ready)
	assert.Equal(t, http.StatusOK, live)
	assert.Contains(t, body, "STOPPED, nothing applied: the ledger was rewritten")
	assert.NotContains(t, body, "ghs_SECRET")

	stopped.Store(nil)
	status, _ := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, status)
	cancel()
	require.NoError(t, <-done)
}
