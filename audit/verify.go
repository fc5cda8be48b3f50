package audit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// Break is one link of the chain that does not hold.
type Break struct {
	Ticket string `json:"ticket"`
	Path   string `json:"path,omitempty"`
	Commit string `json:"commit,omitempty"`
	// What names what broke: unsigned, not-signed, signature, changed,
	// deleted, unreadable, ledger-rewritten (the ledger lost or changed
	// events: the ticket's, or the whole branch's when Ticket is empty),
	// ledger-broken (the ticket's entries cannot be read or replayed),
	// outcome-unsigned (an outcome event not signed by a key cab.cue
	// trusts for the reconcile role).
	What    string `json:"what"`
	Message string `json:"message"`
}

// Report is the verdict of Verify.
type Report struct {
	// Tickets is how many merged tickets were checked; Signed how many of
	// them verified.
	Tickets int     `json:"tickets"`
	Signed  int     `json:"signed"`
	Events  int     `json:"events"`
	Breaks  []Break `json:"breaks"`
	// LedgerHead is the ledger commit read: the next checkpoint.
	LedgerHead string `json:"ledgerHead"`
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Dir    string
	Rev    string // main (default HEAD)
	Ledger *ledger.Ledger
	// Checkpoint is a ledger head an earlier run recorded (zero: none):
	// the ledger must be it plus added events; every ticket whose events
	// were dropped or rewritten since is named.
	Checkpoint plumbing.Hash
}

// Verify checks the chain from every ticket merged on main to its signed
// ledger entry.
func Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	repo, err := git.PlainOpenWithOptions(o.Dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", o.Dir, err)
	}
	// Tickets are parsed by judgeAll's workers; the main line's cab.cue
	// with tickets, the cab.cue of each merge's base with bases', once
	// per blob.
	tickets := load.New()
	// Outcome events are checked against the reconcile keys of the main
	// line's cab.cue (none without a valid one: then no outcome verifies,
	// and every outcome event is a break that says so).
	var reconcileKeys []model.Key
	cfg, err := tickets.ConfigAt(repo, o.Rev)
	switch {
	case err == nil:
		reconcileKeys = model.KeysFor(cfg.Config.Keys, model.RoleReconcile)
	case !load.Tolerable(err):
		return nil, err
	}
	v, err := sign.NewVerifier(reconcileKeys, model.RoleReconcile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", validate.ConfigFile, err)
	}
	o.Ledger.SetVerifier(v)
	log, err := o.Ledger.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	rep := &Report{Breaks: []Break{}, Events: len(log.Events()), LedgerHead: log.Head.String()}
	if !o.Checkpoint.IsZero() {
		brks, err := checkpointBreaks(ctx, repo, o.Checkpoint, log.Head)
		if err != nil {
			return nil, err
		}
		rep.Breaks = append(rep.Breaks, brks...)
	}
	if err := ledger.AppendOnly(ctx, repo, log.Head, o.Checkpoint); err != nil {
		var ae *ledger.AppendOnlyError
		if !errors.As(err, &ae) {
			return nil, err
		}
		rep.Breaks = append(rep.Breaks, Break{What: "ledger-rewritten", Commit: ae.Commit.String(), Message: err.Error()})
	}
	rep.Breaks = append(rep.Breaks, problemBreaks(log)...)
	merges, err := validate.Mainline(ctx, o.Dir, o.Rev, plumbing.ZeroHash)
	if err != nil {
		return nil, err
	}
	h, err := repo.ResolveRevision(plumbing.Revision(o.Rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", o.Rev, err)
	}
	headCommit, err := repo.CommitObject(*h)
	if err != nil {
		return nil, err
	}
	head, err := headCommit.Tree()
	if err != nil {
		return nil, err
	}
	bases := load.New()
	files := newDirCache(repo.Storer, head)
	// Breaks stay in the order of the tickets: a ticket's slot holds its
	// break, or the index of its job when it is judged below.
	type slot struct {
		brk *Break
		job int
	}
	var (
		jobs  []ticketJob
		slots []slot
	)
	for _, m := range merges {
		for _, p := range m.Tickets {
			rep.Tickets++
			id := strings.TrimSuffix(p[strings.LastIndexByte(p, '/')+1:], ".cue")
			b := Break{Ticket: id, Path: p, Commit: m.Commit}
			if log.SetAside(id) {
				continue // a ledger-broken break names it
			}
			signed, unsigned := find(log, id)
			switch {
			case unsigned != nil:
				b.What, b.Message = "unsigned", "reached main without passing the gate: "+reason(unsigned)
			case signed == nil:
				b.What, b.Message = "not-signed", "merged in "+short(m.Commit)+" but the ledger has no signature for it (run cab sign)"
			}
			if b.What != "" {
				slots = append(slots, slot{brk: &b})
				continue
			}
			bs, err := baseAt(bases, repo, m.Parent)
			if err != nil {
				return nil, err
			}
			src, brk := readTicket(files, p, id, m)
			if brk != nil {
				slots = append(slots, slot{brk: brk})
				continue
			}
			slots = append(slots, slot{job: len(jobs)})
			jobs = append(jobs, ticketJob{p: p, id: id, m: m, signed: signed, base: bs, src: src})
		}
	}
	// Parsing a ticket and checking its signature are pure computation:
	// they run on every core, each worker with a CUE context of its own.
	brks, err := judgeAll(ctx, jobs, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	for _, sl := range slots {
		brk := sl.brk
		if brk == nil {
			brk = brks[sl.job]
		}
		if brk == nil {
			rep.Signed++
			continue
		}
		rep.Breaks = append(rep.Breaks, *brk)
	}
	return rep, nil
}

// checkpointBreaks compares the ledger at head with the one recorded at
// checkpoint: one break when the history was rewritten (or a merge pushed
// onto it), and one per ticket whose events were dropped or rewritten.
func checkpointBreaks(ctx context.Context, repo *git.Repository, checkpoint, head plumbing.Hash) ([]Break, error) {
	err := ledger.CheckAppendOnly(ctx, repo, checkpoint, head)
	var ce *ledger.CheckpointError
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, plumbing.ErrObjectNotFound):
		return []Break{{What: "ledger-rewritten", Commit: checkpoint.String(),
			Message: fmt.Sprintf("the ledger head %s recorded at the checkpoint is no longer in the ledger's history (nor in this repository): it was rewritten", checkpoint)}}, nil
	case !errors.As(err, &ce):
		return nil, err
	}
	var out []Break
	switch {
	case ce.Rewritten:
		out = append(out, Break{What: "ledger-rewritten", Commit: checkpoint.String(),
			Message: fmt.Sprintf("the ledger head %s recorded at the checkpoint is no longer in the ledger's history: it was rewritten", checkpoint)})
	case !ce.Merge.IsZero():
		out = append(out, Break{What: "ledger-rewritten", Commit: ce.Merge.String(),
			Message: fmt.Sprintf("merge commit %s on the ledger since the checkpoint %s: cab never writes one", ce.Merge, checkpoint)})
	}
	byTicket := map[string][]string{}
	var ids []string
	for _, c := range ce.Changes {
		if byTicket[c.Ticket] == nil {
			ids = append(ids, c.Ticket)
		}
		byTicket[c.Ticket] = append(byTicket[c.Ticket], c.What+" "+c.Path)
	}
	for _, id := range ids {
		what := "events dropped or rewritten since the checkpoint " + short(checkpoint.String())
		if id == "" {
			what = "entries dropped or rewritten since the checkpoint " + short(checkpoint.String())
		}
		out = append(out, Break{Ticket: id, What: "ledger-rewritten", Commit: head.String(),
			Message: what + ": " + strings.Join(byTicket[id], ", ")})
	}
	return out, nil
}

