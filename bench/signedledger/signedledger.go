package signedledger

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// Options say what to sign and how.
type Options struct {
	// Dir is the repository (a bench/synth one with history).
	Dir string
	// Rev is the main line to sign (default HEAD).
	Rev string
	// Signer signs every statement; cab.cue must trust its key with role
	// "sign" for the signatures to verify.
	Signer *sign.Signer
	// Repository is the repository name signed into each statement
	// (cab.cue's repository: "github.com/acme/changes" for synth).
	Repository string
	// At is the time of the first event; each next one is a second later.
	At time.Time
	// Batch is how many events one ledger update writes (default 1,000).
	Batch int
	// Limit signs only the first Limit tickets (0: all): a checkpoint for
	// incremental benchmarks is a ledger of the first tickets.
	Limit int
}

// Write records a signed event for every ticket merged on Rev that the
// ledger does not have yet, oldest merge first, and returns how many it
// added and the ledger head.
func Write(ctx context.Context, o Options) (int, plumbing.Hash, error) {
	if o.Rev == "" {
		o.Rev = "HEAD"
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Signer == nil {
		return 0, plumbing.ZeroHash, fmt.Errorf("signedledger: a signer is required")
	}
	repo, err := git.PlainOpen(o.Dir)
	if err != nil {
		return 0, plumbing.ZeroHash, fmt.Errorf("opening %s: %w", o.Dir, err)
	}
	l := ledger.Open(repo, "", "")
	log, err := l.Read(ctx)
	if err != nil {
		return 0, plumbing.ZeroHash, err
	}
	merges, err := validate.Mainline(ctx, o.Dir, o.Rev, plumbing.ZeroHash)
	if err != nil {
		return 0, plumbing.ZeroHash, err
	}
	loader := load.New()
	s, err := loader.Schema()
	if err != nil {
		return 0, plumbing.ZeroHash, err
	}
	var (
		batch []ledger.Event
		n     int
		seen  int
		at    = o.At.UTC()
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		evs := batch
		if _, err := l.Update(ctx, func(*ledger.Log) ([]ledger.Event, error) { return evs, nil }); err != nil {
			return fmt.Errorf("recording %d signed events: %w", len(evs), err)
		}
		n += len(evs)
		batch = nil
		return nil
	}
	for _, m := range merges {
		c, err := repo.CommitObject(plumbing.NewHash(m.Commit))
		if err != nil {
			return n, plumbing.ZeroHash, err
		}
		tree, err := c.Tree()
		if err != nil {
			return n, plumbing.ZeroHash, err
		}
		for _, p := range m.Tickets {
			if o.Limit > 0 && seen >= o.Limit {
				break
			}
			seen++
			id := strings.TrimSuffix(path.Base(p), ".cue")
			if len(log.Ticket(id)) > 0 {
				continue
			}
			ev, err := event(ctx, s, tree, p, id, m, o, at.Add(time.Duration(seen)*time.Second))
			if err != nil {
				return n, plumbing.ZeroHash, err
			}
			batch = append(batch, ev)
			if len(batch) >= o.Batch {
				if err := flush(); err != nil {
					return n, plumbing.ZeroHash, err
				}
			}
			if seen%schemaRecycle == 0 {
				// CUE contexts only grow: start afresh now and then.
				loader.Recycle()
				if s, err = loader.Schema(); err != nil {
					return n, plumbing.ZeroHash, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return n, plumbing.ZeroHash, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(ledger.DefaultBranch), true)
	if err != nil {
		return n, plumbing.ZeroHash, fmt.Errorf("reading the ledger branch: %w", err)
	}
	return n, ref.Hash(), nil
}

const schemaRecycle = 500

// event signs the ticket at p as merged in m.
func event(ctx context.Context, s *schema.Schema, tree *object.Tree, p, id string, m validate.Merge, o Options, at time.Time) (ledger.Event, error) {
	ev := ledger.Event{Ticket: id, Kind: ledger.KindSigned, Commit: m.Commit, Actor: "bench", At: at}
	src, err := gitx.ReadFile(tree, p, schema.MaxTicketBytes)
	if err != nil {
		return ev, fmt.Errorf("%s at %s: %w", p, m.Commit, err)
	}
	parsed, ds := s.ParseTicket(p, src)
	if parsed == nil {
		return ev, fmt.Errorf("%s at %s does not parse: %v", p, m.Commit, ds)
	}
	digest := sign.Digest(parsed.JSON)
	pr := sign.Predicate{
		ID: id, MergeCommit: m.Commit, Environments: parsed.Ticket.Environments,
		PolicyDigest: "bench", Repository: o.Repository, SignedAt: at,
	}
	env, err := o.Signer.Sign(ctx, sign.NewStatement(p, digest, pr))
	if err != nil {
		return ev, fmt.Errorf("signing %s: %w", id, err)
	}
	data, _ := json.Marshal(map[string]any{"path": p, "digest": "sha256:" + digest, "keyid": o.Signer.KeyID()})
	ev.Data, ev.Envelope = data, env
	return ev, nil
}
