package ledger

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNotAppendOnly is returned when a ledger commit changes or removes a
// file an earlier commit wrote, or adds more than one event.
var ErrNotAppendOnly = errors.New("ledger is not append-only")

// Change is an entry of an earlier ledger that a later one no longer
// holds as it was: an event that vanished (deleted, renamed) or changed.
type Change struct {
	// Ticket is the ticket the entry belongs to ("" for none).
	Ticket string `json:"ticket,omitempty"`
	// Path is the entry, e.g. ledger/CHG-2026-0042/3-applied.json, or a
	// whole ticket directory that is gone.
	Path string `json:"path"`
	// What is "deletes" or "modifies".
	What string `json:"what"`
}

// AppendOnlyError names the commit and path that break the ledger's
// append-only history.
type AppendOnlyError struct {
	Commit plumbing.Hash
	Path   string
	Reason string
	// Changes are every entry the commit deletes or modifies.
	Changes []Change
}

func (e *AppendOnlyError) Error() string {
	return fmt.Sprintf("ledger commit %s %s %s", e.Commit.String()[:12], e.Reason, e.Path)
}

// Is makes errors.Is(err, ErrNotAppendOnly) true.
func (e *AppendOnlyError) Is(target error) bool { return target == ErrNotAppendOnly }

// maxWalk bounds the ledger commits AppendOnly reads.
const maxWalk = 10_000_000

// AppendOnly walks the ledger from head by first parent and checks that
// every commit only adds files (an event and its envelope) to its parent:
// Read trusts the head tree, and this is what proves that no event was
// removed or edited in place by a later commit. A merge commit on the
// ledger is refused too: cab never writes one. The walk stops at since (a
// checkpoint verified before; zero: walk to the root), which keeps
// repeated verification incremental. Each commit costs a comparison of
// the ledger directory with its parent's, descending only into the
// ticket directories that differ.
func AppendOnly(repo *git.Repository, head, since plumbing.Hash) error {
	if head.IsZero() {
		return nil
	}
	c, err := repo.CommitObject(head)
	if err != nil {
		return fmt.Errorf("reading ledger commit %s: %w", head, err)
	}
	for i := 0; i < maxWalk; i++ {
		if c.Hash == since {
			return nil
		}
		if c.NumParents() > 1 {
			return &AppendOnlyError{Commit: c.Hash, Reason: "is a merge at", Path: "/"}
		}
		if c.NumParents() == 0 {
			return nil
		}
		parent, err := c.Parent(0)
		if err != nil {
			return fmt.Errorf("reading the parent of ledger commit %s: %w", c.Hash, err)
		}
		changes, err := diffCommits(repo, parent.TreeHash, c.TreeHash)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			return &AppendOnlyError{Commit: c.Hash, Reason: changes[0].What, Path: changes[0].Path, Changes: changes}
		}
		c = parent
	}
	return fmt.Errorf("ledger longer than %d commits", maxWalk)
}

// Diff returns the entries of the ledger at commit old that the ledger at
// commit head no longer holds as they were (zero head: everything is
// gone), ticket by ticket. What head adds is not reported.
func Diff(repo *git.Repository, old, head plumbing.Hash) ([]Change, error) {
	if old.IsZero() {
		return nil, nil
	}
	oc, err := repo.CommitObject(old)
	if err != nil {
		return nil, fmt.Errorf("reading ledger commit %s: %w", old, err)
	}
	var nt plumbing.Hash
	if !head.IsZero() {
		hc, err := repo.CommitObject(head)
		if err != nil {
			return nil, fmt.Errorf("reading ledger commit %s: %w", head, err)
		}
		nt = hc.TreeHash
	}
	return diffCommits(repo, oc.TreeHash, nt)
}

func diffCommits(repo *git.Repository, a, b plumbing.Hash) ([]Change, error) {
	if a == b {
		return nil, nil
	}
	ta, err := object.GetTree(repo.Storer, a)
	if err != nil {
		return nil, fmt.Errorf("reading ledger tree %s: %w", a, err)
	}
	var tb *object.Tree
	if !b.IsZero() {
		if tb, err = object.GetTree(repo.Storer, b); err != nil {
			return nil, fmt.Errorf("reading ledger tree %s: %w", b, err)
		}
	}
	var out []Change
	err = lost(ta, tb, "", &out)
	return out, err
}

