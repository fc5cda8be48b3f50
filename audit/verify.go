package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/audit/verifycache"
	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitobj"
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
	// Carried is how many of the tickets kept the verdict a run from the
	// checkpoint reached, as provably unchanged since (see Verify); they
	// count in Signed or Breaks as that run found.
	Carried int `json:"carried,omitempty"`
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Dir    string
	Rev    string // main (default HEAD)
	Ledger *ledger.Ledger
	// Checkpoint is a ledger head an earlier run recorded (zero: none):
	// the ledger must be it plus added events; every ticket whose events
	// were dropped or rewritten since is named. When this binary's run at
	// that head left its verdicts in the cache, they are carried over for
	// every ticket that provably did not change since (see Verify).
	Checkpoint plumbing.Hash
	// NoCache neither reads nor writes the cache under .git/cab/verify:
	// every ticket is parsed and judged afresh.
	NoCache bool
}

// Verify checks the chain from every ticket merged on main to its signed
// ledger entry.
//
// Every run reads the whole ledger (every outcome signature checked),
// proves it append-only (from the checkpoint, or from the root), and
// judges every merged ticket: its signature checked against the digest
// of the ticket as it is on main. The digest is that of the ticket's
// canonical JSON: computed from its syntax without CUE
// (schema.ExportData, exact or refused), which is the verdict when the
// signature verifies against it; otherwise from a parse of the ticket's
// exact bytes (ParseTicket, whose verdict and words are the ones a break
// has), taken from the cache when this binary parsed the same bytes at
// the same path before (verifycache.ParseKey). The signature itself is
// verified on every run.
//
// From a checkpoint whose run left its verdicts in the cache, a ticket's
// verdict is carried over, without judging it again, only when all of
// this holds: the main commit that run read is on the first-parent chain
// of today's main (so the ticket's merge commit, its base cab.cue and its
// path are what were judged: commits cannot change); the ticket's file is
// not among the paths that differ between that commit's tree and today's
// (a ticket edited, deleted or moved behind a symlink on main since is
// judged again, and breaks); and the ledger's signed envelope for it is
// byte for byte the one judged (sha256). Everything else is judged
// afresh: tickets merged since, tickets whose file or signed event
// changed, and every ticket when main was rewritten.
func Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	// Its objects are read through internal/gitx's pack reader: the
	// append-only proof reads every commit and tree of the ledger.
	repo, closeRepo, err := gitx.Open(o.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = closeRepo() }()
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
	// The ledger's objects and the tickets' blobs are read with cab log's
	// pack reader (internal/gitobj), several times faster than go-git's;
	// the ledger is still decoded by package ledger, with its rules.
	objs := fastObjects(repo)
	if objs != nil {
		defer objs.obj.Close()
		if o.Ledger.Objects == nil {
			o.Ledger.Objects = objs
			defer func() { o.Ledger.Objects = nil }()
		}
	}
	// The main line is read on a handle of the repository of its own
	// while the ledger is read and proved append-only: the two walks
	// share nothing but the files, and each costs seconds on a long
	// history. Errors keep their order: the ledger's first.
	cache := openCache(repo, o.NoCache)
	prev, carry := earlierRun(cache, o.Checkpoint)
	mainRepo, closeMain, err := gitx.Open(o.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = closeMain() }()
	mainCtx, cancelMain := context.WithCancel(ctx)
	var mr mainResult
	mainRead := make(chan struct{})
	go func() {
		defer close(mainRead)
		mr = readMainAt(mainCtx, mainRepo, o.Dir, o.Rev, prev, carry)
	}()
	// Runs before closeMain: the walk is stopped and done with mainRepo.
	defer func() { cancelMain(); <-mainRead }()
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
	// The append-only proof starts from the checkpoint, or, without one,
	// from a ledger head an earlier run proved append-only to the root
	// (and from the root when that head is not in the history).
	since, fromRoot := o.Checkpoint, o.Checkpoint.IsZero()
	if prev != nil && prev.LedgerProven && (since.IsZero() || since.String() == prev.Ledger) {
		since, fromRoot = plumbing.NewHash(prev.Ledger), true
	}
	if err := ledger.AppendOnly(ctx, repo, log.Head, since); err != nil {
		var ae *ledger.AppendOnlyError
		if !errors.As(err, &ae) {
			return nil, err
		}
		rep.Breaks = append(rep.Breaks, Break{What: "ledger-rewritten", Commit: ae.Commit.String(), Message: err.Error()})
		fromRoot = false
	}
	rep.Breaks = append(rep.Breaks, problemBreaks(log)...)
	<-mainRead
	if mr.err != nil {
		return nil, mr.err
	}
	main := mr.main
	var parses *verifycache.Parses
	if cache != nil {
		parses = cache.Parses()
	}
	st, err := judgeMain(ctx, repo, objs, log, main, parses, rep)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		// The cache is only ever a saving: failing to write it changes no
		// verdict (the next run computes again).
		st.Ledger, st.LedgerProven = log.Head.String(), fromRoot
		_ = cache.SaveParses(parses, rep.Carried == 0)
		_ = cache.SaveState(st)
	}
	return rep, nil
}

