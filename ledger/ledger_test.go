package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/internal/testsize"
)

// runGit runs the git CLI in dir and returns its output as printed.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// clone is a fresh local go-git repository with remote origin at url.
func clone(t testing.TB, url string) *git.Repository {
	t.Helper()
	repo, err := git.PlainInit(t.TempDir(), true)
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	require.NoError(t, err)
	return repo
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Second) }
}

func add(evs ...Event) Decide {
	return func(*Log) ([]Event, error) { return evs, nil }
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	dir, url := srv.Bare(t, "rt")

	l := Open(clone(t, url), "origin", "")
	l.Now = fixedClock()
	envelope := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)
	log, err := l.Update(ctx, add(
		Event{Ticket: "CHG-2026-0042", Kind: KindSigned, Actor: "ci", Commit: "abc123", Envelope: envelope, Data: []byte(`{"pr":7}`)},
		Event{Ticket: "CHG-2026-0042", Env: "prod", Kind: KindApplying, Actor: "reconciler"},
		Event{Ticket: "CHG-2026-0042", Env: "prod", Kind: KindApplied, Actor: "reconciler"},
	))
	require.NoError(t, err)
	require.Len(t, log.Events(), 3)
	assert.Equal(t, []int{1, 2, 3}, []int{log.Events()[0].Seq, log.Events()[1].Seq, log.Events()[2].Seq})

	// What C git sees on the server.
	files := strings.Fields(runGit(t, dir, "ls-tree", "-r", "--name-only", "cab/ledger"))
	assert.Equal(t, []string{
		"LEDGER-VERSION",
		"ledger/42/CHG-2026-0042/1-signed.dsse",
		"ledger/42/CHG-2026-0042/1-signed.json",
		"ledger/42/CHG-2026-0042/2-applying.json",
		"ledger/42/CHG-2026-0042/3-applied.json",
	}, files, "layout 2: a new ledger starts with the version marker and sharded by the id's last two digits")
	assert.Equal(t, "2\n", runGit(t, dir, "show", "cab/ledger:LEDGER-VERSION"))
	assert.Equal(t, "3\n", runGit(t, dir, "rev-list", "--count", "--first-parent", "cab/ledger"), "one commit per event")
	assert.Equal(t, "applied CHG-2026-0042 prod\n\nCab-Ticket: CHG-2026-0042\nCab-Env: prod\nCab-Event: applied\n",
		strings.TrimSuffix(runGit(t, dir, "log", "-1", "--format=%B", "cab/ledger"), "\n"), "commit message")
	assert.Equal(t, "applied/prod/CHG-2026-0042\napplying/prod/CHG-2026-0042\nsigned//CHG-2026-0042\n",
		runGit(t, dir, "log", "--format=%(trailers:key=Cab-Event,valueonly,separator=%x2C)/%(trailers:key=Cab-Env,valueonly,separator=%x2C)/%(trailers:key=Cab-Ticket,valueonly,separator=%x2C)", "cab/ledger"),
		"trailers as C git parses them")
	assert.Equal(t, "signed CHG-2026-0042\n", runGit(t, dir, "log", "--format=%s", "--grep", "Cab-Event: signed", "cab/ledger"), "git log --grep")
	assert.Equal(t, string(envelope), runGit(t, dir, "show", "cab/ledger:ledger/42/CHG-2026-0042/1-signed.dsse"))
	assert.Contains(t, runGit(t, dir, "show", "cab/ledger:ledger/42/CHG-2026-0042/1-signed.json"), `"commit": "abc123"`)

	// A second clone reads the same log.
	got, err := Open(clone(t, url), "origin", "").Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, log.Head, got.Head)
	require.Len(t, got.Events(), 3)
	assert.Equal(t, envelope, got.Events()[0].Envelope)
	assert.JSONEq(t, `{"pr":7}`, string(got.Events()[0].Data))
	assert.Equal(t, t0.Add(time.Second), got.Events()[0].At)
	assert.Equal(t, KindApplied, got.State("CHG-2026-0042").Envs["prod"])
	assert.Equal(t, KindSigned, got.State("CHG-2026-0042").Status)
}

