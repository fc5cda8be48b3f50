package gitpush

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
)

// TestPushRejectedByHook pushes to C git's http-backend whose pre-receive
// hook declines: the error is a *RejectedError carrying the hook's reason
// (scrubbed), not ErrMoved; once the hook accepts, the same push lands.
func TestPushRejectedByHook(t *testing.T) {
	srv := gittest.NewServer(t)
	bare, url := srv.Bare(t, "ledger")
	flag := gittest.Decline(t, bare, "protected branch: cab/ledger is read-only here (token ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8)")

	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	require.NoError(t, err)
	head := commit(t, repo, dir, "a.txt", "a")
	ref := plumbing.NewBranchReferenceName("main")

	err = Push(context.Background(), repo, "origin", nil, ref, plumbing.ZeroHash, head, nil)
	require.ErrorIs(t, err, ErrRejected)
	assert.NotErrorIs(t, err, ErrMoved, "a refusal is not a lost swap")
	var rej *RejectedError
	require.True(t, errors.As(err, &rej))
	assert.Equal(t, ref, rej.Ref)
	assert.Contains(t, rej.Status, "pre-receive hook declined")
	assert.Contains(t, rej.Remote, "protected branch: cab/ledger is read-only here")
	assert.NotContains(t, err.Error(), "ghp_1A2b", "server text is scrubbed")

	require.NoError(t, os.Remove(flag))
	require.NoError(t, Push(context.Background(), repo, "origin", nil, ref, plumbing.ZeroHash, head, nil))
	assert.Equal(t, head.String(), gittest.Git(t, bare, "rev-parse", "main"))
}

// TestPushHangingRemote pushes to a remote that accepts the connection
// and never answers: the bound of the context ends the push with
// ErrTimeout; cancelling the context (SIGTERM) ends it at once too.
func TestPushHangingRemote(t *testing.T) {
	url := gittest.Silent(t)
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	require.NoError(t, err)
	head := commit(t, repo, dir, "a.txt", "a")
	ref := plumbing.NewBranchReferenceName("main")

	ctx := WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	err = Push(ctx, repo, "origin", nil, ref, plumbing.ZeroHash, head, nil)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "did not answer in time (300ms)")
	assert.Less(t, time.Since(start), time.Minute, "bounded by the timeout, not by TCP")

	cctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	err = Push(cctx, repo, "origin", nil, ref, plumbing.ZeroHash, head, nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrTimeout, "a cancellation is not a timeout")
}

func TestCallDefault(t *testing.T) {
	call, cancel := Call(context.Background())
	defer cancel()
	dl, ok := call.Deadline()
	require.True(t, ok, "every call has a deadline")
	assert.InDelta(t, DefaultTimeout.Seconds(), time.Until(dl).Seconds(), 5)
	assert.NoError(t, Err(call, nil))
}

// TestRefusedReadsNoWords: every refusal receive-pack reports is a
// *RejectedError whatever its words, the ones C git uses for a race lost
// inside the server included; the caller reads the ref back to tell a
// race (gitx.CompareAndSwap). Only the refused ref counts.
func TestRefusedReadsNoWords(t *testing.T) {
	ref := plumbing.NewBranchReferenceName("cab/ledger")
	for _, status := range []string{"failed to lock", "cannot lock ref 'refs/heads/cab/ledger'", "non-fast-forward", "pre-receive hook declined"} {
		t.Run(status, func(t *testing.T) {
			rs := &packp.ReportStatus{UnpackStatus: "ok", CommandStatuses: []*packp.CommandStatus{
				{ReferenceName: "refs/heads/other", Status: "ok"},
				{ReferenceName: ref, Status: status},
			}}
			err := refused(rs, ref, "  remote: said so \n")
			var rej *RejectedError
			require.ErrorAs(t, err, &rej)
			assert.NotErrorIs(t, err, ErrMoved)
			assert.Equal(t, status, rej.Status)
			assert.Equal(t, "remote: said so", rej.Remote)
		})
	}
	ok := &packp.ReportStatus{UnpackStatus: "ok", CommandStatuses: []*packp.CommandStatus{{ReferenceName: ref, Status: "ok"}}}
	assert.NoError(t, refused(ok, ref, ""))
	assert.NoError(t, refused(nil, ref, ""))
}
