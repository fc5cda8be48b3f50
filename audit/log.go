package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/audit/logindex"
	"github.com/cabhq/cab/internal/gitobj"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
)

// IndexMode says how Log uses the derived index under .git/cab/.
type IndexMode int

const (
	// IndexUse reads the index, brings it up to date incrementally and
	// writes it back (the default).
	IndexUse IndexMode = iota
	// IndexRebuild ignores the index on disk, scans everything and writes
	// a fresh one.
	IndexRebuild
	// IndexOff neither reads nor writes the index.
	IndexOff
)

// LogOptions configure Log and LogEvents.
type LogOptions struct {
	// Dir is a directory inside the repository (default ".").
	Dir string
	// Rev is the main line to read (default HEAD).
	Rev string
	// LedgerBranch is the ledger branch (default ledger.DefaultBranch).
	LedgerBranch string
	// Remote names the remote whose tracking ref of the ledger branch is
	// read when it exists (refs/remotes/<Remote>/<LedgerBranch>); the
	// local branch is read otherwise, and always when Remote is "".
	// Nothing is fetched: fetch first (cab log --fetch does).
	Remote string
	// Index says how to use the derived index (default IndexUse).
	Index IndexMode
	// OpenedAt computes Change.OpenedAt, which costs a walk over every
	// commit each merge brought in (remembered in the index).
	OpenedAt bool
	// Filter selects rows.
	Filter Filter
	// NoMerged says the caller does not show LogResult.Merged (cab log's
	// table and CSV): a cold run may then answer a question naming its
	// services exactly, or a period, without building the index (see
	// log_direct.go), and Merged is -1.
	NoMerged bool
	// Reverse emits the oldest merge first; the default is newest first,
	// as git log, which lets the first rows appear before the scan ends.
	Reverse bool
	// Logger receives debug logs (default: discard).
	Logger *slog.Logger
	// Progress, when set, is called now and then while scanning with the
	// number of main commits walked.
	Progress func(commits int)

	// atMain and atLedger, when set, replace the heads the refs name
	// (VerifyIndex re-derives the index at the heads it describes).
	atMain, atLedger *plumbing.Hash
}

// Problem is something wrong that Log found and reports without hiding
// the rows around it.
type Problem struct {
	// Ticket is the ticket concerned ("" for the whole ledger).
	Ticket string `json:"ticket,omitempty"`
	// What classifies it: ledger-broken (unreadable events, gaps, impossible
	// transitions), ledger-rewritten (history changed since cab log last
	// read it), ticket-unreadable (a ticket file on main that is not
	// plain ticket data).
	What    string `json:"what"`
	Message string `json:"message"`
}

// Problem kinds.
const (
	ProblemLedgerBroken     = "ledger-broken"
	ProblemLedgerRewritten  = "ledger-rewritten"
	ProblemTicketUnreadable = "ticket-unreadable"
)

// LogResult sums up a Log run.
type LogResult struct {
	// MainHead is the main commit read; LedgerHead the ledger commit
	// (zero hashes when there is none).
	MainHead   string `json:"mainHead"`
	LedgerHead string `json:"ledgerHead"`
	// Merged is how many merged tickets main holds (-1: not counted, see
	// LogOptions.NoMerged); Rows how many rows passed the filter.
	Merged int `json:"merged"`
	Rows   int `json:"rows"`
	// Problems are sorted by ticket, then message.
	Problems []Problem `json:"problems"`
	// Index says how the derived index served the run (not in the JSON
	// output, which stays the same whatever the cache held).
	Index IndexStats `json:"-"`
}

// LedgerBroken reports whether a problem concerns the ledger: cab log
// exits 1 then.
func (r *LogResult) LedgerBroken() bool {
	for _, p := range r.Problems {
		if p.What == ProblemLedgerBroken || p.What == ProblemLedgerRewritten {
			return true
		}
	}
	return false
}

// IndexStats says what the index did during a run.
type IndexStats struct {
	// State is off, cold (none or unusable: built from scratch), warm
	// (up to date), extended (brought up to date incrementally) or
	// prefix (the revision read is older than the index's head); direct
	// when a cold run answered without it (log_direct.go).
	State string `json:"state"`
	// Commits is how many main commits were walked; Blobs how many ticket
	// files were read.
	Commits int  `json:"commits"`
	Blobs   int  `json:"blobs"`
	Written bool `json:"written"`
	// Lookup says a warm run read only the records of the tickets asked
	// about, through the index's lookup section (log_byid.go).
	Lookup bool `json:"lookup"`
}

