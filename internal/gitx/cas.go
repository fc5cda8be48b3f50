package gitx

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"

	"github.com/cabhq/cab/internal/backoff"
	"github.com/cabhq/cab/internal/gitpush"
)

// DefaultMaxAttempts bounds the attempts of CompareAndSwap when
// CASOptions.MaxAttempts is not set.
const DefaultMaxAttempts = 10

// ErrLostRace is matched (errors.Is) by a *LostRaceError.
var ErrLostRace = errors.New("lost the compare-and-swap race")

// LostRaceError is a compare-and-swap that another writer won on its last
// attempt: the ref was read back neither at the value the update started
// from nor at the one it set.
type LostRaceError struct {
	Ref plumbing.ReferenceName
	// Old is where the last attempt required the ref to be; Head is where
	// it was read back.
	Old, Head plumbing.Hash
	// Attempts is how many updates were tried.
	Attempts int
}

// Error says where the ref went and after how many attempts.
func (e *LostRaceError) Error() string {
	return fmt.Sprintf("%s moved to %s while it was being updated from %s (%d attempt(s))", e.Ref, short(e.Head), short(e.Old), e.Attempts)
}

// Is makes errors.Is(err, ErrLostRace) hold.
func (e *LostRaceError) Is(target error) bool { return target == ErrLostRace }

// UpdateError is an update that failed while the ref stayed at Old (read
// back), or whose ref could not be read back (ReadBack): not a lost race,
// so not retried. Err is the update's own error; it may be a
// *gitpush.RejectedError (a hook, a protected branch) or match
// gitpush.ErrTimeout.
type UpdateError struct {
	Ref plumbing.ReferenceName
	Err error
	// ReadBack is why the ref could not be read back, if it could not.
	ReadBack error
}

// Error gives the update's error and, if it failed, the reading back's.
func (e *UpdateError) Error() string {
	if e.ReadBack != nil {
		return fmt.Sprintf("updating %s: %v (and reading it back failed: %v)", e.Ref, e.Err, e.ReadBack)
	}
	return fmt.Sprintf("updating %s: %v", e.Ref, e.Err)
}

// Unwrap returns the update's error.
func (e *UpdateError) Unwrap() error { return e.Err }

// CASOptions say what CompareAndSwap updates, where and how often it
// tries.
type CASOptions struct {
	// Remote names the remote of the repository whose Ref is updated, by
	// a push that never forces. Empty: Ref is updated in the repository's
	// own store.
	Remote string
	// Auth authenticates the push, the reading back and the fetch.
	Auth transport.AuthMethod
	// Ref is the ref to update, e.g. refs/heads/main.
	Ref plumbing.ReferenceName
	// Tracking is the local ref that follows the remote's Ref: the remote
	// head is fetched to it before Rebase, and it is set to the head that
	// landed. Default for a branch: refs/remotes/<Remote>/<branch>.
	// Unused without a Remote.
	Tracking plumbing.ReferenceName
	// Old is where Ref must be (zero: Ref must not exist); New is where
	// it is to go. New's objects are in the repository.
	Old, New plumbing.Hash
	// Rebase, when not nil, is called after a lost race with the head
	// another writer put at Ref (its objects fetched; zero when Ref was
	// deleted) and returns the commit to put there instead: the caller's
	// change rebuilt on it, or remoteHead itself when nothing is left to
	// do. Its error ends CompareAndSwap and is returned as it is. Without
	// Rebase a lost race ends at once.
	Rebase func(ctx context.Context, remoteHead plumbing.Hash) (plumbing.Hash, error)
	// Pack, when not nil, may return for a head to push the pack the
	// caller stored its new objects in (gitx.StoreObjectsPack): the push
	// sends it as it is (gitpush.PushPack). Nil: the push packs the
	// objects of the new commits itself.
	Pack func(head plumbing.Hash) []byte
	// MaxAttempts bounds the updates tried (default DefaultMaxAttempts).
	MaxAttempts int
	// Wait is the first pause after a lost race (default 10ms), doubled
	// after each up to MaxWait (default 500ms), each jittered.
	Wait, MaxWait time.Duration
	// Progress, if not nil, receives what the remote says while
	// receiving a push (a hook's reason for refusing it).
	Progress io.Writer
	// Logger receives the lost races (default: discard).
	Logger *slog.Logger
}

