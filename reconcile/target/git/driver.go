package gittarget

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/reconcile/target"
)

// DefaultMaxAttempts bounds the fetch-edit-push rounds of Apply and
// Restore when other writers keep moving the branch.
const DefaultMaxAttempts = 10

// DefaultMaxFileSize is the largest file the driver edits (10 MiB).
const DefaultMaxFileSize = 10 << 20

// ErrNoFile is matched (errors.Is) when the file an action names does not
// exist on the branch. The driver never creates files.
var ErrNoFile = errors.New("file not in the environment repository")

// ErrContention is matched (errors.Is) when every attempt to push lost
// the race against other writers of the branch.
var ErrContention = errors.New("environment branch kept moving, giving up")

// ErrRejected is matched (errors.Is) by a *RejectedError.
var ErrRejected = errors.New("push rejected")

// RejectedError reports a push the environment repository refused for
// another reason than a moved branch: a protected branch, a hook.
type RejectedError struct {
	URL, Branch string
	// Message is what git said, including the remote's own output.
	Message string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("pushing to %s of %s was rejected (a protected branch or a hook refusing cab's commits?): %s", e.Branch, e.URL, e.Message)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Driver is the git target driver: it sets a value in a YAML or JSON file
// of an environment repository (the repository Argo CD or Flux deploys
// from) and pushes the commit. It keeps one clone per repository URL in
// its cache directory. Its methods may be called concurrently; changes to
// one repository are serialized. Two Drivers must not share a cache
// directory.
type Driver struct {
	cacheDir    string
	auth        transport.AuthMethod
	author      object.Signature
	now         func() time.Time
	logger      *slog.Logger
	maxAttempts int
	maxFileSize int64

	// beforePush, when set (tests), runs between building a commit and
	// pushing it.
	beforePush func(attempt int)

	mu     sync.Mutex
	clones map[string]*clone
}

// Option configures a Driver.
type Option func(*Driver)

// WithAuth authenticates fetches and pushes (default: none).
func WithAuth(auth transport.AuthMethod) Option { return func(d *Driver) { d.auth = auth } }

// WithAuthor sets the author and committer of cab's commits (default
// "cab <cab@localhost>").
func WithAuthor(name, email string) Option {
	return func(d *Driver) { d.author = object.Signature{Name: name, Email: email} }
}

// WithClock sets the clock that dates commits (default time.Now).
func WithClock(now func() time.Time) Option { return func(d *Driver) { d.now = now } }

// WithLogger receives retries and what the driver writes (default: discard).
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.logger = l } }

// WithMaxAttempts bounds the fetch-edit-push rounds of Apply and Restore
// (default DefaultMaxAttempts).
func WithMaxAttempts(n int) Option { return func(d *Driver) { d.maxAttempts = n } }

// New returns a Driver keeping its clones under cacheDir (created when
// missing).
func New(cacheDir string, opts ...Option) (*Driver, error) {
	if cacheDir == "" {
		return nil, fmt.Errorf("git target: no cache directory given")
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("git target: creating cache directory: %w", err)
	}
	d := &Driver{
		cacheDir:    cacheDir,
		author:      object.Signature{Name: "cab", Email: "cab@localhost"},
		now:         time.Now,
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		maxAttempts: DefaultMaxAttempts,
		maxFileSize: DefaultMaxFileSize,
		clones:      map[string]*clone{},
	}
	for _, o := range opts {
		o(d)
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = DefaultMaxAttempts
	}
	if d.maxFileSize <= 0 {
		d.maxFileSize = DefaultMaxFileSize
	}
	return d, nil
}

// open returns the clone of s's repository, locked; call unlock when done.
func (d *Driver) open(s *spec) (repo *git.Repository, unlock func(), err error) {
	d.mu.Lock()
	c := d.clones[s.url]
	if c == nil {
		c = &clone{}
		d.clones[s.url] = c
	}
	d.mu.Unlock()
	c.mu.Lock()
	if c.repo == nil {
		if c.repo, err = d.openClone(s); err != nil {
			c.mu.Unlock()
			return nil, nil, err
		}
	}
	return c.repo, c.mu.Unlock, nil
}

