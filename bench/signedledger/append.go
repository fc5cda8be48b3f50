package signedledger

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/ledger"
)

// AppendOptions say where Append writes and how it signs.
type AppendOptions struct {
	// Dir is the repository (bare or not) whose local ledger branch is
	// appended to.
	Dir string
	// Branch is the ledger branch (default ledger.DefaultBranch).
	Branch string
	// Signer signs every outcome event that has no envelope, as a
	// reconciler's Ledger.Signer does: cab.cue must trust its key with
	// role "reconcile" for the outcomes to verify.
	Signer ledger.EventSigner
	// Author is the commits' author and committer, its When each event's
	// At (default: the Author of ledger.Open).
	Author object.Signature
	// PerCommit is how many events one commit adds (default 1: the
	// commits Ledger.Update writes). More makes the same head tree with
	// fewer commits (each named by its first event, the next maxAlso
	// listed in its message, then how many more), for fixtures whose readers read the head tree, not
	// the history: a commit per event costs a rewritten shard tree each.
	PerCommit int
}

// Append records events, in order, on the ledger branch of the
// repository at o.Dir, one commit per event: the commits Ledger.Update
// would write for them (same message, same files, same trees; the same
// hashes, given the same envelopes), through one `git fast-import`
// process, which writes them into a single pack. Building a ledger of
// 100,000 tickets through Update rewrites and stores a loose shard tree per
// event and takes hours; this takes minutes.
//
// A zero Seq is numbered after the ticket's previous event in events;
// At must be set. The tickets must have no event on the branch yet, and
// events must pass ledger.Validate. It returns the new head.
func Append(ctx context.Context, o AppendOptions, events []ledger.Event) (plumbing.Hash, error) {
	if o.Branch == "" {
		o.Branch = ledger.DefaultBranch
	}
	if o.PerCommit <= 0 {
		o.PerCommit = 1
	}
	if o.Author.Name == "" {
		o.Author = ledger.Open(nil, "", "").Author
	}
	repo, err := git.PlainOpen(o.Dir)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("opening %s: %w", o.Dir, err)
	}
	refName := plumbing.NewBranchReferenceName(o.Branch)
	head := plumbing.ZeroHash
	switch ref, err := repo.Reference(refName, true); {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", refName, err)
	default:
		head = ref.Hash()
	}
	events = append([]ledger.Event(nil), events...)
	seq := map[string]int{}
	for i := range events {
		ev := &events[i]
		if ev.Seq == 0 {
			ev.Seq = seq[ev.Ticket] + 1
		}
		seq[ev.Ticket] = ev.Seq
		if ev.At.IsZero() {
			return plumbing.ZeroHash, fmt.Errorf("signedledger: event %d of %s has no time", ev.Seq, ev.Ticket)
		}
	}
	if err := ledger.Validate(events); err != nil {
		return plumbing.ZeroHash, err
	}
	if !head.IsZero() {
		log, err := ledger.ReadAt(repo, head)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for id := range seq {
			if log.State(id).Seq > 0 {
				return plumbing.ZeroHash, fmt.Errorf("signedledger: %s already has events on %s", id, o.Branch)
			}
		}
	}
	cmd := exec.CommandContext(ctx, "git", "fast-import", "--quiet", "--done", "--date-format=raw")
	cmd.Dir = o.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if err := cmd.Start(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("git fast-import: %w", err)
	}
	werr := stream(ctx, bufio.NewWriterSize(in, 1<<20), o, refName, head, events)
	if cerr := in.Close(); werr == nil {
		werr = cerr
	}
	if err := cmd.Wait(); err != nil {
		return plumbing.ZeroHash, errors.Join(werr, fmt.Errorf("git fast-import: %w: %s", err, strings.TrimSpace(stderr.String())))
	}
	if werr != nil {
		return plumbing.ZeroHash, werr
	}
	ref, err := repo.Reference(refName, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", refName, err)
	}
	return ref.Hash(), nil
}

// maxAlso bounds the other events a commit of several names in its
// message: a commit of 100,000 events naming each is megabytes, which
// every reader walking the branch's history (go-git's fetch negotiation
// visits the last 100 commits of each ref) would pay for.
const maxAlso = 10

// stream writes the fast-import commands of events onto head.
func stream(ctx context.Context, w *bufio.Writer, o AppendOptions, ref plumbing.ReferenceName, head plumbing.Hash, events []ledger.Event) error {
	data := func(b []byte) {
		fmt.Fprintf(w, "data %d\n", len(b))
		w.Write(b)
		w.WriteByte('\n')
	}
	for i := 0; i < len(events); i += o.PerCommit {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		batch := events[i:min(i+o.PerCommit, len(events))]
		var msg string
		var files []ledger.File
		for j := range batch {
			ev := &batch[j]
			if ledger.IsOutcome(ev.Kind) && len(ev.Envelope) == 0 && o.Signer != nil {
				if err := ledger.SignOutcome(ctx, o.Signer, ev); err != nil {
					return err
				}
			}
			wr, err := ledger.WrittenOf(ev)
			if err != nil {
				return err
			}
			switch {
			case j == 0:
				msg = wr.Message
			case j <= maxAlso:
				first, _, _ := strings.Cut(wr.Message, "\n")
				msg += "Also: " + first + "\n"
			case j == len(batch)-1:
				msg += fmt.Sprintf("Also: %d more events\n", len(batch)-1-maxAlso)
			}
			files = append(files, wr.Files...)
		}
		at := batch[0].At
		who := fmt.Sprintf("%s <%s> %d %s", o.Author.Name, o.Author.Email, at.Unix(), at.Format("-0700"))
		fmt.Fprintf(w, "commit %s\nauthor %s\ncommitter %s\n", ref, who, who)
		data([]byte(msg))
		if i == 0 {
			if head.IsZero() {
				// The root commit of a ledger starts its layout.
				w.WriteString("M 100644 inline " + ledger.VersionFile + "\n")
				data(ledger.VersionFileContent())
			} else {
				fmt.Fprintf(w, "from %s\n", head)
			}
		}
		for _, f := range files {
			w.WriteString("M 100644 inline " + f.Path + "\n")
			data(f.Content)
		}
		w.WriteByte('\n')
	}
	w.WriteString("done\n")
	return w.Flush()
}
