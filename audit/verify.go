package audit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

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
	// Tickets are parsed with tickets' schema, recycled now and then;
	// the cab.cue of each merge's base with bases', once per blob.
	tickets := load.New()
	s, err := tickets.Schema()
	if err != nil {
		return nil, err
	}
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
		brks, err := checkpointBreaks(repo, o.Checkpoint, log.Head)
		if err != nil {
			return nil, err
		}
		rep.Breaks = append(rep.Breaks, brks...)
	}
	if err := ledger.AppendOnly(repo, log.Head, o.Checkpoint); err != nil {
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
				rep.Breaks = append(rep.Breaks, b)
				continue
			}
			bs, err := baseAt(bases, repo, m.Parent)
			if err != nil {
				return nil, err
			}
			if rep.Tickets%recycleEvery == 0 {
				// CUE contexts only grow: start afresh now and then.
				tickets.Recycle()
				if s, err = tickets.Schema(); err != nil {
					return nil, err
				}
			}
			if brk := checkTicket(s, head, p, id, m, signed, bs); brk != nil {
				rep.Breaks = append(rep.Breaks, *brk)
				continue
			}
			rep.Signed++
		}
	}
	return rep, nil
}

// checkpointBreaks compares the ledger at head with the one recorded at
// checkpoint: one break when the history was rewritten (or a merge pushed
// onto it), and one per ticket whose events were dropped or rewritten.
func checkpointBreaks(repo *git.Repository, checkpoint, head plumbing.Hash) ([]Break, error) {
	err := ledger.CheckAppendOnly(repo, checkpoint, head)
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

// checkTicket verifies one merged ticket against its signed event.
func checkTicket(s *schema.Schema, head *object.Tree, p, id string, m validate.Merge, signed *ledger.Event, bs *base) *Break {
	b := &Break{Ticket: id, Path: p, Commit: m.Commit}
	src, err := gitx.ReadFile(head, p, schema.MaxTicketBytes)
	if errors.Is(err, gitx.ErrNotFound) {
		b.What, b.Message = "deleted", "merged in "+short(m.Commit)+" but no longer on main"
		return b
	}
	if errors.Is(err, gitx.ErrNotRegular) || errors.Is(err, gitx.ErrTooLarge) {
		// The gate merged it as a regular file within the limit.
		b.What, b.Message = "changed", "the ticket on main is no longer a ticket file: "+err.Error()
		return b
	}
	if err != nil {
		b.What, b.Message = "unreadable", err.Error()
		return b
	}
	parsed, ds := s.ParseTicket(p, src)
	if parsed == nil {
		b.What, b.Message = "changed", "the ticket on main no longer parses: "+ds[0].String()
		return b
	}
	_, err = sign.Verify(signed.Envelope, bs.keys, sign.Expect{
		TicketPath: p, TicketDigest: sign.Digest(parsed.JSON), ID: id,
		Environments: parsed.Ticket.Environments, MergeCommit: m.Commit, Repository: bs.repository,
	})
	var mm *sign.MismatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mm) && strings.HasPrefix(mm.Field, "subject"):
		b.What, b.Message = "changed", "the ticket on main differs from what was signed at merge "+short(m.Commit)+": "+err.Error()
	default:
		b.What, b.Message = "signature", err.Error()
	}
	return b
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