// earlierRun returns the state an earlier run of this binary left in
// cache: the one at checkpoint, whose verdicts may then be carried
// (carry), or else the newest, whose main line and append-only proof
// only may be reused.
func earlierRun(cache *verifycache.Dir, checkpoint plumbing.Hash) (prev *verifycache.State, carry bool) {
	if cache == nil {
		return nil, false
	}
	if prev, ok := cache.State(checkpoint); ok {
		return prev, true
	}
	prev, _ = cache.Newest()
	return prev, false
}

// fastObjects opens internal/gitobj's reader of repo's objects (nil when
// repo is not on disk or it cannot be opened: then go-git reads them).
func fastObjects(repo *git.Repository) *ledgerObjects {
	dir := gitx.CommonDir(repo)
	if dir == "" {
		return nil
	}
	r, err := gitobj.Open(filepath.Join(dir, "objects"), repo.Storer)
	if err != nil {
		return nil
	}
	return &ledgerObjects{&objects{r}}
}

// openCache returns the verify cache of repo; nil when off, or when repo
// is not on disk or the binary cannot be read (then nothing is cached).
func openCache(repo *git.Repository, off bool) *verifycache.Dir {
	if off {
		return nil
	}
	gitDir := gitx.CommonDir(repo)
	if gitDir == "" {
		return nil
	}
	id, err := verifycache.Executable()
	if err != nil {
		return nil
	}
	return verifycache.Open(gitDir, id)
}

// mainLine is the main line to verify: its merges, oldest first, and
// what an earlier run at a commit of its first-parent chain concluded.
type mainLine struct {
	head   *object.Tree
	commit plumbing.Hash
	merges []validate.Merge
	// configs are the blob ids of the cab.cue at the base of each merge
	// an earlier run read, by merge commit ("": not a regular file).
	configs map[string]string
	// carry holds the earlier verdicts, by merge commit and path, that
	// may be carried over: those of tickets whose file is the same at
	// head as where the earlier run read it.
	carry map[carryKey]verifycache.Ticket
}

type carryKey struct{ commit, path string }

// mainResult is what readMainAt gives.
type mainResult struct {
	main *mainLine
	err  error
}

// readMainAt resolves rev in repo and reads the main line there (see
// readMain).
func readMainAt(ctx context.Context, repo *git.Repository, dir, rev string, prev *verifycache.State, carry bool) mainResult {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return mainResult{err: fmt.Errorf("revision %q: %w", rev, err)}
	}
	main, err := readMain(ctx, repo, dir, *h, prev, carry)
	return mainResult{main: main, err: err}
}

// readMain reads the main line at h. With prev (the state an earlier run
// left) whose main commit is on h's first-parent chain, only the commits
// since are walked (the merges before are prev's: commits cannot change),
// and, with carry, the verdicts of prev whose ticket file did not change
// since are offered for carrying; otherwise the whole chain is walked
// and nothing is carried.
func readMain(ctx context.Context, repo *git.Repository, dir string, h plumbing.Hash, prev *verifycache.State, carry bool) (*mainLine, error) {
	headCommit, err := repo.CommitObject(h)
	if err != nil {
		return nil, err
	}
	head, err := headCommit.Tree()
	if err != nil {
		return nil, err
	}
	ml := &mainLine{head: head, commit: h}
	var since plumbing.Hash
	if prev != nil {
		// carried is nil when prev's main is not on the chain.
		since = plumbing.NewHash(prev.Main)
		if ml.carry, err = carried(ctx, repo, h, head, since, prev); err != nil {
			return nil, err
		}
		if ml.carry == nil {
			since = plumbing.ZeroHash
		}
	}
	reuse := ml.carry != nil
	if !carry {
		ml.carry = nil
	}
	merges, err := validate.Mainline(ctx, dir, h.String(), since)
	if err != nil {
		return nil, err
	}
	if reuse {
		ml.configs = make(map[string]string, len(prev.Merges))
		for _, m := range prev.Merges {
			ml.configs[m.Commit] = m.Config
			vm := validate.Merge{Commit: m.Commit, Parent: m.Parent}
			for _, t := range m.Tickets {
				vm.Tickets = append(vm.Tickets, t.Path)
			}
			ml.merges = append(ml.merges, vm)
		}
	}
	ml.merges = append(ml.merges, merges...)
	return ml, nil
}

