package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/internal/gittest"
)

var mainRef = plumbing.NewBranchReferenceName("main")

// remote is a bare repository served by git http-backend on loopback.
type remote struct {
	dir, url string
}

func newRemote(t *testing.T) *remote {
	t.Helper()
	srv := gittest.NewServer(t)
	dir, url := srv.Bare(t, "env")
	r := &remote{dir: dir, url: url}
	r.otherPush(t, "base")
	return r
}

// otherPush is another writer: it clones the remote afresh, commits msg on
// main and pushes it with C git, and returns the commit.
func (r *remote) otherPush(t *testing.T, msg string) plumbing.Hash {
	t.Helper()
	work := filepath.Join(t.TempDir(), "other")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", r.url, work)
	gittest.Git(t, work, "-c", "user.name=other", "-c", "user.email=other@example.com", "commit", "-q", "--allow-empty", "-m", msg)
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:refs/heads/main")
	return plumbing.NewHash(gittest.Git(t, work, "rev-parse", "HEAD"))
}

// head is where main is on the remote, read with C git.
func (r *remote) head(t *testing.T) plumbing.Hash {
	t.Helper()
	return plumbing.NewHash(gittest.Git(t, r.dir, "rev-parse", "refs/heads/main"))
}

// messages lists main's first-parent history on the remote, newest first.
func (r *remote) messages(t *testing.T) string {
	t.Helper()
	return gittest.Git(t, r.dir, "log", "--first-parent", "--format=%s", "refs/heads/main")
}

// clone is cab's side: a bare go-git repository with origin at the remote
// and main fetched to refs/remotes/origin/main.
func (r *remote) clone(t *testing.T) *git.Repository {
	t.Helper()
	repo, err := git.PlainInit(t.TempDir(), true)
	require.NoError(t, err)
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
	require.NoError(t, err)
	require.NoError(t, repo.Fetch(&git.FetchOptions{RefSpecs: []config.RefSpec{"+refs/heads/main:refs/remotes/origin/main"}}))
	return repo
}

func tracking(t *testing.T, repo *git.Repository) plumbing.Hash {
	t.Helper()
	ref, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", "main"), true)
	require.NoError(t, err)
	return ref.Hash()
}

// rebuild returns a Rebase that commits msg again on the remote head,
// after calling before (if set), and records the heads it was given.
func rebuild(t *testing.T, repo *git.Repository, msg string, before func(), got *[]plumbing.Hash) func(context.Context, plumbing.Hash) (plumbing.Hash, error) {
	return func(_ context.Context, remoteHead plumbing.Hash) (plumbing.Hash, error) {
		*got = append(*got, remoteHead)
		// The remote head's objects are here: the caller can build on it.
		if _, err := object.GetCommit(repo.Storer, remoteHead); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("the remote head was not fetched: %w", err)
		}
		if before != nil {
			before()
		}
		return storeCommit(t, repo.Storer, msg, remoteHead), nil
	}
}