func TestValidateRejectsImpossibleTransitions(t *testing.T) {
	const id = "CHG-2026-0001"
	signed := Event{Seq: 1, Ticket: id, Kind: KindSigned}
	ev := func(seq int, env, kind string) Event { return Event{Seq: seq, Ticket: id, Env: env, Kind: kind} }
	tests := []struct {
		name     string
		events   []Event
		from, to string
		seq      int
	}{
		{"applied before signed", []Event{ev(1, "prod", KindApplied)}, "none", KindApplied, 1},
		{"applying before signed", []Event{ev(1, "prod", KindApplying)}, "none", KindApplying, 1},
		{"applied before applying", []Event{signed, ev(2, "prod", KindApplied)}, "signed", KindApplied, 2},
		{"second signed", []Event{signed, ev(2, "", KindSigned)}, "signed", KindSigned, 2},
		{"after unsigned", []Event{ev(1, "", KindUnsigned), ev(2, "", KindSigned)}, "unsigned", KindSigned, 2},
		{"verified after applying", []Event{signed, ev(2, "prod", KindApplying), ev(3, "prod", KindVerified)}, KindApplying, KindVerified, 3},
		{"applying twice", []Event{signed, ev(2, "prod", KindApplying), ev(3, "prod", KindApplying)}, KindApplying, KindApplying, 3},
		{"rolled-back without failure", []Event{signed, ev(2, "prod", KindApplying), ev(3, "prod", KindApplied), ev(4, "prod", KindRolledBack)}, KindApplied, KindRolledBack, 4},
		{"applying after expired", []Event{signed, ev(2, "", KindExpired), ev(3, "prod", KindApplying)}, KindExpired, KindApplying, 3},
		{"applying after quarantined", []Event{signed, ev(2, "", KindQuarantined), ev(3, "prod", KindApplying)}, KindQuarantined, KindApplying, 3},
		{"reapply after verified", []Event{signed, ev(2, "prod", KindApplying), ev(3, "prod", KindApplied), ev(4, "prod", KindVerified), ev(5, "prod", KindApplying)}, KindVerified, KindApplying, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.events)
			var te *TransitionError
			require.ErrorAs(t, err, &te, "got %v, want a *TransitionError", err)
			assert.ErrorIs(t, err, ErrTransition)
			assert.Equal(t, id, te.Ticket)
			assert.Equal(t, tt.seq, te.Seq)
			assert.Equal(t, tt.from, te.From)
			assert.Equal(t, tt.to, te.To)
			assert.Contains(t, err.Error(), fmt.Sprintf("%s event %d", id, tt.seq))
		})
	}

	ok := []Event{signed, ev(2, "staging", KindScheduled), ev(3, "staging", KindApplying), ev(4, "staging", KindApplied),
		ev(5, "staging", KindVerified), ev(6, "prod", KindApplying), ev(7, "prod", KindFailed), ev(8, "prod", KindRolledBack)}
	assert.NoError(t, Validate(ok), "a legal history")
	var ie *InvalidError
	assert.ErrorAs(t, Validate([]Event{signed, ev(3, "prod", KindApplying)}), &ie, "a gap in seq")
	assert.ErrorAs(t, Validate([]Event{ev(1, "", KindApplying)}), &ie, "apply kind without env")
}

func TestUpdateRejectsImpossibleTransitionAndPushesNothing(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	dir, url := srv.Bare(t, "bad")
	l := Open(clone(t, url), "origin", "")
	_, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: KindApplied}))
	var te *TransitionError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "none", te.From)
	assert.Equal(t, KindApplied, te.To)
	assert.Empty(t, strings.TrimSpace(runGit(t, dir, "for-each-ref")), "nothing pushed")
}