// carried returns the verdicts of prev that may be carried to main at h
// (tree head): nil when prev's main commit is not on h's first-parent
// chain, and otherwise every verdict but those of tickets whose path
// differs between prev's main tree and head.
func carried(ctx context.Context, repo *git.Repository, h plumbing.Hash, head *object.Tree, since plumbing.Hash, prev *verifycache.State) (map[carryKey]verifycache.Ticket, error) {
	found := false
	for c, err := range gitx.FirstParents(ctx, repo.Storer, h) {
		if err != nil {
			return nil, err
		}
		if c.Hash == since {
			found = true
			break
		}
	}
	if !found {
		return nil, nil // main was rewritten: judge it all
	}
	sc, err := repo.CommitObject(since)
	if err != nil {
		return nil, err
	}
	old, err := sc.Tree()
	if err != nil {
		return nil, err
	}
	changes, err := gitx.DiffTrees(old, head, "")
	if err != nil {
		return nil, nil // unsafe names: judge it all
	}
	changed := make(map[string]bool, len(changes))
	for _, c := range changes {
		changed[c.Path] = true
	}
	carry := map[carryKey]verifycache.Ticket{}
	for _, m := range prev.Merges {
		for _, t := range m.Tickets {
			if t.Signed != "" && !changed[t.Path] {
				carry[carryKey{m.Commit, t.Path}] = t
			}
		}
	}
	return carry, nil
}