func TestCompareAndSwapRemote(t *testing.T) {
	errStop := errors.New("stop")
	tests := []struct {
		name string
		// race has another writer push before the first push.
		race bool
		// rebase: "rebuild", "rebuild and race again", "none",
		// "nothing to do", "fail".
		rebase      string
		decline     bool
		maxAttempts int
		wantErr     error
		wantRebases int
		// wantLog is main's first-parent history afterwards.
		wantLog string
		// wantAttempts, for a lost race, is LostRaceError.Attempts.
		wantAttempts int
	}{
		{name: "lands", rebase: "rebuild", wantLog: "mine\nbase"},
		{name: "lost race detected and rebased", race: true, rebase: "rebuild", wantRebases: 1, wantLog: "mine\nrace 1\nbase"},
		{name: "lost race without rebase", race: true, rebase: "none", wantErr: ErrLostRace, wantAttempts: 1, wantLog: "race 1\nbase"},
		{name: "retries exhausted", race: true, rebase: "rebuild and race again", maxAttempts: 3,
			wantErr: ErrLostRace, wantAttempts: 3, wantRebases: 2, wantLog: "race 3\nrace 2\nrace 1\nbase"},
		{name: "nothing left to do after the race", race: true, rebase: "nothing to do", wantRebases: 1, wantLog: "race 1\nbase"},
		{name: "rebase fails", race: true, rebase: "fail", wantErr: errStop, wantRebases: 1, wantLog: "race 1\nbase"},
		{name: "hook declines: not a race, not retried", rebase: "rebuild", decline: true, wantErr: gitpush.ErrRejected, wantLog: "base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRemote(t)
			repo := r.clone(t)
			base := tracking(t, repo)
			mine := storeCommit(t, repo.Storer, "mine", base)
			races := 0
			race := func() {
				races++
				r.otherPush(t, fmt.Sprintf("race %d", races))
			}
			if tt.race {
				race()
			}
			if tt.decline {
				gittest.Decline(t, r.dir, "no pushes today")
			}
			var rebased []plumbing.Hash
			opts := CASOptions{Remote: "origin", Ref: mainRef, Old: base, New: mine, MaxAttempts: tt.maxAttempts, Wait: time.Millisecond, MaxWait: 2 * time.Millisecond}
			switch tt.rebase {
			case "rebuild":
				opts.Rebase = rebuild(t, repo, "mine", nil, &rebased)
			case "rebuild and race again":
				opts.Rebase = rebuild(t, repo, "mine", race, &rebased)
			case "nothing to do":
				opts.Rebase = func(_ context.Context, h plumbing.Hash) (plumbing.Hash, error) {
					rebased = append(rebased, h)
					return h, nil
				}
			case "fail":
				opts.Rebase = func(_ context.Context, h plumbing.Hash) (plumbing.Hash, error) {
					rebased = append(rebased, h)
					return plumbing.ZeroHash, errStop
				}
			}

			err := CompareAndSwap(context.Background(), repo, opts)

			assert.Equal(t, tt.wantLog, r.messages(t), "main's history on the remote")
			assert.Len(t, rebased, tt.wantRebases, "rebases")
			for _, h := range rebased {
				assert.NotEqual(t, base, h, "rebased on the head the other writer pushed")
			}
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				if tt.wantAttempts > 0 {
					lr, ok := errors.AsType[*LostRaceError](err)
					require.True(t, ok, "got %T: %v", err, err)
					assert.Equal(t, tt.wantAttempts, lr.Attempts)
					assert.Equal(t, r.head(t), lr.Head, "the head read back")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, r.head(t), tracking(t, repo), "the tracking ref follows what landed")
		})
	}
}

func TestCompareAndSwapDeclined(t *testing.T) {
	r := newRemote(t)
	repo := r.clone(t)
	base := tracking(t, repo)
	gittest.Decline(t, r.dir, "protected branch")
	err := CompareAndSwap(context.Background(), repo, CASOptions{
		Remote: "origin", Ref: mainRef, Old: base, New: storeCommit(t, repo.Storer, "mine", base),
		Rebase: func(context.Context, plumbing.Hash) (plumbing.Hash, error) {
			t.Error("a refusal is not a race: no rebase")
			return plumbing.ZeroHash, nil
		},
	})
	ue, ok := errors.AsType[*UpdateError](err)
	require.True(t, ok, "got %T: %v", err, err)
	assert.NoError(t, ue.ReadBack)
	rej, ok := errors.AsType[*gitpush.RejectedError](err)
	require.True(t, ok, "the server's refusal is kept: %v", err)
	assert.Contains(t, rej.Remote, "protected branch")
	assert.False(t, errors.Is(err, ErrLostRace))
}

// TestCompareAndSwapCreate creates a branch that must not exist, and
// loses when it does.
func TestCompareAndSwapCreate(t *testing.T) {
	r := newRemote(t)
	repo := r.clone(t)
	base := tracking(t, repo)
	newRef := plumbing.NewBranchReferenceName("cab/ledger")
	first := storeCommit(t, repo.Storer, "first", base)
	require.NoError(t, CompareAndSwap(context.Background(), repo, CASOptions{Remote: "origin", Ref: newRef, New: first}))
	assert.Equal(t, first.String(), gittest.Git(t, r.dir, "rev-parse", "refs/heads/cab/ledger"))
	ref, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", "cab/ledger"), true)
	require.NoError(t, err)
	assert.Equal(t, first, ref.Hash(), "default tracking ref of a branch")

	second := storeCommit(t, repo.Storer, "second", base)
	err = CompareAndSwap(context.Background(), repo, CASOptions{Remote: "origin", Ref: newRef, New: second})
	require.ErrorIs(t, err, ErrLostRace, "the branch exists")
	assert.Equal(t, first.String(), gittest.Git(t, r.dir, "rev-parse", "refs/heads/cab/ledger"))
}