func TestReadRejectsImpossibleTransitionOnBranch(t *testing.T) {
	// A branch written by something else than cab (bypassing the state
	// machine) is refused when read: the ticket is set aside, and the
	// strict reading (Log.Err) fails.
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	l := Open(repo, "", "")
	head, err := appendCommit(repo.Storer, newTreeMemo(repo.Storer), plumbing.ZeroHash,
		&Event{Seq: 1, Ticket: "CHG-2026-0007", Env: "prod", Kind: KindApplied, At: t0}, l.Author)
	require.NoError(t, err)
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(l.branchRef(), head)))
	log, err := l.Read(context.Background())
	require.NoError(t, err, "one broken ticket does not make the ledger unreadable")
	assert.True(t, log.SetAside("CHG-2026-0007"))
	assert.Empty(t, log.Events(), "a set-aside ticket's events are not read")
	err = log.Err()
	var te *TransitionError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "CHG-2026-0007", te.Ticket)
	assert.Equal(t, 1, te.Seq)
}

func TestMissingBranchIsEmptyLog(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "empty")
	log, err := Open(clone(t, url), "origin", "").Read(ctx)
	require.NoError(t, err)
	assert.True(t, log.Head.IsZero())
	assert.Empty(t, log.Events())

	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	log, err = Open(repo, "", "").Read(ctx)
	require.NoError(t, err, "local mode")
	assert.True(t, log.Head.IsZero())
}

func TestPathValidation(t *testing.T) {
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	l := Open(repo, "", "")
	for _, ev := range []Event{
		{Ticket: "../x", Kind: KindSigned},
		{Ticket: "CHG-2026-0001/../../x", Kind: KindSigned},
		{Ticket: "CHG-2026-0001", Env: "../x", Kind: KindScheduled},
		{Ticket: "CHG-2026-0001", Kind: "../x"},
		{Ticket: "CHG-2026-0001\nCab-Event: applied", Kind: KindSigned},
	} {
		_, err := l.Update(context.Background(), add(ev))
		assert.ErrorIs(t, err, ErrInvalid, "ticket %q env %q kind %q", ev.Ticket, ev.Env, ev.Kind)
		_, err = appendCommit(repo.Storer, newTreeMemo(repo.Storer), plumbing.ZeroHash, &Event{Seq: 1, Ticket: ev.Ticket, Env: ev.Env, Kind: ev.Kind}, l.Author)
		assert.ErrorIs(t, err, ErrInvalid, "appendCommit checks too")
	}
	_, err = repo.Reference(l.branchRef(), true)
	assert.ErrorIs(t, err, plumbing.ErrReferenceNotFound, "nothing written")
	assert.True(t, ValidTicketID("CHG-2026-000001"))
	assert.False(t, ValidTicketID("CHG-2026-001"))
	assert.True(t, ValidEnv("prod-eu-1"))
	assert.False(t, ValidEnv("Prod"))
}

func TestLocalModeCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	a, b := Open(repo, "", ""), Open(repo, "", "")
	first, err := a.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Kind: KindSigned}))
	require.NoError(t, err)
	_, err = a.Update(ctx, add(Event{Ticket: "CHG-2026-0002", Kind: KindSigned}))
	require.NoError(t, err)
	// b decided on a stale head: its CAS loses.
	head, err := appendCommit(repo.Storer, newTreeMemo(repo.Storer), first.Head, &Event{Seq: 1, Ticket: "CHG-2026-0003", Kind: KindSigned, At: t0}, b.Author)
	require.NoError(t, err)
	assert.ErrorIs(t, b.publish(ctx, first.Head, head, nil), gitx.ErrLostRace)
	assert.ErrorIs(t, b.publish(ctx, plumbing.ZeroHash, head, nil), gitx.ErrLostRace, "creating an existing branch")
	// Through Update, b retries on the latest state.
	log, err := b.Update(ctx, add(Event{Ticket: "CHG-2026-0003", Kind: KindSigned}))
	require.NoError(t, err)
	assert.Len(t, log.Events(), 3)
}