func (d *Driver) openClone(s *spec) (*git.Repository, error) {
	dir := filepath.Join(d.cacheDir, cacheKey(s.url)+".git")
	repo, err := git.PlainOpen(dir)
	switch {
	case errors.Is(err, git.ErrRepositoryNotExists):
		if repo, err = git.PlainInit(dir, true); err != nil {
			return nil, fmt.Errorf("creating the clone of %s in %s: %w", s.url, dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("opening the clone of %s in %s (delete the directory to start afresh): %w", s.url, dir, err)
	}
	rem, err := repo.Remote(remoteName)
	if err == nil && len(rem.Config().URLs) == 1 && rem.Config().URLs[0] == s.fetchURL {
		return repo, nil
	}
	_ = repo.DeleteRemote(remoteName)
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{s.fetchURL}}); err != nil {
		return nil, fmt.Errorf("configuring the clone of %s: %w", s.url, err)
	}
	return repo, nil
}

// snapshot is the file as it is at the branch head.
type snapshot struct {
	head plumbing.Hash
	file *fileAt
	obs  *observation
}

func (d *Driver) snapshot(ctx context.Context, repo *git.Repository, s *spec) (*snapshot, error) {
	head, err := d.fetch(ctx, repo, s)
	if err != nil {
		return nil, err
	}
	return d.snapshotAt(repo, s, head)
}

func (d *Driver) snapshotAt(repo *git.Repository, s *spec, head plumbing.Hash) (*snapshot, error) {
	f, err := d.readFile(repo, head, s)
	if err != nil {
		return nil, err
	}
	o, err := s.observe(f.content)
	if err != nil {
		return nil, err
	}
	return &snapshot{head: head, file: f, obs: o}, nil
}

func (sn *snapshot) state(s *spec) (target.State, error) {
	rd, err := json.Marshal(s.restoreData(sn.obs, sn.head, sn.file.blob, sn.file.content))
	if err != nil {
		return target.State{}, fmt.Errorf("encoding the restore state: %w", err)
	}
	return target.State{Value: sn.obs.value, Done: sn.obs.done, Restore: rd}, nil
}

// Observe fetches the branch and reads the value the change concerns:
// State.Value is the value at the path (for kustomizeImage the entry as
// kustomize renders it, [newName][:newTag][@digest]), target.Absent when the path or entry does not exist;
// Done whether it is the value the change wants; Restore the file as it
// is (content, blob and branch head).
func (d *Driver) Observe(ctx context.Context, c target.Change) (target.State, error) {
	s, err := d.spec(c)
	if err != nil {
		return target.State{}, err
	}
	repo, unlock, err := d.open(s)
	if err != nil {
		return target.State{}, err
	}
	defer unlock()
	sn, err := d.snapshot(ctx, repo, s)
	if err != nil {
		return target.State{}, err
	}
	return sn.state(s)
}

