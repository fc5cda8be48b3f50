package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/cabhq/cab/internal/gitx"
)

// DefaultBranch is the ledger branch used when Open is given none.
const DefaultBranch = "cab/ledger"

// DefaultMaxAttempts bounds the transactions of Update.
const DefaultMaxAttempts = 20

// ErrContention is returned by Update when every attempt lost the race
// against other writers.
var ErrContention = errors.New("ledger: too much contention, giving up")

// ErrRewritten is matched (errors.Is) by the *RewrittenError of
// VerifyCheckpoint: the ledger branch was force-pushed or rewritten.
var ErrRewritten = errors.New("ledger rewritten")

// RewrittenError reports that a checkpoint is no longer an ancestor of the
// ledger head.
type RewrittenError struct {
	Checkpoint, Head plumbing.Hash
}

func (e *RewrittenError) Error() string {
	return fmt.Sprintf("ledger rewritten: checkpoint %s is not an ancestor of head %s", e.Checkpoint, e.Head)
}

// Is makes errors.Is(err, ErrRewritten) true.
func (e *RewrittenError) Is(target error) bool { return target == ErrRewritten }

// Ledger reads and appends the ledger branch of a git repository.
// Its methods serialize with each other; two Ledgers must not share one
// repository concurrently.
type Ledger struct {
	repo   *git.Repository
	remote string
	branch string

	// Auth authenticates fetches and pushes (nil: none).
	Auth transport.AuthMethod
	// Now is the clock filling in Event.At (default time.Now).
	Now func() time.Time
	// Author signs the ledger commits; its When is the event's At.
	Author object.Signature
	// MaxAttempts bounds the attempts of Update (default DefaultMaxAttempts).
	MaxAttempts int
	// Logger receives retries (default: discard).
	Logger *slog.Logger
	// Signer, when set, signs every outcome event Update appends without
	// an envelope (see IsOutcome and Canonical): a reconciler's key.
	Signer EventSigner
	// Objects, when set, is what reads decode the ledger's trees and
	// blobs through instead of the repository's storer: a faster reader
	// of the same repository (cab verify passes cab log's pack reader).
	// Writes always go through the storer.
	Objects Objects

	mu sync.Mutex
	// verifier checks outcome events on read (nil: not checked).
	verifier EventVerifier
	// last is what the last read read: the next one decodes only the
	// ticket directories whose tree changed since.
	last *snapshot
	// seen is the head this ledger last fetched from its remote or
	// published there (zero: none, or no remote); when last is its log,
	// the next Update builds on it without fetching first (see transact).
	seen plumbing.Hash
	// guard: every read checks the head against checkpoint.
	guard      bool
	checkpoint plumbing.Hash
	// trees keeps the trees last read or written.
	trees *treeMemo
	// built is the head the last append built and the pack its objects
	// were stored in (nil: loose), which publishing that head pushes as
	// it is; cleared once published.
	built struct {
		head plumbing.Hash
		pack []byte
	}
}

// memo is the Ledger's tree memo.
func (l *Ledger) memo() *treeMemo {
	if l.trees == nil {
		l.trees = newTreeMemo(l.repo.Storer)
	}
	return l.trees
}

// SetVerifier makes every later read check outcome events with v (the
// keys cab.cue trusts for the reconcile role): an outcome that is
// unsigned or wrongly signed is reported as an *OutcomeError of its
// ticket and left out of Events and States. nil turns the check off.
func (l *Ledger) SetVerifier(v EventVerifier) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.verifier, l.last = v, nil
}

// Guard makes every later read refuse, with a *CheckpointError, a ledger
// head that is not checkpoint plus added events (see CheckAppendOnly),
// and move the checkpoint on to each head it accepts. A zero checkpoint
// accepts any first head (trust on first use).
func (l *Ledger) Guard(checkpoint plumbing.Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.guard, l.checkpoint = true, checkpoint
}

// Checkpoint returns the last head a guarded ledger accepted.
func (l *Ledger) Checkpoint() plumbing.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpoint
}