// Every attempt lost (another writer appends each time b decides): after
// MaxAttempts, ErrContention, which is gitx's lost race too; b decided on
// the latest state each time and wrote nothing.
func TestContentionGivesUp(t *testing.T) {
	ctx := context.Background()
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	a, b := Open(repo, "", ""), Open(repo, "", "")
	b.MaxAttempts = 3
	var seen []int
	_, err = b.Update(ctx, func(log *Log) ([]Event, error) {
		seen = append(seen, len(log.Events()))
		_, err := a.Update(ctx, add(Event{Ticket: fmt.Sprintf("CHG-2026-%04d", len(seen)), Kind: KindSigned}))
		require.NoError(t, err)
		return []Event{{Ticket: "CHG-2026-0099", Kind: KindSigned}}, nil
	})
	require.ErrorIs(t, err, ErrContention)
	require.ErrorIs(t, err, gitx.ErrLostRace)
	assert.Equal(t, []int{0, 1, 2}, seen, "each attempt decides on the latest log")
	log, err := a.Read(ctx)
	require.NoError(t, err)
	assert.Len(t, log.Events(), 3)
	assert.Empty(t, log.Ticket("CHG-2026-0099"), "the loser wrote nothing")
}

func TestStalePushIsRejected(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "stale")
	a, b := Open(clone(t, url), "origin", ""), Open(clone(t, url), "origin", "")
	_, err := a.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Kind: KindSigned}))
	require.NoError(t, err)
	stale, err := b.Read(ctx)
	require.NoError(t, err)
	_, err = a.Update(ctx, add(Event{Ticket: "CHG-2026-0002", Kind: KindSigned}))
	require.NoError(t, err)

	head, err := appendCommit(b.repo.Storer, newTreeMemo(b.repo.Storer), stale.Head, &Event{Seq: 1, Ticket: "CHG-2026-0003", Kind: KindSigned, At: t0}, b.Author)
	require.NoError(t, err)
	err = b.publish(ctx, stale.Head, head, nil)
	require.ErrorIs(t, err, gitx.ErrLostRace)
	t.Logf("stale push: %v", err)
}

func TestForcePushedRemoteIsRewritten(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "force")
	repo := clone(t, url)
	l := Open(repo, "origin", "")
	one, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Kind: KindSigned}))
	require.NoError(t, err)
	two, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0002", Kind: KindSigned}))
	require.NoError(t, err)
	require.NoError(t, VerifyCheckpoint(context.Background(), repo, one.Head, two.Head), "an append is not a rewrite")
	checkpoint := two.Head

	// Someone else force-pushes the ledger back, dropping the second event.
	other := clone(t, url)
	_, err = Open(other, "origin", "").Read(ctx)
	require.NoError(t, err)
	require.NoError(t, other.PushContext(ctx, &git.PushOptions{RemoteName: "origin",
		RefSpecs: []config.RefSpec{config.RefSpec("+" + one.Head.String() + ":refs/heads/cab/ledger")}}))

	now, err := l.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, one.Head, now.Head)
	err = VerifyCheckpoint(context.Background(), repo, checkpoint, now.Head)
	var re *RewrittenError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, ErrRewritten)
	assert.Equal(t, checkpoint, re.Checkpoint)

	// A rewrite to unrelated history and a deleted branch are rewrites too.
	assert.ErrorIs(t, VerifyCheckpoint(context.Background(), repo, checkpoint, plumbing.ZeroHash), ErrRewritten)
}