func (o *CASOptions) withDefaults() (CASOptions, error) {
	c := *o
	if c.Ref == "" {
		return c, errors.New("compare-and-swap: no ref given")
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Wait <= 0 {
		c.Wait = 10 * time.Millisecond
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Remote != "" && c.Tracking == "" {
		if !c.Ref.IsBranch() {
			return c, fmt.Errorf("compare-and-swap of %s on %s: name a tracking ref", c.Ref, c.Remote)
		}
		c.Tracking = plumbing.NewRemoteReferenceName(c.Remote, c.Ref.Short())
	}
	return c, nil
}

// CompareAndSwap moves opts.Ref from opts.Old to opts.New: on the remote
// opts.Remote by a push that never forces (the remote checks Old itself),
// or in repo's own store. After a failed update it reads the ref back
// rather than trusting the error's text: at New, the update landed; at
// Old, it failed for a reason of its own (*UpdateError, not retried);
// elsewhere another writer won the race, and it fetches that head, asks
// opts.Rebase for a commit built on it, and tries again, with a jittered
// pause, up to opts.MaxAttempts updates in all (then *LostRaceError,
// matching ErrLostRace). The head that landed is New, or the last hash
// Rebase returned; with a remote, the tracking ref is set to it.
func CompareAndSwap(ctx context.Context, repo *git.Repository, opts CASOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	old, head, wait := o.Old, o.New, o.Wait
	for attempt := 1; ; attempt++ {
		now, err := o.update(ctx, repo, old, head)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errLost) {
			return err
		}
		o.Logger.Debug("lost the compare-and-swap race", "ref", o.Ref, "attempt", attempt, "old", old, "now", now)
		if o.Rebase == nil || attempt >= o.MaxAttempts {
			return &LostRaceError{Ref: o.Ref, Old: old, Head: now, Attempts: attempt}
		}
		if err := backoff.Sleep(ctx, backoff.Jitter(wait)); err != nil {
			return err
		}
		wait = min(2*wait, o.MaxWait)
		if o.Remote != "" {
			if now, err = o.fetch(ctx, repo); err != nil {
				return err
			}
		}
		if head, err = o.Rebase(ctx, now); err != nil {
			return err
		}
		old = now
	}
}

// errLost is update's signal of a lost race (never returned to callers).
var errLost = errors.New("lost race")

// update tries once to move the ref from old to head. It returns nil when
// the ref is at head afterwards, errLost (with the head read back) when
// another writer moved it, and an *UpdateError or ctx's error otherwise.
func (o *CASOptions) update(ctx context.Context, repo *git.Repository, old, head plumbing.Hash) (plumbing.Hash, error) {
	var err error
	if o.Remote == "" {
		err = o.setLocal(repo, old, head)
	} else {
		var pack []byte
		if o.Pack != nil {
			pack = o.Pack(head)
		}
		err = gitpush.PushPack(ctx, repo, o.Remote, o.Auth, o.Ref, old, head, pack, o.Progress)
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			err = nil
		}
	}
	if err == nil {
		return head, o.landed(repo, head)
	}
	if ctx.Err() != nil {
		return plumbing.ZeroHash, ctx.Err()
	}
	now, rerr := o.readBack(ctx, repo)
	switch {
	case rerr != nil:
		return plumbing.ZeroHash, &UpdateError{Ref: o.Ref, Err: err, ReadBack: rerr}
	case now == head:
		return head, o.landed(repo, head)
	case now == old:
		return now, &UpdateError{Ref: o.Ref, Err: err}
	}
	return now, errLost
}

// setLocal moves the ref in repo's own store.
func (o *CASOptions) setLocal(repo *git.Repository, old, head plumbing.Hash) error {
	next := plumbing.NewHashReference(o.Ref, head)
	if old.IsZero() {
		// go-git has no "create only if absent": check, then set.
		switch _, err := repo.Storer.Reference(o.Ref); {
		case err == nil:
			return fmt.Errorf("%s exists", o.Ref)
		case !errors.Is(err, plumbing.ErrReferenceNotFound):
			return err
		}
		return repo.Storer.SetReference(next)
	}
	return repo.Storer.CheckAndSetReference(next, plumbing.NewHashReference(o.Ref, old))
}

// landed moves the tracking ref to the head that landed.
func (o *CASOptions) landed(repo *git.Repository, head plumbing.Hash) error {
	if o.Remote == "" {
		return nil
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(o.Tracking, head)); err != nil {
		return fmt.Errorf("updating %s: %w", o.Tracking, err)
	}
	return nil
}