// lost appends to out every entry of tree a that tree b (nil: none) does
// not keep unchanged, descending only into subtrees whose ids differ:
// O(change), not O(ledger), below the ticket directories.
func lost(a, b *object.Tree, prefix string, out *[]Change) error {
	have := map[string]object.TreeEntry{}
	if b != nil {
		have = make(map[string]object.TreeEntry, len(b.Entries))
		for _, e := range b.Entries {
			have[e.Name] = e
		}
	}
	for _, e := range a.Entries {
		name := prefix + e.Name
		n, ok := have[e.Name]
		switch {
		case !ok:
			*out = append(*out, Change{Ticket: ticketOf(name), Path: name, What: "deletes"})
			continue
		case n.Hash == e.Hash && n.Mode == e.Mode:
			continue
		case e.Mode != filemode.Dir || n.Mode != filemode.Dir:
			*out = append(*out, Change{Ticket: ticketOf(name), Path: name, What: "modifies"})
			continue
		}
		sa, err := a.Tree(e.Name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		sb, err := b.Tree(e.Name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if err := lost(sa, sb, name+"/", out); err != nil {
			return err
		}
	}
	return nil
}

// ticketOf is the ticket id of a path ledger/<id>[/...] ("" for others).
func ticketOf(path string) string {
	rest, ok := strings.CutPrefix(path, dir+"/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	if !ValidTicketID(id) {
		return ""
	}
	return id
}

// CheckpointError reports a ledger head that is not the checkpoint plus
// added events: the branch was rewritten (force-pushed, deleted), a merge
// was pushed onto it, or a commit deleted, edited, renamed or re-added
// events. errors.Is matches ErrNotAppendOnly, and ErrRewritten when the
// checkpoint is no longer in the head's history.
type CheckpointError struct {
	Checkpoint, Head plumbing.Hash
	// Rewritten: the checkpoint is not on the head's first-parent chain.
	Rewritten bool
	// Merge is a merge commit between the checkpoint and the head.
	Merge plumbing.Hash
	// Changes are the checkpoint's entries the head no longer holds as
	// they were, ticket by ticket.
	Changes []Change
}

// Tickets lists, sorted, the tickets whose events vanished or changed.
func (e *CheckpointError) Tickets() []string {
	var ids []string
	for _, c := range e.Changes {
		if c.Ticket != "" {
			ids = append(ids, c.Ticket)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (e *CheckpointError) Error() string {
	var b strings.Builder
	switch {
	case e.Rewritten && e.Head.IsZero():
		fmt.Fprintf(&b, "the ledger branch is gone; the checkpoint was %s", e.Checkpoint)
	case e.Rewritten:
		fmt.Fprintf(&b, "the ledger was rewritten: checkpoint %s is not in the history of head %s", e.Checkpoint, e.Head)
	case !e.Merge.IsZero():
		fmt.Fprintf(&b, "the ledger is not append-only: merge commit %s between checkpoint %s and head %s", e.Merge, e.Checkpoint, e.Head)
	default:
		fmt.Fprintf(&b, "the ledger is not append-only: commits between checkpoint %s and head %s delete or change events", e.Checkpoint, e.Head)
	}
	if ids := e.Tickets(); len(ids) > 0 {
		fmt.Fprintf(&b, "; events vanished or changed for %s", strings.Join(ids, ", "))
	} else if len(e.Changes) > 0 {
		fmt.Fprintf(&b, "; %s %s", e.Changes[0].What, e.Changes[0].Path)
	}
	return b.String()
}

// Is matches ErrNotAppendOnly, and ErrRewritten for a rewrite.
func (e *CheckpointError) Is(target error) bool {
	return target == ErrNotAppendOnly || (target == ErrRewritten && e.Rewritten)
}

// CheckAppendOnly checks that head is checkpoint plus added events: the
// checkpoint is on head's first-parent chain with no merge in between,
// and every entry of the checkpoint's tree is still in head's, unchanged.
// It reads the commits since the checkpoint (not their trees) and
// compares two trees once, descending only into the ticket directories
// that differ: linear in what was added. A zero checkpoint accepts any
// head. Anything else fails with a *CheckpointError naming every ticket
// whose events vanished or changed.
func CheckAppendOnly(repo *git.Repository, checkpoint, head plumbing.Hash) error {
	if checkpoint.IsZero() || checkpoint == head {
		return nil
	}
	if _, err := repo.CommitObject(checkpoint); err != nil {
		return fmt.Errorf("reading the ledger checkpoint %s: %w", checkpoint, err)
	}
	e := &CheckpointError{Checkpoint: checkpoint, Head: head, Rewritten: true}
	h := head
	for i := 0; i < maxWalk && !h.IsZero(); i++ {
		if h == checkpoint {
			e.Rewritten = false
			break
		}
		c, err := repo.CommitObject(h)
		if err != nil {
			return fmt.Errorf("reading ledger commit %s: %w", h, err)
		}
		if c.NumParents() > 1 && e.Merge.IsZero() {
			e.Merge = c.Hash
		}
		if c.NumParents() == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	changes, err := Diff(repo, checkpoint, head)
	if err != nil {
		return err
	}
	e.Changes = changes
	if e.Rewritten || !e.Merge.IsZero() || len(changes) > 0 {
		return e
	}
	return nil
}