// TestConcurrentWriters races two writers, each with its own clone, adding
// "signed" to the same five tickets only when absent, and each its own
// "scheduled" event per ticket: every ticket ends with exactly one signed
// and both scheduled events, none lost.
func TestConcurrentWriters(t *testing.T) {
	iterations := testsize.Pick(50, 10) // make test-full (CI) runs 50
	if testing.Short() {
		iterations = 5
	}
	srv := gittest.NewServer(t)
	tickets := []string{"CHG-2026-0001", "CHG-2026-0002", "CHG-2026-0003", "CHG-2026-0004", "CHG-2026-0005"}
	var decisions, conflicts atomic.Int64
	var rejections lockedBuffer
	start := time.Now()
	for i := 0; i < iterations; i++ {
		// A deadline per iteration, far above what one takes: a stuck
		// writer fails the iteration it is in, and the whole test takes
		// as long as its work, not a fixed ceiling over all of it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir, url := srv.Bare(t, fmt.Sprintf("race%d", i))
		want := 15
		if i%2 == 1 {
			// Odd iterations race on an existing head rather than on
			// creating the branch.
			_, err := Open(clone(t, url), "origin", "").Update(ctx, add(Event{Ticket: "CHG-2026-0099", Kind: KindSigned}))
			require.NoError(t, err)
			want++
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		writers := make([]*Ledger, 2)
		for w, env := range []string{"env-a", "env-b"} {
			l := Open(clone(t, url), "origin", "")
			writers[w] = l
			l.Logger = slog.New(slog.NewTextHandler(&rejections, &slog.HandlerOptions{Level: slog.LevelDebug}))
			wg.Add(1)
			go func() {
				defer wg.Done()
				calls := 0
				_, errs[w] = l.Update(ctx, func(log *Log) ([]Event, error) {
					calls++
					decisions.Add(1)
					var evs []Event
					for _, id := range tickets {
						if !log.State(id).Signed {
							evs = append(evs, Event{Ticket: id, Kind: KindSigned, Actor: env})
						}
						evs = append(evs, Event{Ticket: id, Env: env, Kind: KindScheduled, Actor: env})
					}
					return evs, nil
				})
				conflicts.Add(int64(calls - 1))
			}()
		}
		wg.Wait()
		require.NoError(t, errs[0], "writer a, iteration %d", i)
		require.NoError(t, errs[1], "writer b, iteration %d", i)

		log, err := writers[0].Read(ctx) // fetches what b pushed
		require.NoError(t, err)
		require.Len(t, log.Events(), want, "iteration %d: 5 signed + 10 scheduled", i)
		for _, id := range tickets {
			kinds := map[string]int{}
			for _, ev := range log.Ticket(id) {
				kinds[ev.Kind+" "+ev.Env]++
			}
			assert.Equal(t, map[string]int{"signed ": 1, "scheduled env-a": 1, "scheduled env-b": 1}, kinds, "iteration %d %s", i, id)
		}
		assert.Equal(t, fmt.Sprintf("%d\n", want), runGit(t, dir, "rev-list", "--count", "--first-parent", "cab/ledger"), "one commit per event, linear")
		assert.Equal(t, fmt.Sprintf("%d\n", want-10), runGit(t, dir, "rev-list", "--count", "--grep", "Cab-Event: signed", "cab/ledger"), "one signed per ticket")
	}
	t.Logf("%d iterations in %v: %d decisions, %d lost races retried", iterations, time.Since(start).Round(time.Millisecond), decisions.Load(), conflicts.Load())
	assert.Positive(t, conflicts.Load(), "the writers never raced: the test proves nothing")
	seen := map[string]int{}
	for _, line := range strings.Split(rejections.String(), "\n") {
		for _, s := range []string{"required to be", "non-fast-forward", "failed to update ref", "failed to lock", "command error"} {
			if strings.Contains(line, s) {
				seen[s]++
				break
			}
		}
	}
	t.Logf("rejections seen: %v", seen)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestGuardMovesToOwnAppends: a guarded ledger moves its checkpoint to
// the head its own append published (built on the head it accepted),
// including after losing a race to another writer, and still refuses a
// rewrite of what it wrote.
func TestGuardMovesToOwnAppends(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "guard")
	l := Open(clone(t, url), "origin", "")
	l.Guard(plumbing.ZeroHash)
	other := Open(clone(t, url), "origin", "")

	one, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Kind: KindSigned}))
	require.NoError(t, err)
	assert.Equal(t, one.Head, l.Checkpoint(), "its own append")

	// Another writer appends between l's read and its push: l rebases
	// onto that head (guarded) and moves on to what it published.
	raced := false
	two, err := l.Update(ctx, func(log *Log) ([]Event, error) {
		if !raced {
			raced = true
			_, err := other.Update(ctx, add(Event{Ticket: "CHG-2026-0002", Kind: KindSigned}))
			require.NoError(t, err)
		}
		return []Event{{Ticket: "CHG-2026-0003", Kind: KindSigned}}, nil
	})
	require.NoError(t, err)
	assert.Len(t, two.Events(), 3)
	assert.Equal(t, two.Head, l.Checkpoint(), "its own append, after a lost race")
	read, err := l.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, two.Head, read.Head)

	// A force-push dropping what l wrote is refused.
	back := clone(t, url)
	_, err = Open(back, "origin", "").Read(ctx)
	require.NoError(t, err)
	require.NoError(t, back.PushContext(ctx, &git.PushOptions{RemoteName: "origin",
		RefSpecs: []config.RefSpec{config.RefSpec("+" + one.Head.String() + ":refs/heads/cab/ledger")}}))
	_, err = l.Read(ctx)
	require.ErrorIs(t, err, ErrNotAppendOnly)
	assert.Equal(t, two.Head, l.Checkpoint())
}