// readBack reads where the ref is now (zero when it does not exist).
func (o *CASOptions) readBack(ctx context.Context, repo *git.Repository) (plumbing.Hash, error) {
	if o.Remote == "" {
		r, err := repo.Storer.Reference(o.Ref)
		switch {
		case errors.Is(err, plumbing.ErrReferenceNotFound):
			return plumbing.ZeroHash, nil
		case err != nil:
			return plumbing.ZeroHash, err
		}
		return r.Hash(), nil
	}
	return RemoteHead(ctx, repo, o.Remote, o.Auth, o.Ref)
}

// RemoteHead lists the refs of the remote named remote of repo and
// returns where ref is (zero when it does not exist), within the bound of
// gitpush.Call.
func RemoteHead(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref plumbing.ReferenceName) (plumbing.Hash, error) {
	rem, err := repo.Remote(remote)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("remote %q: %w", remote, err)
	}
	call, cancel := gitpush.Call(ctx)
	defer cancel()
	refs, err := rem.ListContext(call, &git.ListOptions{Auth: auth})
	if err != nil {
		return plumbing.ZeroHash, gitpush.Err(call, err)
	}
	for _, r := range refs {
		if r.Name() == ref {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// fetch brings the remote's ref to the tracking ref after a lost race.
func (o *CASOptions) fetch(ctx context.Context, repo *git.Repository) (plumbing.Hash, error) {
	h, err := FetchRef(ctx, repo, o.Remote, o.Auth, o.Ref, o.Tracking)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("after losing the race: %w", err)
	}
	return h, nil
}

// FetchRef fetches ref from the remote named remote of repo to the local
// ref tracking (forced: the remote is the truth, a rewrite is seen as it
// is), within the bound of gitpush.Call, and returns where it is. When
// the remote has no such ref it removes tracking and returns zero.
//
// go-git writes a ref by truncating its file and writing the new value, so
// a process killed in between leaves an empty file, which go-git reads as
// no ref and which fails every later fetch (dotgit.ErrEmptyRefFile). A ref
// under refs/remotes/ is only a copy of a remote: such a torn copy is
// removed and fetched again. Any other torn ref is an error naming it.
func FetchRef(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref, tracking plumbing.ReferenceName) (plumbing.Hash, error) {
	h, err := fetchRef(ctx, repo, remote, auth, ref, tracking)
	if errors.Is(err, dotgit.ErrEmptyRefFile) {
		if rerr := removeTornRemoteRefs(repo); rerr != nil {
			return plumbing.ZeroHash, errors.Join(err, rerr)
		}
		h, err = fetchRef(ctx, repo, remote, auth, ref, tracking)
	}
	return h, err
}

// removeTornRemoteRefs removes the empty loose ref files under
// refs/remotes/ of repo's storage (see FetchRef) and reports one under
// any other prefix.
func removeTornRemoteRefs(repo *git.Repository) error {
	root := GitDir(repo)
	if root == "" {
		return nil
	}
	var torn []string
	err := filepath.WalkDir(filepath.Join(root, "refs"), func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil || info.Size() > 0 {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, "refs/remotes/") {
			torn = append(torn, name)
			return nil
		}
		return os.Remove(p)
	})
	if err != nil {
		return fmt.Errorf("removing torn remote-tracking refs: %w", err)
	}
	if len(torn) > 0 {
		return fmt.Errorf("%w: %s in %s (a process was killed while writing it): set it again with git update-ref, or delete it", dotgit.ErrEmptyRefFile, strings.Join(torn, ", "), root)
	}
	return nil
}

func fetchRef(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref, tracking plumbing.ReferenceName) (plumbing.Hash, error) {
	spec := config.RefSpec("+" + ref.String() + ":" + tracking.String())
	call, cancel := gitpush.Call(ctx)
	defer cancel()
	err := gitpush.Err(call, repo.FetchContext(call, &git.FetchOptions{
		RemoteName: remote,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       auth,
		Tags:       git.NoTags,
	}))
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		if err := repo.Storer.RemoveReference(tracking); err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, fmt.Errorf("removing %s: %w", tracking, err)
		}
		return plumbing.ZeroHash, nil
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetching %s from %s: %w", ref, remote, err)
	}
	r, err := repo.Storer.Reference(tracking)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading %s after fetching: %w", tracking, err)
	}
	return r.Hash(), nil
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:12]
}