// Open returns the ledger kept on branch (DefaultBranch when empty) of
// repo. With a remote name, Read fetches the branch from that remote and
// Update pushes to it; with "" the ledger lives in the local ref only.
func Open(repo *git.Repository, remote, branch string) *Ledger {
	if branch == "" {
		branch = DefaultBranch
	}
	return &Ledger{
		repo:        repo,
		remote:      remote,
		branch:      branch,
		Now:         time.Now,
		Author:      object.Signature{Name: "cab", Email: "cab@localhost"},
		MaxAttempts: DefaultMaxAttempts,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// branchRef is the ref on the remote (or the local ref in local mode).
func (l *Ledger) branchRef() plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(l.branch)
}

// trackingRef is where the remote branch is fetched to.
func (l *Ledger) trackingRef() plumbing.ReferenceName {
	if l.remote == "" {
		return l.branchRef()
	}
	return plumbing.NewRemoteReferenceName(l.remote, l.branch)
}

func (l *Ledger) checkNames() error {
	if err := l.branchRef().Validate(); err != nil {
		return fmt.Errorf("ledger branch %q: %w", l.branch, err)
	}
	if l.remote != "" {
		if err := l.trackingRef().Validate(); err != nil {
			return fmt.Errorf("ledger remote %q: %w", l.remote, err)
		}
	}
	return nil
}

// Read fetches the ledger branch (when there is a remote) and returns the
// log at its head, checking every event against the state machine. An
// empty or missing branch is an empty log.
func (l *Ledger) Read(ctx context.Context) (*Log, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read(ctx)
}

func (l *Ledger) read(ctx context.Context) (*Log, error) {
	l.seen = plumbing.ZeroHash
	if err := l.checkNames(); err != nil {
		return nil, err
	}
	if err := l.fetch(ctx); err != nil {
		return nil, err
	}
	head := plumbing.ZeroHash
	ref, err := l.repo.Reference(l.trackingRef(), true)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", l.trackingRef(), err)
	default:
		head = ref.Hash()
	}
	log, err := l.readFetched(ctx, head)
	if err == nil && l.remote != "" {
		l.seen = log.Head
	}
	return log, err
}

// readFetched reads the log at head, just fetched (readAt). With a
// remote, a read that finds an object of the branch missing from the
// repository is not a broken ledger (the remote checks that a pushed
// branch is complete) but an incomplete local store, which a fetch does
// not mend (see gitx.Refetch): the branch is fetched whole, once, and
// read again at the head fetched.
func (l *Ledger) readFetched(ctx context.Context, head plumbing.Hash) (*Log, error) {
	log, err := l.readAt(ctx, head)
	if l.remote == "" || !incomplete(log, err) {
		return log, err
	}
	l.Logger.Warn("ledger objects missing from the local repository; fetching the branch whole", "branch", l.branch, "head", head, "err", err)
	// Nothing read from the incomplete store is kept.
	l.last, l.trees = nil, nil
	if head, err = gitx.Refetch(ctx, l.repo, l.remote, l.Auth, l.branchRef(), l.trackingRef()); err != nil {
		return nil, fmt.Errorf("ledger %s: %w", l.branch, err)
	}
	return l.readAt(ctx, head)
}

// incomplete reports whether a read of the log failed, or set a ticket
// aside, because an object was missing from the repository.
func incomplete(log *Log, err error) bool {
	if err != nil {
		return errors.Is(err, plumbing.ErrObjectNotFound)
	}
	for _, ps := range log.Problems {
		for _, p := range ps {
			if errors.Is(p, plumbing.ErrObjectNotFound) {
				return true
			}
		}
	}
	return false
}

// readAt reads the log at head, fetched already: a guarded ledger first
// checks that head is its checkpoint plus added events and moves the
// checkpoint there.
func (l *Ledger) readAt(ctx context.Context, head plumbing.Hash) (*Log, error) {
	if l.guard {
		if err := checkAppendOnly(ctx, l.repo, l.memo(), l.checkpoint, head); err != nil {
			return nil, err
		}
		l.checkpoint = head
	}
	return l.readLog(head)
}

// readLog decodes the log at head, reading only the ticket directories
// whose tree changed since the last read.
func (l *Ledger) readLog(head plumbing.Hash) (*Log, error) {
	var objs Objects = l.memo()
	if l.Objects != nil {
		objs = l.Objects
	}
	snap, err := decoder{objs: objs, v: l.verifier}.read(l.repo.Storer, head, l.last)
	if err != nil {
		return nil, err
	}
	l.last = snap
	return snap.log, nil
}

// ReadAt reads the ledger as it is at commit head (zero: empty), without
// fetching and without checking outcome signatures: for readers that
// found the branch themselves, e.g. a remote-tracking ref of a CI
// checkout.
func ReadAt(repo *git.Repository, head plumbing.Hash) (*Log, error) {
	snap, err := decoder{objs: StorerObjects(repo.Storer)}.read(repo.Storer, head, nil)
	if err != nil {
		return nil, err
	}
	return snap.log, nil
}

// fetch updates the tracking ref from the remote (forced, so that a
// rewritten remote is seen as it is) and removes it when the remote
// branch does not exist.
func (l *Ledger) fetch(ctx context.Context) error {
	if l.remote == "" {
		return nil
	}
	if _, err := gitx.FetchRef(ctx, l.repo, l.remote, l.Auth, l.branchRef(), l.trackingRef()); err != nil {
		return fmt.Errorf("ledger %s: %w", l.branch, err)
	}
	return nil
}