// judgeMain judges every ticket of main against the ledger log, adding
// to rep, and returns the state to keep for the next run.
func judgeMain(ctx context.Context, repo *git.Repository, objs *ledgerObjects, log *ledger.Log, main *mainLine, parses *verifycache.Parses, rep *Report) (*verifycache.State, error) {
	bases := newBases()
	// configs are the blob ids of the cab.cue at each merge's base, by
	// merge commit, as read by this run.
	configs := map[string]string{}
	files := newDirCache(repo.Storer, main.head)
	if objs != nil {
		files.blobs = objs
	}
	st := &verifycache.State{Main: main.commit.String()}
	// Breaks stay in the order of the tickets: a ticket's slot holds its
	// verdict (brk nil: verified), or the index of its job when it is
	// judged below.
	type slot struct {
		brk    *Break
		job    int // -1: none
		signed string
		// judged: the verdict is one a later run may carry (signed is
		// the envelope it was reached against); aside: the ledger set
		// the ticket aside.
		judged, aside bool
	}
	var (
		jobs  []ticketJob
		slots []slot
	)
	for _, m := range main.merges {
		for _, p := range m.Tickets {
			rep.Tickets++
			id := strings.TrimSuffix(p[strings.LastIndexByte(p, '/')+1:], ".cue")
			b := Break{Ticket: id, Path: p, Commit: m.Commit}
			if log.SetAside(id) {
				slots = append(slots, slot{job: -1, aside: true})
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
				slots = append(slots, slot{brk: &b, job: -1})
				continue
			}
			sum := sha256.Sum256(signed.Envelope)
			envHash := hex.EncodeToString(sum[:])
			if t, ok := main.carry[carryKey{m.Commit, p}]; ok && t.Signed == envHash {
				rep.Carried++
				sl := slot{job: -1, signed: envHash, judged: true}
				if t.What != "" {
					b.What, b.Message = t.What, t.Message
					sl.brk = &b
				}
				slots = append(slots, sl)
				continue
			}
			bs, cfg, err := bases.at(repo, m.Parent, cmp.Or(configs[m.Commit], main.configs[m.Commit]))
			if err != nil {
				return nil, err
			}
			configs[m.Commit] = cfg
			src, brk := readTicket(files, p, id, m)
			if brk != nil {
				slots = append(slots, slot{brk: brk, job: -1, signed: envHash, judged: brk.What != "unreadable"})
				continue
			}
			j := ticketJob{p: p, id: id, m: m, signed: signed, base: bs, src: src}
			if parses != nil {
				j.key = verifycache.ParseKey(p, src)
				if r, ok := parses.Get(j.key); ok {
					j.parse = &r
				}
			}
			slots = append(slots, slot{job: len(jobs), signed: envHash, judged: true})
			jobs = append(jobs, j)
		}
	}
	// Parsing a ticket and checking its signature are pure computation:
	// they run on every core, each worker with a CUE context of its own.
	verdicts, err := judgeAll(ctx, jobs, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	if parses != nil {
		for i, vd := range verdicts {
			if vd.parsed != nil {
				parses.Put(jobs[i].key, *vd.parsed)
			}
		}
	}
	i := 0
	for _, m := range main.merges {
		sm := verifycache.Merge{Commit: m.Commit, Parent: m.Parent, Config: cmp.Or(configs[m.Commit], main.configs[m.Commit])}
		for _, p := range m.Tickets {
			sl := slots[i]
			i++
			brk := sl.brk
			if sl.job >= 0 {
				brk = verdicts[sl.job].brk
			}
			t := verifycache.Ticket{Path: p}
			if sl.judged {
				t.Signed = sl.signed
				if brk != nil {
					t.What, t.Message = brk.What, brk.Message
				}
			}
			sm.Tickets = append(sm.Tickets, t)
			switch {
			case sl.aside:
				// named by problemBreaks
			case brk == nil:
				rep.Signed++
			default:
				rep.Breaks = append(rep.Breaks, *brk)
			}
		}
		st.Merges = append(st.Merges, sm)
	}
	return st, nil
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
	// key is the cache key of the ticket's parse; parse, when set, is
	// the parse the cache holds for it (nil: parse src).
	key   verifycache.Key
	parse *verifycache.Parse
}

// verdict is the outcome of judging a ticketJob: its break (nil: it
// verified) and the parse made of it, when it was parsed and parses.
type verdict struct {
	brk    *Break
	parsed *verifycache.Parse
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
// verdict, in the order of jobs.
func judgeAll(ctx context.Context, jobs []ticketJob, workers int) ([]verdict, error) {
	out := make([]verdict, len(jobs))
	workers = max(1, min(workers, len(jobs)))
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker parses with a schema of its own (a CUE context
			// is not safe for concurrent use), compiled when a ticket
			// needs parsing.
			tp := &ticketParser{l: load.New()}
			for i := range next {
				vd, err := judgeTicket(tp, jobs[i])
				if err != nil {
					errs <- err
					for range next {
					}
					return
				}
				out[i] = vd
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

// ticketParser parses tickets with a schema compiled at the first
// ticket that needs parsing and compiled again every recycleEvery
// parses: CUE contexts only grow.
type ticketParser struct {
	l *load.Loader
	s *schema.Schema
	n int
}

func (tp *ticketParser) parse(file string, src []byte) (*schema.Parsed, diag.List, error) {
	if tp.s == nil || tp.n%recycleEvery == 0 {
		tp.l.Recycle()
		var err error
		if tp.s, err = tp.l.Schema(); err != nil {
			return nil, nil, err
		}
	}
	tp.n++
	p, ds := tp.s.ParseTicket(file, src)
	return p, ds, nil
}

// judgeTicket verifies one merged ticket, read from main, against its
// signed event: the signature is checked against the digest of the
// ticket's canonical JSON.
//
// That digest is first taken without CUE (schema.ExportData, exact or
// refused; or what it computed of the same bytes, cached): when the
// signature verifies against it, the ticket on main is byte for byte the
// canonical JSON that was signed, the verdict. On any refusal or failure
// the ticket is judged as ever, from its parse (a parse cached, or
// parsed with tp), so that every break reads the same.
func judgeTicket(tp *ticketParser, j ticketJob) (verdict, error) {
	if j.signed != nil && (j.parse == nil || j.parse.Exact) {
		p := j.parse
		if p == nil {
			p = exportParse(j)
		}
		if p != nil && verifyTicket(j, p) == nil {
			vd := verdict{}
			if j.parse == nil {
				vd.parsed = p
			}
			return vd, nil
		}
		j.parse = nil // judged from a parse
	}
	b := &Break{Ticket: j.id, Path: j.p, Commit: j.m.Commit}
	var vd verdict
	p := j.parse
	if p == nil {
		parsed, ds, err := tp.parse(j.p, j.src)
		if err != nil {
			return verdict{}, err
		}
		if parsed == nil {
			b.What, b.Message = "changed", "the ticket on main no longer parses: "+ds[0].String()
			return verdict{brk: b}, nil
		}
		p = &verifycache.Parse{Digest: sign.Digest(parsed.JSON), Environments: parsed.Ticket.Environments}
		vd.parsed = p
	}
	err := verifyTicket(j, p)
	var mm *sign.MismatchError
	switch {
	case err == nil:
		return vd, nil
	case errors.As(err, &mm) && strings.HasPrefix(mm.Field, "subject"):
		b.What, b.Message = "changed", "the ticket on main differs from what was signed at merge "+short(j.m.Commit)+": "+err.Error()
	default:
		b.What, b.Message = "signature", err.Error()
	}
	vd.brk = b
	return vd, nil
}

// exportParse returns the digest and the environments of the canonical
// JSON schema.ExportData computes of the ticket on main (nil: refused).
func exportParse(j ticketJob) *verifycache.Parse {
	data, ok := schema.ExportData(j.p, j.src)
	if !ok {
		return nil
	}
	var t struct {
		Environments []string `json:"environments"`
	}
	if json.Unmarshal(data, &t) != nil {
		return nil
	}
	return &verifycache.Parse{Digest: sign.Digest(data), Environments: t.Environments, Exact: true}
}

// verifyTicket checks j's signed event against the digest and the
// environments of the ticket on main.
func verifyTicket(j ticketJob, p *verifycache.Parse) error {
	_, err := sign.Verify(j.signed.Envelope, j.base.keys, sign.Expect{
		TicketPath: j.p, TicketDigest: p.Digest, ID: j.id,
		Environments: p.Environments, MergeCommit: j.m.Commit, Repository: j.base.repository,
	})
	return err
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
	// blobs, when set, reads the blob of a file found (nil: go-git).
	blobs ledger.Objects
}

func newDirCache(s storer.EncodedObjectStorer, root *object.Tree) *dirCache {
	return &dirCache{s: s, root: root, dirs: map[string]*object.Tree{"": root}}
}

// read reads the regular file at p within limit, as gitx.ReadFile(root,
// p, limit) does: anything but a regular file within limit read from its
// directory is read again from the root, for gitx.ReadFile's error.
func (c *dirCache) read(p string, limit int64) ([]byte, error) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return gitx.ReadFile(c.root, p, limit)
	}
	dt := c.dir(p[:i])
	if dt == nil {
		return gitx.ReadFile(c.root, p, limit)
	}
	if c.blobs != nil {
		if e, err := gitx.FileEntry(dt, p[i+1:]); err == nil {
			if src, err := c.blobs.Blob(e.Hash, limit); err == nil {
				return src, nil
			}
		}
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

// bases reads the trusted keys and the repository name of the cab.cue
// at each merge's first parent, each distinct cab.cue compiled once.
// Without a valid cab.cue nothing is trusted: its signatures then fail
// as untrusted.
type bases struct {
	l *load.Loader
	// byBlob are the bases read, by the blob id of a cab.cue that is a
	// regular file at the root.
	byBlob map[string]*base
}

func newBases() *bases { return &bases{l: load.New(), byBlob: map[string]*base{}} }

// at returns the base of commit, and the blob id of its cab.cue when it
// is a regular file ("" otherwise). known, when not "", is that blob id
// as an earlier run found it at commit (commits cannot change): a base
// read for it already is not read again.
func (b *bases) at(repo *git.Repository, commit, known string) (*base, string, error) {
	if commit == "" {
		return &base{}, "", nil
	}
	if bs, ok := b.byBlob[known]; ok && known != "" {
		return bs, known, nil
	}
	c, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, "", fmt.Errorf("reading commit %s: %w", commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, "", fmt.Errorf("reading commit %s: %w", commit, err)
	}
	blob := ""
	if e, err := tree.FindEntry(load.ConfigFile); err == nil && e.Mode.IsRegular() {
		blob = e.Hash.String()
		if bs, ok := b.byBlob[blob]; ok {
			return bs, blob, nil
		}
	}
	bs := &base{}
	cfg, err := b.l.ConfigAtTree(tree, commit)
	switch {
	case load.Tolerable(err):
	case err != nil:
		return nil, "", err
	default:
		bs = &base{keys: cfg.Config.Keys, repository: cfg.Config.Repository}
	}
	if blob != "" {
		b.byBlob[blob] = bs
	}
	return bs, blob, nil
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
