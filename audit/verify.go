package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// Break is one link of the chain that does not hold.
type Break struct {
	Ticket string `json:"ticket"`
	Path   string `json:"path,omitempty"`
	Commit string `json:"commit,omitempty"`
	// What names what broke: unsigned, not-signed, signature, changed,
	// deleted, unreadable, ledger-rewritten.
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
	// it must still be an ancestor of the ledger.
	Checkpoint plumbing.Hash
}

// Verify checks the chain from every ticket merged on main to its signed
// ledger entry.
func Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	log, err := o.Ledger.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	rep := &Report{Breaks: []Break{}, Events: len(log.Events), LedgerHead: log.Head.String()}
	repo, err := git.PlainOpenWithOptions(o.Dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", o.Dir, err)
	}
	if !o.Checkpoint.IsZero() {
		if err := ledger.VerifyCheckpoint(repo, o.Checkpoint, log.Head); err != nil {
			if !errors.Is(err, ledger.ErrRewritten) {
				return nil, err
			}
			rep.Breaks = append(rep.Breaks, Break{What: "ledger-rewritten", Commit: o.Checkpoint.String(),
				Message: fmt.Sprintf("the ledger head %s recorded at the checkpoint is no longer in the ledger's history: it was rewritten", o.Checkpoint)})
		}
	}
	if err := ledger.AppendOnly(repo, log.Head, o.Checkpoint); err != nil {
		var ae *ledger.AppendOnlyError
		if !errors.As(err, &ae) {
			return nil, err
		}
		rep.Breaks = append(rep.Breaks, Break{What: "ledger-rewritten", Commit: ae.Commit.String(), Message: err.Error()})
	}
	merges, err := validate.Mainline(o.Dir, o.Rev, plumbing.ZeroHash)
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
	s, err := schema.Compile(nil)
	if err != nil {
		return nil, err
	}
	bases := &baseCache{byBlob: map[plumbing.Hash]*base{}}
	for _, m := range merges {
		for _, p := range m.Tickets {
			rep.Tickets++
			id := strings.TrimSuffix(p[strings.LastIndexByte(p, '/')+1:], ".cue")
			b := Break{Ticket: id, Path: p, Commit: m.Commit}
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
			bs, err := bases.of(repo, m.Parent)
			if err != nil {
				return nil, err
			}
			if rep.Tickets%recycleEvery == 0 {
				// CUE contexts only grow: start afresh now and then.
				if s, err = schema.Compile(nil); err != nil {
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

// checkTicket verifies one merged ticket against its signed event.
func checkTicket(s *schema.Schema, head *object.Tree, p, id string, m validate.Merge, signed *ledger.Event, bs *base) *Break {
	b := &Break{Ticket: id, Path: p, Commit: m.Commit}
	f, err := head.File(p)
	if err != nil {
		b.What, b.Message = "deleted", "merged in "+short(m.Commit)+" but no longer on main"
		return b
	}
	src, err := f.Contents()
	if err != nil {
		b.What, b.Message = "unreadable", err.Error()
		return b
	}
	parsed, ds := s.ParseTicket(p, []byte(src))
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
	keys       []schema.Key
	repository string
}

// baseCache decodes each distinct cab.cue once: a repository's thousands
// of merges share a handful of configurations.
type baseCache struct {
	byBlob map[plumbing.Hash]*base
	schema *schema.Schema
}

// of reads the trusted keys and the repository name of cab.cue at commit;
// without a valid cab.cue nothing is trusted.
func (c *baseCache) of(repo *git.Repository, commit string) (*base, error) {
	if commit == "" {
		return &base{}, nil
	}
	cm, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", commit, err)
	}
	f, err := cm.File(validate.ConfigFile)
	if err != nil {
		return &base{}, nil
	}
	if b, ok := c.byBlob[f.Hash]; ok {
		return b, nil
	}
	src, err := f.Contents()
	if err != nil {
		return nil, err
	}
	if c.schema == nil {
		if c.schema, err = schema.Compile(nil); err != nil {
			return nil, err
		}
	}
	b := &base{}
	if cfg, _ := c.schema.ParseConfig(validate.ConfigFile, []byte(src)); cfg != nil {
		b = &base{keys: cfg.Config.Keys, repository: cfg.Config.Repository}
	}
	c.byBlob[f.Hash] = b
	return b, nil
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