// Decide looks at the latest log and returns the events to append (none
// to append nothing). Seq and At may be left zero to be filled in.
type Decide func(*Log) ([]Event, error)

// Update runs a transaction: it reads the latest log (right after this
// ledger's own read or append, the log it holds: see transact), calls
// decide with it, appends the returned events as one commit each on top of the head
// it read, and publishes them with a compare-and-swap on the branch ref
// (gitx.CompareAndSwap: a plain, non-force push required to start from
// that head, or a checked local ref update). When another writer moved
// the ref first, it reads the log at the head that writer put there and
// calls decide again, up to MaxAttempts updates with a short jittered
// backoff, then fails with ErrContention; decide must therefore have no
// side effects of its own. It returns the log including the appended
// events.
func (l *Ledger) Update(ctx context.Context, decide Decide) (*Log, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var (
		read   *Log
		events []Event
		states map[string]*TicketState
	)
	head, err := l.transact(ctx, func(ctx context.Context, log *Log) (plumbing.Hash, error) {
		var err error
		var head plumbing.Hash
		read = log
		events, states, head, err = l.build(ctx, log, decide)
		return head, err
	})
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		// Nothing appended: the log decided on is the latest.
		return read, nil
	}
	// Re-read what was written: the stored form is the truth.
	out, err := l.readLog(head)
	if err != nil {
		return nil, err
	}
	for id := range states {
		if out.stateOf(id) == nil {
			return nil, fmt.Errorf("ledger: read back no state for %s, just appended", id)
		}
	}
	if l.remote != "" {
		l.seen = head
	}
	for _, ev := range events {
		for _, p := range out.Problems[ev.Ticket] {
			var oe *OutcomeError
			if errors.As(p, &oe) && oe.Seq == ev.Seq {
				return nil, fmt.Errorf("ledger: the %s event just appended for %s does not verify (is this reconciler's key trusted with role reconcile in cab.cue?): %w", ev.Kind, ev.Ticket, p)
			}
		}
	}
	return out, nil
}

// errSettled ends a compare-and-swap whose rebuilt change is empty: the
// head another writer put there is already what the transaction wants.
var errSettled = errors.New("nothing left to append")

// transact reads the latest log and asks build for the head to put on
// the branch on top of it (the log's own head: nothing to write), then
// moves the branch there by compare-and-swap (publish). After a lost race
// it reads the log at the winner's head (guarded as every read is) and
// asks build again. It returns the head the branch is at afterwards.
//
// The log this ledger last fetched or published is taken as the latest
// without fetching again (a reconcile pass reads the ledger, then records
// a claim, an apply and a verification in turn): a writer that moved the
// branch since makes the compare-and-swap lose the race, which fetches
// the winner's head and builds again on it, exactly as a race between a
// fetch and a push does. Nothing is ever published on a head other than
// the one it was built on; a stale log costs a refused push. When build
// fails or finds nothing to write on that log, the remote is asked, and
// build asked again on what it holds: a refusal and "nothing to write"
// are answered on the latest log, as without the shortcut.
func (l *Ledger) transact(ctx context.Context, build func(context.Context, *Log) (plumbing.Hash, error)) (plumbing.Hash, error) {
	var (
		log  *Log
		err  error
		seen = !l.seen.IsZero() && l.last != nil && l.last.log.Head == l.seen && (!l.guard || l.checkpoint == l.seen)
	)
	if seen {
		log = l.last.log
	} else if log, err = l.read(ctx); err != nil {
		return plumbing.ZeroHash, err
	}
	head, err := build(ctx, log)
	if seen && (err != nil || head == log.Head) {
		// A refusal, and "nothing to write", are said of the latest log.
		if log, err = l.read(ctx); err != nil {
			return plumbing.ZeroHash, err
		}
		head, err = build(ctx, log)
	}
	if err != nil || head == log.Head {
		return head, err
	}
	// base is the head the commits being published were built on: the
	// last one read (and, guarded, accepted).
	base := log.Head
	rebase := func(ctx context.Context, remoteHead plumbing.Hash) (plumbing.Hash, error) {
		log, err := l.readFetched(ctx, remoteHead)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		base = log.Head
		if head, err = build(ctx, log); err == nil && head == log.Head {
			return plumbing.ZeroHash, errSettled
		}
		return head, err
	}
	switch err := l.publish(ctx, log.Head, head, rebase); {
	case errors.Is(err, errSettled):
	case err != nil:
		return plumbing.ZeroHash, err
	default:
		// head is base, accepted, plus the commits build just made,
		// each adding one event's files (appendCommit): the checkpoint
		// plus added events by construction, so the guard moves on
		// without comparing the trees this process wrote itself.
		if l.guard && l.checkpoint == base {
			l.checkpoint = head
		}
	}
	return head, nil
}