// TestCompareAndSwapCancelled cancels during the pause after a lost
// race: CompareAndSwap returns at once, without rebasing.
func TestCompareAndSwapCancelled(t *testing.T) {
	r := newRemote(t)
	repo := r.clone(t)
	base := tracking(t, repo)
	r.otherPush(t, "race")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := CompareAndSwap(ctx, repo, CASOptions{
		Remote: "origin", Ref: mainRef, Old: base, New: storeCommit(t, repo.Storer, "mine", base),
		Wait: time.Minute, // only the cancel ends the pause
		Rebase: func(context.Context, plumbing.Hash) (plumbing.Hash, error) {
			t.Error("cancelled before rebasing")
			return plumbing.ZeroHash, nil
		},
		// The lost race is logged just before the pause: cancel then.
		Logger: slog.New(cancelHandler{cancel}),
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "race\nbase", r.messages(t))
}

// cancelHandler cancels on every record logged.
type cancelHandler struct{ cancel context.CancelFunc }

func (h cancelHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelHandler) Handle(context.Context, slog.Record) error {
	h.cancel()
	return nil
}
func (h cancelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelHandler) WithGroup(string) slog.Handler      { return h }

// TestCompareAndSwapConcurrent has several writers append to one branch
// at once, each from its own clone: every append lands exactly once, on
// top of the others, however the races fall.
func TestCompareAndSwapConcurrent(t *testing.T) {
	const writers, appends = 4, 3
	r := newRemote(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers*appends)
	for w := range writers {
		repo := r.clone(t)
		wg.Go(func() {
			for i := range appends {
				msg := fmt.Sprintf("w%d-%d", w, i)
				old, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", "main"), true)
				if err != nil {
					errs <- err
					return
				}
				build := func(parent plumbing.Hash) plumbing.Hash { return storeCommit(t, repo.Storer, msg, parent) }
				errs <- CompareAndSwap(context.Background(), repo, CASOptions{
					Remote: "origin", Ref: mainRef, Old: old.Hash(), New: build(old.Hash()),
					MaxAttempts: 100, Wait: time.Millisecond, MaxWait: 20 * time.Millisecond,
					Rebase: func(_ context.Context, h plumbing.Hash) (plumbing.Hash, error) { return build(h), nil },
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	log := r.messages(t)
	for w := range writers {
		for i := range appends {
			assert.Contains(t, log, fmt.Sprintf("w%d-%d\n", w, i), "every append landed")
		}
	}
	assert.Len(t, splitLines(log), writers*appends+1, "each once, on one first-parent line:\n%s", log)
}

func splitLines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		out = append(out, strings.TrimSuffix(line, "\n"))
	}
	return out
}

// TestCompareAndSwapLocal updates a ref in the repository's own store
// (no remote), with the same rules.
func TestCompareAndSwapLocal(t *testing.T) {
	ref := plumbing.NewBranchReferenceName("cab/ledger")
	tests := []struct {
		name string
		// at is where the ref is before ("": absent, "a", "x": moved).
		at string
		// old is what the caller read ("": zero, "a").
		old          string
		rebase       bool
		moveOnRebase bool
		wantErr      error
		wantAttempts int
		wantParent   string // the landed commit's parent ("a", "x", "": root)
	}{
		{name: "lands", at: "a", old: "a", wantParent: "a"},
		{name: "creates", at: "", old: "", wantParent: ""},
		{name: "create loses to an existing ref", at: "x", old: "", wantErr: ErrLostRace, wantAttempts: 1},
		{name: "lost race without rebase", at: "x", old: "a", wantErr: ErrLostRace, wantAttempts: 1},
		{name: "lost race rebased", at: "x", old: "a", rebase: true, wantParent: "x"},
		{name: "retries exhausted", at: "x", old: "a", rebase: true, moveOnRebase: true, wantErr: ErrLostRace, wantAttempts: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := git.Init(memory.NewStorage(), nil)
			require.NoError(t, err)
			commits := map[string]plumbing.Hash{"": plumbing.ZeroHash}
			commits["a"] = storeCommit(t, repo.Storer, "a")
			commits["x"] = storeCommit(t, repo.Storer, "x", commits["a"])
			if tt.at != "" {
				require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(ref, commits[tt.at])))
			}
			var parents []plumbing.Hash
			build := func(parent plumbing.Hash) plumbing.Hash {
				parents = append(parents, parent)
				if parent.IsZero() {
					return storeCommit(t, repo.Storer, "mine")
				}
				return storeCommit(t, repo.Storer, "mine", parent)
			}
			opts := CASOptions{Ref: ref, Old: commits[tt.old], New: build(commits[tt.old]), MaxAttempts: 4, Wait: time.Microsecond}
			moves := 0
			if tt.rebase {
				opts.Rebase = func(_ context.Context, h plumbing.Hash) (plumbing.Hash, error) {
					next := build(h)
					if tt.moveOnRebase {
						moves++
						other := storeCommit(t, repo.Storer, fmt.Sprintf("other %d", moves), h)
						require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(ref, other)))
					}
					return next, nil
				}
			}
			err = CompareAndSwap(context.Background(), repo, opts)
			got, rerr := repo.Storer.Reference(ref)
			require.NoError(t, rerr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				lr, ok := errors.AsType[*LostRaceError](err)
				require.True(t, ok, "got %T", err)
				assert.Equal(t, tt.wantAttempts, lr.Attempts)
				assert.Equal(t, got.Hash(), lr.Head, "the head read back")
				assert.NotEqual(t, parents[len(parents)-1], got.Hash(), "not ours")
				return
			}
			require.NoError(t, err)
			c, err := object.GetCommit(repo.Storer, got.Hash())
			require.NoError(t, err)
			assert.Equal(t, "mine", c.Message)
			if tt.wantParent == "" {
				assert.Empty(t, c.ParentHashes)
			} else {
				assert.Equal(t, []plumbing.Hash{commits[tt.wantParent]}, c.ParentHashes)
			}
		})
	}
}