// Apply fetches the branch, edits the file, commits on top of the head it
// fetched and pushes with a compare-and-swap. When another writer moved
// the branch first it fetches and edits again, up to the attempt bound.
// When the file already holds the value it commits nothing. The value is
// read back from the pushed commit (target.ErrMismatch if it differs).
func (d *Driver) Apply(ctx context.Context, c target.Change) (target.State, error) {
	s, err := d.spec(c)
	if err != nil {
		return target.State{}, err
	}
	repo, unlock, err := d.open(s)
	if err != nil {
		return target.State{}, err
	}
	defer unlock()
	subject := c.Action.Message
	if subject == "" {
		subject = "cab: " + c.Ticket + " " + c.Action.File
	}
	msg := message(subject,
		[2]string{"Cab-Ticket", c.Ticket},
		[2]string{"Cab-Env", c.Env},
		[2]string{"Cab-Seq", strconv.Itoa(c.Seq)},
		[2]string{"Cab-Commit", c.Commit})
	var st target.State
	edit := func(sn *snapshot) ([]byte, error) {
		if sn.obs.done {
			var err error
			st, err = sn.state(s)
			return nil, err
		}
		out, err := s.apply(sn.file.content)
		if err == nil && bytes.Equal(out, sn.file.content) {
			err = fmt.Errorf("%w: editing %s changed nothing, yet it does not hold %s", target.ErrMismatch, s.file, s.want())
		}
		return out, err
	}
	check := func(sn *snapshot) error {
		if !sn.obs.done {
			return fmt.Errorf("%w: %s of %s holds %s after the push, want %s", target.ErrMismatch, s.file, s.url, sn.obs.value, s.want())
		}
		d.logger.Info("applied", "ticket", c.Ticket, "env", c.Env, "url", s.url, "branch", s.branch, "file", s.file, "commit", sn.head)
		var err error
		st, err = sn.state(s)
		return err
	}
	if err := d.transact(ctx, repo, s, edit, msg, check); err != nil {
		return target.State{}, err
	}
	return st, nil
}

func (s *spec) want() string {
	if s.set != nil {
		return s.set.want.String()
	}
	return imageRef(s.image.newName, s.image.newTag, s.image.digest)
}

// transact fetches the branch, edits the file and commits on the head it
// fetched, and pushes by compare-and-swap; after a lost race it edits
// again on the head the other writer pushed, up to the attempt bound. It
// stops when a push lands, when nothing is left to do (edit returns nil
// content) or at an error. check looks at the pushed commit.
func (d *Driver) transact(ctx context.Context, repo *git.Repository, s *spec,
	edit func(*snapshot) ([]byte, error), msg string, check func(*snapshot) error) error {
	sn, err := d.snapshot(ctx, repo, s)
	if err != nil {
		return err
	}
	attempt, noop := 0, false
	// build returns the commit to push on sn.head: sn.head itself when
	// there is nothing to do.
	build := func(sn *snapshot) (plumbing.Hash, error) {
		out, err := edit(sn)
		if noop = err == nil && out == nil; err != nil || noop {
			return sn.head, err
		}
		if int64(len(out)) > d.maxFileSize {
			return plumbing.ZeroHash, unsafef("editing %s would make it %d bytes, more than the %d cab writes", s.file, len(out), d.maxFileSize)
		}
		head, err := d.commit(repo, sn.head, s, out, msg)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		attempt++
		if d.beforePush != nil {
			d.beforePush(attempt)
		}
		return head, nil
	}
	head, err := build(sn)
	if err != nil || noop {
		return err
	}
	progress := &limitedBuffer{max: 4 << 10}
	err = gitx.CompareAndSwap(ctx, repo, gitx.CASOptions{
		Remote:      remoteName,
		Auth:        d.auth,
		Ref:         plumbing.NewBranchReferenceName(s.branch),
		Tracking:    trackingRef(s.branch),
		Old:         sn.head,
		New:         head,
		MaxAttempts: d.maxAttempts,
		Wait:        10 * time.Millisecond,
		MaxWait:     500 * time.Millisecond,
		Progress:    progress,
		Logger:      d.logger.With("url", s.url, "branch", s.branch),
		Rebase: func(_ context.Context, remoteHead plumbing.Hash) (plumbing.Hash, error) {
			if remoteHead.IsZero() {
				return plumbing.ZeroHash, fmt.Errorf("branch %s of %s was deleted while cab was editing it", s.branch, s.url)
			}
			sn, err := d.snapshotAt(repo, s, remoteHead)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			head, err = build(sn)
			return head, err
		},
	})
	if err != nil {
		return s.pushError(err, progress)
	}
	if noop {
		return nil
	}
	after, err := d.snapshotAt(repo, s, head)
	if err != nil {
		return fmt.Errorf("reading %s back from the pushed commit %s: %w", s.file, head, err)
	}
	return check(after)
}

