package escalate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/notify"
)

// A poll that finds an open pull request past its SLA tells the approver
// group once; after the escalation interval the backup group once; and
// never the same level twice, however often it polls. The head comes from
// the forge's git server (refs/pull/7/head over git http-backend), the
// verdict from the gate run on it, the events through a real webhook sink.
func TestPollSLAEscalatesOncePerLevel(t *testing.T) {
	repo := newChangeRepo(t, 7, "refs/pull/%d/head")
	gh := newGHFake(t)
	opened := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	gh.pr, gh.head, gh.opened = 7, repo.head, opened
	gh.ghost = 5 // listed, but its head is on no git server: skipped, the others polled
	n, sink := newNotifier(t, repo.checkout)
	now := opened.Add(3 * time.Hour)
	o := SLAOptions{Dir: repo.checkout, Remote: "origin", Base: "main", Forge: gh.forge(), Notifier: n, Now: func() time.Time { return now }}
	ctx := context.Background()

	for _, step := range []struct {
		name  string
		at    time.Duration // since the pull request was opened
		polls int
		want  int // levels newly notified by the first poll
	}{
		{"within its SLA", 3 * time.Hour, 1, 0},
		{"breached: the approver group", 5 * time.Hour, 3, 1},
		{"escalated: the backup group", 6*time.Hour + time.Minute, 3, 1},
		{"still escalated", 30 * time.Hour, 2, 0},
	} {
		now = opened.Add(step.at)
		for i := range step.polls {
			res, err := PollSLA(ctx, o)
			require.NoError(t, err, step.name)
			want := step.want
			if i > 0 {
				want = 0
			}
			assert.Equal(t, want, res.Notified, "%s, poll %d", step.name, i+1)
			if step.at > 4*time.Hour {
				require.Len(t, res.Breaches, 1, "the poll reports the breach however often it is told")
				assert.Equal(t, int64(7), res.Breaches[0].PR)
			} else {
				assert.Empty(t, res.Breaches)
			}
		}
	}
	require.Zero(t, n.Flush(ctx))
	evs := sink.got()
	require.Len(t, evs, 2, "one event per level")
	assert.Equal(t, notify.SLAEventID(7, model.SLABreached), evs[0].ID)
	assert.Equal(t, notify.KindSLABreach, evs[0].Kind)
	assert.Equal(t, int64(7), evs[0].PR)
	assert.Equal(t, []string{"github:1", "github:2", "github:3"}, evs[0].Approvers, "level 1: the service's approver group")
	assert.True(t, strings.HasPrefix(evs[0].Reason, "approval SLA breached"), "the gate's own warning: %s", evs[0].Reason)
	assert.Equal(t, notify.SLAEventID(7, model.SLAEscalated), evs[1].ID)
	assert.Equal(t, []string{"github:20", "github:21"}, evs[1].Approvers, "level 2: the backup group")
	assert.Contains(t, evs[1].Reason, `escalated to the backup group "sre"`)
	assert.Equal(t, "payments", evs[1].Service)
	assert.Equal(t, "high", evs[1].Risk)
}

// A pull request closed since the last poll loses its fetched head, and
// a forge that is down fails the poll without notifying anything.
func TestPollSLAForgeDownAndClosedPulls(t *testing.T) {
	repo := newChangeRepo(t, 7, "refs/pull/%d/head")
	gh := newGHFake(t)
	opened := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	gh.pr, gh.head, gh.opened = 7, repo.head, opened
	n, sink := newNotifier(t, repo.checkout)
	o := SLAOptions{Dir: repo.checkout, Remote: "origin", Base: "main", Forge: gh.forge(), Notifier: n,
		Now: func() time.Time { return opened.Add(time.Hour) }}
	ctx := context.Background()
	_, err := PollSLA(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, repo.head, gitOut(t, repo.checkout, "rev-parse", PullRefPrefix+"7"), "the head is fetched")

	gh.mu.Lock()
	gh.pr = 0 // merged or closed
	gh.mu.Unlock()
	_, err = PollSLA(ctx, o)
	require.NoError(t, err)
	assert.Empty(t, gitOut(t, repo.checkout, "for-each-ref", PullRefPrefix), "the head of a closed pull request is pruned")

	gh.Close()
	_, err = PollSLA(ctx, o)
	require.Error(t, err, "a forge that is down fails the poll (the next interval polls again)")
	require.Zero(t, n.Flush(ctx))
	assert.Empty(t, sink.got())
}

// The same poll on GitLab: the head comes from refs/merge-requests/7/head,
// the evidence from the merge request API (replayed), and the levels are
// told once each.
func TestPollSLAGitLab(t *testing.T) {
	repo := newChangeRepo(t, 7, "refs/merge-requests/%d/head")
	gl := newGLFake(t)
	opened := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	gl.head, gl.opened = repo.head, opened
	n, sink := newNotifier(t, repo.checkout)
	now := opened.Add(5 * time.Hour)
	o := SLAOptions{Dir: repo.checkout, Remote: "origin", Base: "main", Forge: gl.forge(t), Notifier: n, Now: func() time.Time { return now }}
	ctx := context.Background()
	for i, want := range []int{1, 0} {
		res, err := PollSLA(ctx, o)
		require.NoError(t, err)
		assert.Equal(t, want, res.Notified, "poll %d", i+1)
	}
	now = opened.Add(7 * time.Hour)
	for i, want := range []int{1, 0} {
		res, err := PollSLA(ctx, o)
		require.NoError(t, err)
		assert.Equal(t, want, res.Notified, "escalated, poll %d", i+1)
	}
	require.Zero(t, n.Flush(ctx))
	var ids []string
	for _, ev := range sink.got() {
		ids = append(ids, ev.ID)
	}
	assert.Equal(t, []string{"sla/7/1", "sla/7/2"}, ids)
}

// Without an approvalSLA in the base's cab.cue nothing can breach one:
// the forge is not asked and nothing is fetched.
func TestPollSLAWithoutSLAAsksNothing(t *testing.T) {
	cfg := cabCue[:strings.Index(cabCue, "approvalSLA:")]
	repo := newChangeRepoWith(t, cfg, 7, "refs/pull/%d/head")
	gh := newGHFake(t)
	gh.pr, gh.head, gh.opened = 7, repo.head, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	n, _ := newNotifier(t, repo.checkout)
	res, err := PollSLA(context.Background(), SLAOptions{Dir: repo.checkout, Remote: "origin", Base: "main", Forge: gh.forge(), Notifier: n,
		Now: func() time.Time { return gh.opened.Add(100 * time.Hour) }})
	require.NoError(t, err)
	assert.Empty(t, res.Breaches)
	assert.Zero(t, gh.count("GET /repos/octo/changes/pulls"), "the forge is not asked")
	assert.Empty(t, gitOut(t, repo.checkout, "for-each-ref", PullRefPrefix))
}