func TestCASOptionsDefaults(t *testing.T) {
	_, err := (&CASOptions{}).withDefaults()
	assert.Error(t, err, "a ref is required")
	_, err = (&CASOptions{Remote: "origin", Ref: "refs/cab/x"}).withDefaults()
	assert.Error(t, err, "a ref that is not a branch needs a tracking ref")
	o, err := (&CASOptions{Remote: "origin", Ref: "refs/heads/cab/ledger"}).withDefaults()
	require.NoError(t, err)
	assert.Equal(t, plumbing.ReferenceName("refs/remotes/origin/cab/ledger"), o.Tracking)
	assert.Equal(t, DefaultMaxAttempts, o.MaxAttempts)
}

func TestFetchRef(t *testing.T) {
	r := newRemote(t)
	repo := r.clone(t)
	tr := plumbing.NewRemoteReferenceName("origin", "main")
	moved := r.otherPush(t, "moved")
	got, err := FetchRef(t.Context(), repo, "origin", nil, mainRef, tr)
	require.NoError(t, err)
	assert.Equal(t, moved, got)
	assert.Equal(t, moved, tracking(t, repo), "the tracking ref follows")

	// A branch the remote does not have: zero, and no tracking ref left.
	gone := plumbing.NewRemoteReferenceName("origin", "gone")
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(gone, moved)))
	got, err = FetchRef(t.Context(), repo, "origin", nil, plumbing.NewBranchReferenceName("gone"), gone)
	require.NoError(t, err)
	assert.True(t, got.IsZero())
	_, err = repo.Storer.Reference(gone)
	assert.ErrorIs(t, err, plumbing.ErrReferenceNotFound)

	_, err = FetchRef(t.Context(), repo, "nope", nil, mainRef, tr)
	assert.Error(t, err, "an unknown remote")
}

