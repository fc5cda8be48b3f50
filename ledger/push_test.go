package ledger

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/internal/gittest"
)

// TestPushDeclinedByHook: a pre-receive hook that declines (a protected
// branch) is reported at once with the server's reason, not retried
// MaxAttempts times as contention; once the hook accepts, the same
// transaction lands.
func TestPushDeclinedByHook(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	dir, url := srv.Bare(t, "declined")
	flag := gittest.Decline(t, dir, "GH006: Protected branch update failed for refs/heads/cab/ledger")

	l := Open(clone(t, url), "origin", "")
	decided := 0
	decide := func(*Log) ([]Event, error) {
		decided++
		return []Event{{Ticket: "CHG-2026-0001", Kind: KindSigned}}, nil
	}
	_, err := l.Update(ctx, decide)
	require.ErrorIs(t, err, gitpush.ErrRejected)
	assert.NotErrorIs(t, err, ErrContention)
	assert.Contains(t, err.Error(), "pre-receive hook declined")
	assert.Contains(t, err.Error(), "GH006: Protected branch update failed", "the server's reason")
	assert.Equal(t, 1, decided, "a refusal is not retried")

	require.NoError(t, os.Remove(flag))
	log, err := l.Update(ctx, decide)
	require.NoError(t, err)
	assert.Len(t, log.Events(), 1)
}

// TestHangingRemote: a ledger remote that accepts the connection and
// never answers fails Read and Update within the bound the context
// carries, instead of hanging the pass.
func TestHangingRemote(t *testing.T) {
	l := Open(clone(t, gittest.Silent(t)), "origin", "")
	ctx := gitpush.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	_, err := l.Read(ctx)
	require.ErrorIs(t, err, gitpush.ErrTimeout)
	_, err = l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Kind: KindSigned}))
	require.ErrorIs(t, err, gitpush.ErrTimeout)
	assert.Less(t, time.Since(start), time.Minute)
}