// Restore puts the file back as prev (a State Observe returned before
// Apply) recorded it, in a new commit with the trailer Cab-Rollback,
// pushed like Apply's. When nobody else changed the file since the change
// was applied, the previous content is written back exactly; when someone
// did, only the change's own value is put back (the path's old value
// written again, or what the change created removed), so that their edits
// survive. A file already as prev recorded it is left alone.
func (d *Driver) Restore(ctx context.Context, c target.Change, prev target.State) error {
	s, err := d.spec(c)
	if err != nil {
		return err
	}
	if len(prev.Restore) == 0 {
		return fmt.Errorf("restoring %s: no previous state recorded for %s in %s", s.file, c.Ticket, c.Env)
	}
	var rd restoreData
	if err := json.Unmarshal(prev.Restore, &rd); err != nil {
		return fmt.Errorf("restoring %s: decoding the recorded state: %w", s.file, err)
	}
	if err := rd.matches(s); err != nil {
		return fmt.Errorf("restoring %s: %w", s.file, err)
	}
	repo, unlock, err := d.open(s)
	if err != nil {
		return err
	}
	defer unlock()
	msg := message("cab: roll back "+c.Ticket+" "+c.Action.File,
		[2]string{"Cab-Rollback", c.Ticket},
		[2]string{"Cab-Env", c.Env},
		[2]string{"Cab-Seq", strconv.Itoa(c.Seq)},
		[2]string{"Cab-Commit", c.Commit})
	return d.transact(ctx, repo, s, func(sn *snapshot) ([]byte, error) {
		if sn.file.blob.String() == rd.Blob {
			return nil, nil
		}
		before, err := d.previousContent(repo, s, &rd)
		if err != nil {
			return nil, err
		}
		// Exactly as before when the file is what applying made of it.
		if applied, err := s.apply(before); err == nil && bytes.Equal(applied, sn.file.content) {
			return before, nil
		}
		out, err := s.revert(sn.file.content, &rd)
		if err != nil || bytes.Equal(out, sn.file.content) {
			return nil, err
		}
		return out, nil
	}, msg, func(sn *snapshot) error {
		if want := prev.Value; sn.obs.value != want {
			return fmt.Errorf("%w: %s of %s holds %s after restoring, want %s", target.ErrMismatch, s.file, s.url, sn.obs.value, want)
		}
		d.logger.Info("restored", "ticket", c.Ticket, "env", c.Env, "url", s.url, "branch", s.branch, "file", s.file, "commit", sn.head)
		return nil
	})
}

// previousContent is the file as rd recorded it: its content, or the
// recorded blob from the repository's history.
func (d *Driver) previousContent(repo *git.Repository, s *spec, rd *restoreData) ([]byte, error) {
	if rd.Content != nil {
		return rd.Content, nil
	}
	content, err := gitx.ReadBlob(repo.Storer, plumbing.NewHash(rd.Blob), d.maxFileSize)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("restoring %s: the previous content (blob %s) is not in %s's history: %w", s.file, rd.Blob, s.url, err)
	}
	return content, err
}

// spec parses c and refuses to send the driver's token (or the URL's
// user:password) over plain http to a host that is not loopback unless
// the target says insecure: true.
func (d *Driver) spec(c target.Change) (*spec, error) {
	s, err := newSpec(c)
	if err != nil {
		return nil, err
	}
	insecure := c.Target.Insecure != nil && *c.Target.Insecure
	if err := target.CheckPlainHTTP(c.Target.URL, d.auth != nil, insecure); err != nil {
		return nil, fmt.Errorf("target %s of %s: %w", c.TargetName, c.Env, err)
	}
	return s, nil
}