// publish moves the branch from old to head by gitx.CompareAndSwap: on
// the remote by a push that never forces, or in the local ref. A lost
// race is rebuilt by rebase (nil: not retried); running out of attempts
// is ErrContention (and gitx.ErrLostRace); a refusal of the server's own
// (a hook, a protected branch) is a *gitpush.RejectedError, not retried.
func (l *Ledger) publish(ctx context.Context, old, head plumbing.Hash, rebase func(context.Context, plumbing.Hash) (plumbing.Hash, error)) error {
	attempts := l.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	opts := gitx.CASOptions{
		Remote:      l.remote,
		Auth:        l.Auth,
		Ref:         l.branchRef(),
		Old:         old,
		New:         head,
		Rebase:      rebase,
		MaxAttempts: attempts,
		Wait:        5 * time.Millisecond,
		MaxWait:     200 * time.Millisecond,
		Logger:      l.Logger,
	}
	if l.remote != "" {
		opts.Tracking = l.trackingRef()
		opts.Pack = func(h plumbing.Hash) []byte {
			if h == l.built.head {
				return l.built.pack
			}
			return nil
		}
		defer func() { l.built.head, l.built.pack = plumbing.ZeroHash, nil }()
	}
	err := gitx.CompareAndSwap(ctx, l.repo, opts)
	switch {
	case err == nil, errors.Is(err, errSettled):
		return err
	case errors.Is(err, gitx.ErrLostRace):
		// The lost race names the branch and counts the attempts.
		return fmt.Errorf("%w: %w", ErrContention, err)
	case l.remote != "":
		return fmt.Errorf("pushing ledger %s to %s: %w", l.branch, l.remote, err)
	}
	return fmt.Errorf("ledger %s: %w", l.branch, err)
}

// build decides on log and stores the commits of the events decide
// returns on top of log.Head, returning them, the states they lead to and
// the new head (log.Head when there is nothing to append).
func (l *Ledger) build(ctx context.Context, log *Log, decide Decide) ([]Event, map[string]*TicketState, plumbing.Hash, error) {
	events, err := decide(log)
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	if len(events) == 0 {
		return nil, nil, log.Head, nil
	}
	events = append([]Event(nil), events...)
	next := map[string]int{}
	now := l.Now
	if now == nil {
		now = time.Now
	}
	for i := range events {
		ev := &events[i]
		if ev.Seq == 0 {
			if next[ev.Ticket] == 0 {
				next[ev.Ticket] = log.State(ev.Ticket).Seq + 1
			}
			ev.Seq = next[ev.Ticket]
		}
		next[ev.Ticket] = ev.Seq + 1
		if ev.At.IsZero() {
			ev.At = now().UTC()
		}
	}
	states, err := replay(log.stateOf, events)
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	if l.Signer != nil {
		for i := range events {
			if ev := &events[i]; IsOutcome(ev.Kind) && len(ev.Envelope) == 0 {
				if err := signOutcome(ctx, l.Signer, ev); err != nil {
					return nil, nil, plumbing.ZeroHash, err
				}
			}
		}
	}
	// The commits are built in memory and stored together, as one pack
	// when there are many (see staging), before anything is published.
	st := newStaging(l.repo.Storer)
	memo := l.memo().over(st)
	head := log.Head
	for i := range events {
		if head, err = appendCommit(st, memo, head, &events[i], l.Author); err != nil {
			return nil, nil, plumbing.ZeroHash, fmt.Errorf("appending %s %s: %w", events[i].Kind, events[i].Ticket, err)
		}
	}
	pack, err := st.store()
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	l.built.head, l.built.pack = head, pack
	return events, states, head, nil
}

// VerifyCheckpoint checks that the ledger was only appended to since a
// checkpoint: old (a Log.Head kept earlier) must be on the first-parent
// chain of newHead. It fails with a *RewrittenError (errors.Is
// ErrRewritten) when it is not, e.g. after a force-push dropped events.
// A zero old checks nothing.
func VerifyCheckpoint(ctx context.Context, repo *git.Repository, old, newHead plumbing.Hash) error {
	if old.IsZero() || old == newHead {
		return nil
	}
	for c, err := range gitx.FirstParents(ctx, repo.Storer, newHead) {
		if err != nil {
			return fmt.Errorf("reading the ledger: %w", err)
		}
		if c.Hash == old {
			return nil
		}
	}
	return &RewrittenError{Checkpoint: old, Head: newHead}
}