// TestUpdateBuildsOnTheHeadItLastSaw: an update right after the ledger's
// own read or append builds on the log it holds without fetching; when
// another writer moved the branch meanwhile, the push is refused and the
// update decides again on the winner's log (nothing lost, nothing built
// on a head it did not decide on); an update with nothing to write on the
// log it holds asks the remote before saying so.
func TestUpdateBuildsOnTheHeadItLastSaw(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "seen")
	fetches := func() int { return srv.Served("git-upload-pack", "/seen.git") }
	a, b := Open(clone(t, url), "origin", ""), Open(clone(t, url), "origin", "")
	signed := func(id string) Event { return Event{Ticket: id, Kind: KindSigned} }

	_, err := a.Read(ctx)
	require.NoError(t, err)
	_, err = a.Update(ctx, add(signed("CHG-2026-0001")))
	require.NoError(t, err)
	n := fetches()
	_, err = a.Update(ctx, add(signed("CHG-2026-0002")))
	require.NoError(t, err)
	assert.Equal(t, n, fetches(), "an update right after the ledger's own append does not fetch")

	// b appends; a's next update starts from its own, stale, head.
	_, err = b.Update(ctx, add(signed("CHG-2026-0003")))
	require.NoError(t, err)
	var saw [][]string
	ids := func(log *Log) []string {
		var out []string
		for _, ev := range log.Events() {
			out = append(out, ev.Ticket)
		}
		return out
	}
	log, err := a.Update(ctx, func(log *Log) ([]Event, error) {
		saw = append(saw, ids(log))
		return []Event{signed("CHG-2026-0004")}, nil
	})
	require.NoError(t, err)
	assert.Equal(t, [][]string{
		{"CHG-2026-0001", "CHG-2026-0002"},
		{"CHG-2026-0001", "CHG-2026-0002", "CHG-2026-0003"},
	}, saw, "the stale decision is refused by the remote and taken again on the winner's log")
	assert.Equal(t, []string{"CHG-2026-0001", "CHG-2026-0002", "CHG-2026-0003", "CHG-2026-0004"}, ids(log))

	// Nothing to write on the log a holds: the remote is asked first.
	_, err = b.Update(ctx, add(signed("CHG-2026-0005")))
	require.NoError(t, err)
	saw = nil
	log, err = a.Update(ctx, func(log *Log) ([]Event, error) {
		saw = append(saw, ids(log))
		return nil, nil
	})
	require.NoError(t, err)
	assert.Len(t, saw, 2, "decided on the log held, then on the latest")
	assert.Equal(t, []string{"CHG-2026-0001", "CHG-2026-0002", "CHG-2026-0003", "CHG-2026-0004", "CHG-2026-0005"}, ids(log), "the latest log")

	// A refusal on the log a holds is decided again on the latest: here
	// decide needs an event b appended meanwhile.
	_, err = b.Update(ctx, add(signed("CHG-2026-0007")))
	require.NoError(t, err)
	saw = nil
	log, err = a.Update(ctx, func(log *Log) ([]Event, error) {
		saw = append(saw, ids(log))
		if log.State("CHG-2026-0007").Status != KindSigned {
			return nil, errors.New("CHG-2026-0007 is not signed")
		}
		return []Event{signed("CHG-2026-0008")}, nil
	})
	require.NoError(t, err, "the refusal was of a stale log")
	assert.Len(t, saw, 2)
	assert.Contains(t, ids(log), "CHG-2026-0008")

	// A read always fetches, and an update after it builds on what it read.
	n = fetches()
	_, err = a.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, n+1, fetches())
	_, err = a.Update(ctx, add(signed("CHG-2026-0009")))
	require.NoError(t, err)
	assert.Equal(t, n+1, fetches(), "the update after a read builds on it")
}
