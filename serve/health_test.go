package serve

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHealthyHook: while Config.Healthy reports a problem (the reconciler
// stopped on a rewritten ledger), /healthz answers 503 with it, even
// between passes that return nothing wrong; once it clears, 200.
func TestHealthyHook(t *testing.T) {
	var stopped atomic.Pointer[error]
	s, base := handlerT(t, Config{Interval: hour, Healthy: func() error {
		if p := stopped.Load(); p != nil {
			return *p
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { st, _ := get(t, base+"/healthz"); return st == http.StatusOK }, wait, tick)

	err := errors.New("STOPPED, nothing applied: the ledger was rewritten (https://x-access-token:ghs_SECRET@github.com/acme/changes)")
	stopped.Store(&err)
	status, body := get(t, base+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "unhealthy: STOPPED, nothing applied: the ledger was rewritten (https://REDACTED@github.com/acme/changes)\n", body)

	stopped.Store(nil)
	status, _ = get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, status)
	cancel()
	require.NoError(t, <-done)
}
