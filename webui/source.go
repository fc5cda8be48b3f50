package webui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/validate"
)

// maxTicketBytes bounds a ticket file read for display.
const maxTicketBytes = 1 << 20

// Options say where a Source reads.
type Options struct {
	// Dir is a directory inside the change repository (default ".").
	Dir string
	// Rev is the main line (default HEAD).
	Rev string
	// LedgerBranch is the ledger branch (default ledger.DefaultBranch).
	LedgerBranch string
	// Remote names the remote whose tracking ref of the ledger branch is
	// read when it exists (as cab log does); "" reads the local branch.
	Remote string
	// Recheck is how long a snapshot is served before the heads are
	// looked at again (default 2s; negative: at every request).
	Recheck time.Duration
	// Logger receives debug logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Source builds Snapshots from the repository and keeps the last one
// until the main or ledger head moves. It never writes to the
// repository, except the derived index of cab log under .git/cab/.
type Source struct {
	o Options

	mu       sync.Mutex
	snap     *Snapshot
	checked  time.Time
	heads    [2]plumbing.Hash
	details  map[plumbing.Hash]*details // ticket blob → its details (blobs never change)
	building chan struct{}              // closed when the running build ends
	// rules compiles main's cab.cue, once per blob; only the one running
	// build uses it.
	rules *load.Loader
}

// NewSource returns a Source reading the repository o.Dir names.
func NewSource(o Options) *Source {
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.LedgerBranch == "" {
		o.LedgerBranch = ledger.DefaultBranch
	}
	if o.Recheck == 0 {
		o.Recheck = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Source{o: o, details: map[plumbing.Hash]*details{}, rules: load.New()}
}

// Snapshot returns the snapshot of the current heads: the cached one
// while neither head moved (looked at no more often than Options.Recheck),
// a new one otherwise. Concurrent callers share one build.
func (s *Source) Snapshot(ctx context.Context) (*Snapshot, error) {
	for {
		s.mu.Lock()
		now := s.o.Now()
		if s.snap != nil && now.Sub(s.checked) < s.o.Recheck && s.o.Recheck > 0 {
			snap := s.snap
			s.mu.Unlock()
			return snap, nil
		}
		if b := s.building; b != nil {
			s.mu.Unlock()
			select {
			case <-b:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		s.building = done
		prev, prevHeads := s.snap, s.heads
		s.mu.Unlock()

		snap, heads, err := s.refresh(ctx, prev, prevHeads)
		s.mu.Lock()
		s.building = nil
		close(done)
		if err == nil {
			s.snap, s.heads, s.checked = snap, heads, now
		}
		s.mu.Unlock()
		return snap, err
	}
}

// refresh looks at the heads and rebuilds when either moved.
func (s *Source) refresh(ctx context.Context, prev *Snapshot, prevHeads [2]plumbing.Hash) (*Snapshot, [2]plumbing.Hash, error) {
	repo, err := git.PlainOpenWithOptions(s.o.Dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, prevHeads, fmt.Errorf("opening the change repository at %s: %w", s.o.Dir, err)
	}
	heads := [2]plumbing.Hash{s.resolve(repo, s.o.Rev), s.ledgerHead(repo)}
	if prev != nil && heads == prevHeads {
		return prev, heads, nil
	}
	snap, err := s.build(ctx, repo)
	return snap, heads, err
}

func (s *Source) resolve(repo *git.Repository, rev string) plumbing.Hash {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash
	}
	return *h
}

func (s *Source) ledgerHead(repo *git.Repository) plumbing.Hash {
	if s.o.Remote != "" {
		if r, err := repo.Reference(plumbing.NewRemoteReferenceName(s.o.Remote, s.o.LedgerBranch), true); err == nil {
			return r.Hash()
		}
	}
	if r, err := repo.Reference(plumbing.NewBranchReferenceName(s.o.LedgerBranch), true); err == nil {
		return r.Hash()
	}
	return plumbing.ZeroHash
}

// build reads cab log's rows (through its index), the ticket files on
// main that changed since the last build, the ledger and cab.cue.
func (s *Source) build(ctx context.Context, repo *git.Repository) (*Snapshot, error) {
	start := time.Now()
	var changes []audit.Change
	res, err := audit.Log(ctx, audit.LogOptions{Dir: s.o.Dir, Rev: s.o.Rev, LedgerBranch: s.o.LedgerBranch, Remote: s.o.Remote, Logger: s.o.Logger},
		func(c *audit.Change) error { changes = append(changes, *c); return nil })
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	mainHead, ledgerHead := plumbing.NewHash(res.MainHead), plumbing.NewHash(res.LedgerHead)
	var l *ledger.Log
	if !ledgerHead.IsZero() {
		if l, err = ledger.ReadAt(repo, ledgerHead); err != nil {
			return nil, fmt.Errorf("reading the ledger at %s: %w", ledgerHead, err)
		}
	}
	files, cfg, err := s.readMain(ctx, repo, mainHead)
	if err != nil {
		return nil, err
	}
	tickets := make([]*Ticket, len(changes))
	for i := range changes {
		t := &Ticket{Change: changes[i]}
		if d := files[t.Path]; d != nil {
			t.Description, t.Window, t.DependsOn, t.PostReviewOf, t.Links, t.Incident =
				d.Description, d.Window, d.DependsOn, d.PostReviewOf, d.Links, d.Incident
		}
		tickets[i] = t
	}
	snap := newSnapshot(tickets, l)
	snap.MainHead, snap.LedgerHead, snap.Problems = res.MainHead, res.LedgerHead, res.Problems
	snap.Freezes, snap.PostReviewDays = s.config(cfg)
	s.o.Logger.Debug("web UI snapshot", "main", res.MainHead, "ledger", res.LedgerHead, "tickets", len(tickets), "took", time.Since(start))
	return snap, nil
}

// readMain returns the details of every ticket file under changes/ at
// head, by path (decoding only the blobs not seen before), and cab.cue
// (nil when there is none, or it is refused or invalid: the pages still
// show the tickets, and the log says why).
func (s *Source) readMain(ctx context.Context, repo *git.Repository, head plumbing.Hash) (map[string]*details, *model.Config, error) {
	out := map[string]*details{}
	if head.IsZero() {
		return out, nil, nil
	}
	c, err := repo.CommitObject(head)
	if err != nil {
		return nil, nil, fmt.Errorf("reading main at %s: %w", head, err)
	}
	root, err := c.Tree()
	if err != nil {
		return nil, nil, fmt.Errorf("reading main's tree: %w", err)
	}
	var cfg *model.Config
	parsed, err := s.rules.ConfigAtTree(root, head.String())
	switch {
	case err == nil:
		cfg = &parsed.Config
	case errors.Is(err, load.ErrNoConfig):
	default: // refused, invalid or unreadable: the pages go on without it
		s.o.Logger.Warn("web UI: cab.cue not usable; no freezes and the default post-review deadline shown", "err", err)
	}
	changes, err := root.Tree("changes")
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return out, cfg, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading changes/: %w", err)
	}
	for _, svc := range changes.Entries {
		if svc.Mode != filemode.Dir {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		dir, err := repo.TreeObject(svc.Hash)
		if err != nil {
			return nil, nil, fmt.Errorf("reading changes/%s/: %w", svc.Name, err)
		}
		for _, e := range dir.Entries {
			if e.Mode != filemode.Regular || !strings.HasSuffix(e.Name, ".cue") {
				continue
			}
			p := path.Join("changes", svc.Name, e.Name)
			d, ok := s.details[e.Hash]
			if !ok {
				d = s.decode(repo, p, e.Hash)
				s.details[e.Hash] = d
			}
			if d != nil {
				out[p] = d
			}
		}
	}
	return out, cfg, nil
}

// decode reads one ticket blob (nil when it is not ticket data: cab log
// reports those).
func (s *Source) decode(repo *git.Repository, p string, h plumbing.Hash) *details {
	src, err := gitx.ReadBlob(repo.Storer, h, maxTicketBytes)
	if err != nil {
		return nil
	}
	t, err := schema.DecodeMerged(p, src)
	if err != nil {
		return nil
	}
	return detailsOf(t)
}

// config reads the freezes and the post-review deadline of cab.cue (none,
// and the default, without a usable one: the pages still show the
// tickets).
func (s *Source) config(cfg *model.Config) (calendar.Calendar, int) {
	days := validate.DefaultPostReviewDays
	if cfg == nil {
		return calendar.Calendar{}, days
	}
	days = validate.PostReviewDays(cfg)
	cal, err := calendar.New(cfg.Freezes)
	if err != nil {
		s.o.Logger.Debug("web UI: freezes do not resolve", "err", err)
		return calendar.Calendar{}, days
	}
	return cal, days
}

// Source returns the ticket file as it was merged: the blob at its merge
// commit (for the ticket page).
func (s *Source) source(t *Ticket) (string, error) {
	repo, err := git.PlainOpenWithOptions(s.o.Dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return "", err
	}
	c, err := repo.CommitObject(plumbing.NewHash(t.MergeCommit))
	if err != nil {
		return "", err
	}
	tree, err := c.Tree()
	if err != nil {
		return "", err
	}
	b, err := gitx.ReadFile(tree, t.Path, maxTicketBytes)
	return string(b), err
}