// A process killed while go-git rewrote the tracking ref (it truncates,
// then writes) leaves an empty ref file: the next fetch repairs it from
// the remote instead of failing forever.
func TestFetchRefRepairsATornTrackingRef(t *testing.T) {
	r := newRemote(t)
	repo := r.clone(t)
	tr := plumbing.NewRemoteReferenceName("origin", "main")
	root := repo.Storer.(*filesystem.Storage).Filesystem().Root()
	require.NoError(t, os.WriteFile(filepath.Join(root, tr.String()), nil, 0o644))
	err := repo.Fetch(&git.FetchOptions{RefSpecs: []config.RefSpec{"+refs/heads/main:refs/remotes/origin/main"}})
	require.ErrorIs(t, err, dotgit.ErrEmptyRefFile, "go-git fails on the torn ref")

	moved := r.otherPush(t, "moved")
	got, err := FetchRef(t.Context(), repo, "origin", nil, mainRef, tr)
	require.NoError(t, err)
	assert.Equal(t, moved, got)
	assert.Equal(t, moved, tracking(t, repo))

	// A torn ref that is not a copy of a remote is named, not removed.
	require.NoError(t, os.WriteFile(filepath.Join(root, "refs", "heads", "mine"), nil, 0o644))
	_, err = FetchRef(t.Context(), repo, "origin", nil, mainRef, tr)
	require.ErrorIs(t, err, dotgit.ErrEmptyRefFile)
	assert.Contains(t, err.Error(), "refs/heads/mine")
	assert.FileExists(t, filepath.Join(root, "refs", "heads", "mine"))
}

// flakyProxy stands between cab and the remote at url: it passes every
// request on, and while dropAnswers is set it throws away the remote's
// answer to a push (after the remote has acted on it) and, with
// failAll, fails every request that follows too.
type flakyProxy struct {
	mu          sync.Mutex
	dropAnswers bool
	failAll     bool
	failing     bool
}

func (p *flakyProxy) serve(t *testing.T, target string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		failing := p.failing
		p.mu.Unlock()
		if failing {
			http.Error(w, "the proxy is down", http.StatusBadGateway)
			return
		}
		in, err := io.ReadAll(r.Body) // whole, so that the CGI backend sees its length
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(in))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body) // the remote has done all it will do
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		p.mu.Lock()
		drop := p.dropAnswers && strings.HasSuffix(r.URL.Path, "/git-receive-pack")
		if drop && p.failAll {
			p.failing = true
		}
		p.mu.Unlock()
		if drop {
			http.Error(w, "connection lost", http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCompareAndSwapAnswerLost pushes through a proxy that loses the
// remote's answer: the ref read back says whether the push landed.
func TestCompareAndSwapAnswerLost(t *testing.T) {
	tests := []struct {
		name string
		// failAll: the remote cannot be read back either.
		failAll bool
	}{
		{name: "landed though the answer was lost"},
		{name: "cannot be read back", failAll: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRemote(t)
			p := &flakyProxy{failAll: tt.failAll}
			base := r.url[:strings.LastIndex(r.url, "/")]
			r.url = p.serve(t, base) + r.url[strings.LastIndex(r.url, "/"):]
			repo := r.clone(t)
			old := tracking(t, repo)
			mine := storeCommit(t, repo.Storer, "mine", old)
			p.mu.Lock()
			p.dropAnswers = true
			p.mu.Unlock()
			err := CompareAndSwap(context.Background(), repo, CASOptions{
				Remote: "origin", Ref: mainRef, Old: old, New: mine,
				Rebase: func(context.Context, plumbing.Hash) (plumbing.Hash, error) {
					t.Error("no race was lost: no rebase")
					return plumbing.ZeroHash, nil
				},
			})
			assert.Equal(t, mine, r.head(t), "the remote acted on the push")
			if !tt.failAll {
				require.NoError(t, err, "read back at New: landed")
				assert.Equal(t, mine, tracking(t, repo))
				return
			}
			ue, ok := errors.AsType[*UpdateError](err)
			require.True(t, ok, "got %T: %v", err, err)
			assert.Error(t, ue.ReadBack, "why reading back failed")
			assert.False(t, errors.Is(err, ErrLostRace), "not known to be a race")
		})
	}
}