// EventRow is one ledger event of a merged ticket (cab log --events).
type EventRow struct {
	Ticket  string    `json:"ticket"`
	Title   string    `json:"title"`
	Service string    `json:"service"`
	Seq     int       `json:"seq"`
	Kind    string    `json:"kind"`
	Env     string    `json:"env,omitempty"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor,omitempty"`
	Commit  string    `json:"commit,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// Log reads main by first parent and the ledger, and calls emit with one
// Change per merged ticket that passes o.Filter, newest merge first (or
// oldest first with o.Reverse). Rows are emitted as they are found, so
// that a caller streaming them shows the first rows at once. Problems
// (a broken or rewritten ledger, unreadable tickets) do not stop the
// rows: they are returned in the result.
//
// The signed predicate is read from each envelope without verifying the
// signature: cab verify does that.
func Log(ctx context.Context, o LogOptions, emit func(*Change) error) (*LogResult, error) {
	r, err := run(ctx, o, func(r *runner, m *mergeRec, t *ticketRec, lt *ledgerTicket) error {
		c := r.change(m, t, lt)
		if !r.o.Filter.matchChange(c) {
			return nil
		}
		r.res.Rows++
		if t.Problem != "" {
			r.res.Problems = append(r.res.Problems, Problem{Ticket: t.ID, What: ProblemTicketUnreadable, Message: t.Path + ": " + t.Problem})
		}
		return emit(c)
	})
	if err != nil {
		return nil, err
	}
	return r.res, nil
}

// LogEvents is Log with one row per ledger event of the selected tickets:
// for each ticket (newest merge first), its events in sequence order.
// The environment, since and until filters apply to the events;
// Filter.Outcomes matches event kinds.
func LogEvents(ctx context.Context, o LogOptions, emit func(*EventRow) error) (*LogResult, error) {
	evFilter := o.Filter
	o.Filter.Envs, o.Filter.Since, o.Filter.Until, o.Filter.Outcomes = nil, time.Time{}, time.Time{}, nil
	r, err := run(ctx, o, func(r *runner, m *mergeRec, t *ticketRec, lt *ledgerTicket) error {
		c := r.change(m, t, lt)
		if !o.Filter.matchChange(c) || lt == nil {
			return nil
		}
		for _, ev := range lt.Events {
			if !evFilter.matchEvent(&ev) {
				continue
			}
			r.res.Rows++
			if err := emit(&EventRow{Ticket: c.ID, Title: c.Title, Service: c.Service, Seq: ev.Seq, Kind: ev.Kind,
				Env: ev.Env, At: ev.At.UTC(), Actor: ev.Actor, Commit: ev.Commit, Reason: ev.Reason}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.res, nil
}

// runner holds one run of Log.
type runner struct {
	o      LogOptions
	repo   *git.Repository
	gitDir string
	obj    *gitobj.Reader
	objDir string
	log    *slog.Logger
	res    *LogResult
	ledger *ledgerView
	// reader reads tickets and commits for the goroutine emitting rows
	// (the walk has readers of its own).
	reader *mainWalker
	// repository is the forge repository ("github.com/acme/changes") the
	// signed predicates name, for links.
	repository string
	idx        *logIndex
	dirty      bool
	// ledgerDone delivers the ledger read beside the walk.
	ledgerDone chan ledgerResult
	// chain is the first-parent chain read, newest first; mainSet the
	// same as a set, built when needed.
	chain   []plumbing.Hash
	mainSet map[plumbing.Hash]struct{}
}

type rowFunc func(r *runner, m *mergeRec, t *ticketRec, lt *ledgerTicket) error

func run(ctx context.Context, o LogOptions, row rowFunc) (*runner, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.LedgerBranch == "" {
		o.LedgerBranch = ledger.DefaultBranch
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := o.Filter.validate(); err != nil {
		return nil, err
	}
	repo, err := git.PlainOpenWithOptions(o.Dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w (run cab log inside the change repository)", o.Dir, err)
	}
	gitDir := gitx.CommonDir(repo)
	if gitDir == "" {
		return nil, errors.New("cab log needs a repository on disk")
	}
	objDir := filepath.Join(gitDir, "objects")
	obj, err := gitobj.Open(objDir, repo.Storer)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	r := &runner{o: o, repo: repo, gitDir: gitDir, obj: obj, objDir: objDir, log: o.Logger,
		res: &LogResult{Problems: []Problem{}, MainHead: plumbing.ZeroHash.String(), LedgerHead: plumbing.ZeroHash.String()}}
	r.reader = &mainWalker{obj: obj.Clone()}

	head, err := r.resolveMain()
	if err != nil {
		return nil, err
	}
	if o.atMain != nil {
		head = *o.atMain
	}
	r.res.MainHead = head.String()
	ledgerRef := r.ledgerRef()
	ledgerHead, err := r.resolveLedger(ledgerRef)
	if err != nil {
		return nil, err
	}
	if o.atLedger != nil {
		ledgerHead = *o.atLedger
	}
	r.res.LedgerHead = ledgerHead.String()

	// A question naming its tickets: from the index's lookup section
	// when the index is up to date (log_byid.go).
	if done, err := r.byID(head, ledgerRef, ledgerHead, row); done || err != nil {
		if err != nil {
			return nil, err
		}
		r.log.Debug("cab log index", "path", logindex.Path(gitDir), "state", r.res.Index.State, "lookup", r.res.Index.Lookup)
		r.finishProblems()
		return r, nil
	}
	switch o.Index {
	case IndexOff:
		r.res.Index.State = "off"
	case IndexRebuild:
		r.res.Index.State = "cold"
	default:
		r.idx = r.loadIndex()
	}
	var directSvc []string
	direct := false
	if r.idx == nil {
		directSvc, direct = r.directServices()
	}
	// The ledger is read beside the walk of main; rows wait for it.
	prevIdx := r.idx
	if r.idx == nil {
		r.idx = &logIndex{}
	}
	r.ledgerDone = make(chan ledgerResult, 1)
	ledgerObj := &objects{obj.Clone()}
	go func() {
		l, err := r.readLedger(ctx, ledgerObj, prevIdx, ledgerRef, ledgerHead)
		r.ledgerDone <- ledgerResult{read: l, ref: ledgerRef, err: err}
	}()
	if direct {
		err = r.direct(ctx, head, directSvc, row)
	} else {
		err = r.scan(ctx, head, row)
	}
	if lerr := r.awaitLedger(); lerr != nil {
		return nil, lerr
	}
	if err != nil {
		return nil, err
	}
	if o.Index != IndexOff && r.dirty && !direct {
		if err := r.saveIndex(); err != nil {
			// The index is a cache: failing to write it costs the next
			// run time, never a wrong answer.
			r.log.Debug("writing the cab log index", "err", err)
		} else {
			r.res.Index.Written = true
		}
	}
	st := r.res.Index
	r.log.Debug("cab log index", "path", logindex.Path(gitDir), "state", st.State, "commits", st.Commits, "blobs", st.Blobs, "written", st.Written)
	r.finishProblems()
	return r, nil
}

type ledgerResult struct {
	read *ledgerRead
	ref  plumbing.ReferenceName
	err  error
}

// resolveMain returns the commit o.Rev names; zero for a repository
// without commits. Plain names (HEAD, a branch, a tag, a full hash) are
// resolved from the refs alone: go-git's ResolveRevision reads the commit
// through a pack index it first inverts whole, which costs more than a
// warm cab log; anything else (HEAD~3, a short hash) goes through it.
func (r *runner) resolveMain() (plumbing.Hash, error) {
	rev := r.o.Rev
	if h, ok := r.resolveRef(rev); ok {
		return r.peel(h)
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		if rev == "HEAD" && errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, nil // no commit yet
		}
		return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
	}
	return *h, nil
}

// resolveRef looks rev up as git does for a plain name: a full hash, then
// the refs in their order of precedence.
func (r *runner) resolveRef(rev string) (plumbing.Hash, bool) {
	if h, ok := gitobj.ParseHex([]byte(rev)); ok {
		return h, true
	}
	for _, name := range []string{rev, "refs/" + rev, "refs/tags/" + rev, "refs/heads/" + rev, "refs/remotes/" + rev, "refs/remotes/" + rev + "/HEAD"} {
		ref, err := r.repo.Reference(plumbing.ReferenceName(name), true)
		if err == nil {
			return ref.Hash(), true
		}
	}
	return plumbing.ZeroHash, false
}

// peel follows annotated tags to the commit they point at.
func (r *runner) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		t, data, err := r.obj.Read(h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("revision %q: %w", r.o.Rev, err)
		}
		switch t {
		case gitobj.TypeCommit:
			return h, nil
		case gitobj.TypeTag:
			target, ok := gitobj.TagTarget(data)
			if !ok {
				return plumbing.ZeroHash, fmt.Errorf("revision %q: malformed tag %s", r.o.Rev, h)
			}
			h = target
		default:
			return plumbing.ZeroHash, fmt.Errorf("revision %q names a %s, not a commit", r.o.Rev, t)
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("revision %q: too many nested tags", r.o.Rev)
}

// ledgerRef is the ref the ledger is read from.
func (r *runner) ledgerRef() plumbing.ReferenceName {
	if r.o.Remote != "" {
		name := plumbing.NewRemoteReferenceName(r.o.Remote, r.o.LedgerBranch)
		if _, err := r.repo.Reference(name, true); err == nil {
			return name
		}
	}
	return plumbing.NewBranchReferenceName(r.o.LedgerBranch)
}

func (r *runner) resolveLedger(name plumbing.ReferenceName) (plumbing.Hash, error) {
	if err := name.Validate(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("ledger branch %q: %w", r.o.LedgerBranch, err)
	}
	ref, err := r.repo.Reference(name, true)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		return plumbing.ZeroHash, nil
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", name, err)
	}
	return ref.Hash(), nil
}

// ledgerRead is what reading the ledger gives a run.
type ledgerRead struct {
	view  *ledgerView
	notes []Problem
	// repository is the forge repository the signed predicates name.
	repository string
	changed    bool
}

// readLedger reads the ledger at head, reusing prev's view of the ticket
// directories that did not change, and checks what was appended since
// prev's head (when prev read the same ref). It runs on its own goroutine
// beside the walk of main: obj is its own reader, and go-git, which the
// ledger package reads with, is used under the fallback's lock.
func (r *runner) readLedger(ctx context.Context, obj *objects, idx *logIndex, name plumbing.ReferenceName, head plumbing.Hash) (*ledgerRead, error) {
	var prev *ledgerView
	var notes []Problem
	same := idx != nil && idx.ledgerRef == name.String()
	if same {
		prev = idx.ledger
		notes = slices.Clone(idx.notes)
		old := prev.Head
		switch {
		case old == head:
		case old.IsZero():
		case head.IsZero():
			notes = append(notes, Problem{What: ProblemLedgerRewritten, Message: fmt.Sprintf(
				"the ledger branch %s is gone; cab log last read it at %s", name.Short(), old)})
		default:
			err := r.withGoGit(func() error {
				err := ledger.VerifyCheckpoint(ctx, r.repo, old, head)
				if err == nil {
					err = ledger.AppendOnly(ctx, r.repo, head, old)
				}
				return err
			})
			var ae *ledger.AppendOnlyError
			switch {
			case err == nil:
			case errors.Is(err, ledger.ErrRewritten):
				notes = append(notes, Problem{What: ProblemLedgerRewritten, Message: fmt.Sprintf(
					"the ledger was rewritten: %s, which cab log read before, is no longer in the history of %s (%s)", old, name.Short(), head)})
			case errors.As(err, &ae):
				notes = append(notes, Problem{What: ProblemLedgerRewritten, Message: err.Error()})
			default:
				return nil, fmt.Errorf("checking the ledger appended since %s: %w", old, err)
			}
		}
	}
	v, err := readLedger(obj, head, prev, r.workers())
	if err != nil {
		return nil, err
	}
	out := &ledgerRead{view: v, notes: notes,
		changed: !same || prev.Head != head || len(notes) != len(idx.notes)}
	for _, t := range v.Tickets {
		for _, ev := range t.Events {
			if ev.Signed != nil && ev.Signed.Repository != "" && out.repository == "" {
				out.repository = ev.Signed.Repository
			}
		}
		if out.repository != "" {
			break
		}
	}
	return out, nil
}

// withGoGit runs f, which reads the repository through go-git, under the
// lock the readers' fallback takes: go-git's storage is not safe for
// concurrent use.
func (r *runner) withGoGit(f func() error) error {
	return r.obj.WithFallback(f)
}

// workers is how many goroutines read objects at once.
func (r *runner) workers() int { return max(1, min(runtime.GOMAXPROCS(0), 4)) }

// awaitLedger waits for the ledger read started beside the walk, once,
// and takes its result into the run and the index.
func (r *runner) awaitLedger() error {
	if r.ledger != nil {
		return nil
	}
	res := <-r.ledgerDone
	if res.err != nil {
		r.ledger = &ledgerView{}
		return res.err
	}
	l := res.read
	r.ledger, r.repository = l.view, l.repository
	if l.changed {
		r.dirty = true
	}
	r.idx.ledgerRef, r.idx.ledger, r.idx.notes = res.ref.String(), l.view, l.notes
	return nil
}

// finishProblems collects the ledger's problems, sticky notes included,
// in a stable order.
func (r *runner) finishProblems() {
	ps := r.res.Problems
	ps = append(ps, r.idx.notes...)
	for _, msg := range r.ledger.Problems {
		ps = append(ps, Problem{What: ProblemLedgerBroken, Message: msg})
	}
	for _, t := range r.ledger.Tickets {
		for _, msg := range t.Problems {
			ps = append(ps, Problem{Ticket: t.ID, What: ProblemLedgerBroken, Message: msg})
		}
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.Ticket, b.Ticket); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	r.res.Problems = slices.CompactFunc(ps, func(a, b Problem) bool { return a == b })
}