// problemBreaks names every ticket the ledger sets aside and every outcome
// event that is not signed by a trusted reconciler key.
func problemBreaks(log *ledger.Log) []Break {
	var out []Break
	for _, id := range slices.Sorted(maps.Keys(log.Problems)) {
		for _, p := range log.Problems[id] {
			b := Break{Ticket: id, What: "ledger-broken", Message: p.Error()}
			if errors.Is(p, ledger.ErrUnverifiedOutcome) {
				b.What = "outcome-unsigned"
			}
			out = append(out, b)
		}
	}
	return out
}

// ticketJob is a merged ticket, read from main, to judge against its
// signed event.
type ticketJob struct {
	p, id  string
	m      validate.Merge
	signed *ledger.Event
	base   *base
	src    []byte
}

// readTicket reads the ticket at p as it is on main, or says why it no
// longer is one.
func readTicket(files *dirCache, p, id string, m validate.Merge) ([]byte, *Break) {
	b := &Break{Ticket: id, Path: p, Commit: m.Commit}
	src, err := files.read(p, schema.MaxTicketBytes)
	if errors.Is(err, gitx.ErrNotFound) {
		b.What, b.Message = "deleted", "merged in "+short(m.Commit)+" but no longer on main"
		return nil, b
	}
	if errors.Is(err, gitx.ErrNotRegular) || errors.Is(err, gitx.ErrTooLarge) {
		// The gate merged it as a regular file within the limit.
		b.What, b.Message = "changed", "the ticket on main is no longer a ticket file: "+err.Error()
		return nil, b
	}
	if err != nil {
		b.What, b.Message = "unreadable", err.Error()
		return nil, b
	}
	return src, nil
}

// judgeAll judges jobs on workers goroutines and returns each job's
// break (nil: it verified), in the order of jobs.
func judgeAll(ctx context.Context, jobs []ticketJob, workers int) ([]*Break, error) {
	out := make([]*Break, len(jobs))
	workers = max(1, min(workers, len(jobs)))
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker parses with a schema of its own (a CUE context
			// is not safe for concurrent use), recycled now and then:
			// CUE contexts only grow.
			l := load.New()
			var s *schema.Schema
			n := 0
			for i := range next {
				if s == nil || n%recycleEvery == 0 {
					l.Recycle()
					var err error
					if s, err = l.Schema(); err != nil {
						errs <- err
						for range next {
						}
						return
					}
				}
				n++
				out[i] = judgeTicket(s, jobs[i])
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// judgeTicket verifies one merged ticket, read from main, against its
// signed event.
func judgeTicket(s *schema.Schema, j ticketJob) *Break {
	b := &Break{Ticket: j.id, Path: j.p, Commit: j.m.Commit}
	parsed, ds := s.ParseTicket(j.p, j.src)
	if parsed == nil {
		b.What, b.Message = "changed", "the ticket on main no longer parses: "+ds[0].String()
		return b
	}
	_, err := sign.Verify(j.signed.Envelope, j.base.keys, sign.Expect{
		TicketPath: j.p, TicketDigest: sign.Digest(parsed.JSON), ID: j.id,
		Environments: parsed.Ticket.Environments, MergeCommit: j.m.Commit, Repository: j.base.repository,
	})
	var mm *sign.MismatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mm) && strings.HasPrefix(mm.Field, "subject"):
		b.What, b.Message = "changed", "the ticket on main differs from what was signed at merge "+short(j.m.Commit)+": "+err.Error()
	default:
		b.What, b.Message = "signature", err.Error()
	}
	return b
}

// dirCache reads files of one tree, keeping each directory on the way
// (tickets share a few: changes/<service>/) so that a file costs one
// lookup in its directory instead of a walk from the root. A directory is
// kept only when every element of its path is a plain directory entry
// (mode 040000); any other path is read by gitx.ReadFile from the root,
// with its refusals (a symlink or submodule on the path).
type dirCache struct {
	s    storer.EncodedObjectStorer
	root *object.Tree
	dirs map[string]*object.Tree
}

func newDirCache(s storer.EncodedObjectStorer, root *object.Tree) *dirCache {
	return &dirCache{s: s, root: root, dirs: map[string]*object.Tree{"": root}}
}

// read reads the regular file at p within limit, as gitx.ReadFile(root,
// p, limit) does.
func (c *dirCache) read(p string, limit int64) ([]byte, error) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return gitx.ReadFile(c.root, p, limit)
	}
	dt := c.dir(p[:i])
	if dt == nil {
		return gitx.ReadFile(c.root, p, limit)
	}
	src, err := gitx.ReadFile(dt, p[i+1:], limit)
	if err != nil {
		// The errors name the path from the root.
		return gitx.ReadFile(c.root, p, limit)
	}
	return src, nil
}

// dir returns the tree at dir when every element of dir is a directory
// entry, and nil otherwise.
func (c *dirCache) dir(dir string) *object.Tree {
	if t, ok := c.dirs[dir]; ok {
		return t
	}
	parent, name := "", dir
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		parent, name = dir[:i], dir[i+1:]
	}
	var t *object.Tree
	if pt := c.dir(parent); pt != nil {
		for _, e := range pt.Entries {
			if e.Name == name && e.Mode == filemode.Dir {
				if sub, err := object.GetTree(c.s, e.Hash); err == nil {
					t = sub
				}
				break
			}
		}
	}
	c.dirs[dir] = t
	return t
}

// recycleEvery bounds how many tickets one cue.Context parses.
const recycleEvery = 500

// base is what the cab.cue of a merge's first parent says about trust.
type base struct {
	keys       []model.Key
	repository string
}

// baseAt reads the trusted keys and the repository name of cab.cue at
// commit, each distinct cab.cue compiled once by l. Without a valid
// cab.cue nothing is trusted: its signatures then fail as untrusted.
func baseAt(l *load.Loader, repo *git.Repository, commit string) (*base, error) {
	if commit == "" {
		return &base{}, nil
	}
	cfg, err := l.ConfigAtCommit(repo, plumbing.NewHash(commit), "")
	switch {
	case load.Tolerable(err):
		return &base{}, nil
	case err != nil:
		return nil, err
	}
	return &base{keys: cfg.Config.Keys, repository: cfg.Config.Repository}, nil
}

func find(log *ledger.Log, id string) (signed, unsigned *ledger.Event) {
	for _, ev := range log.Ticket(id) {
		switch ev.Kind {
		case ledger.KindSigned:
			signed = &ev
		case ledger.KindUnsigned:
			unsigned = &ev
		}
	}
	return signed, unsigned
}

func reason(ev *ledger.Event) string {
	if len(ev.Data) == 0 {
		return "no reason recorded"
	}
	return string(ev.Data)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
