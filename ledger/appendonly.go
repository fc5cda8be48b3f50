package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/gitx"
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
	// What is "deletes" or "modifies"; "adds" only for what a commit
	// claiming to migrate the layout adds (see Ledger.Migrate).
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
// ledger is refused too: cab never writes one. The one commit allowed to
// move files is the migration from layout 1 to 2, and only when it is
// exactly what Ledger.Migrate writes (every file of the parent, byte for
// byte, at its layout 2 path, and the version marker; nothing else). The
// walk stops at since (a checkpoint verified before; zero: walk to the
// root), which keeps repeated verification incremental. Each commit
// costs a comparison of its tree with its parent's, descending only into
// the directories that differ: in layout 2, the root, ledger/, one shard
// and one ticket directory, so the walk is linear in the commits (in
// layout 1, each comparison reads the directory of every ticket).
func AppendOnly(ctx context.Context, repo *git.Repository, head, since plumbing.Hash) error {
	objs := newTreeCache(StorerObjects(repo.Storer))
	// Each commit is compared with its parent when the walk reaches the
	// parent: child is the commit before, newer.
	var child *object.Commit
	n := 0
	for c, err := range gitx.FirstParents(ctx, repo.Storer, head) {
		if err != nil {
			return fmt.Errorf("reading the ledger: %w", err)
		}
		if child != nil {
			changes, migration, err := commitChanges(objs, c.TreeHash, child.TreeHash)
			if err != nil {
				return err
			}
			if len(changes) > 0 {
				reason := changes[0].What
				if migration {
					reason = "is not a lossless migration to layout 2: it " + reason
				}
				return &AppendOnlyError{Commit: child.Hash, Reason: reason, Path: changes[0].Path, Changes: changes}
			}
			objs.rotate()
		}
		if c.Hash == since {
			return nil
		}
		if c.NumParents() > 1 {
			return &AppendOnlyError{Commit: c.Hash, Reason: "is a merge at", Path: "/"}
		}
		if n++; n >= maxWalk {
			return fmt.Errorf("ledger longer than %d commits", maxWalk)
		}
		child = c
	}
	return nil
}

// commitChanges returns what a commit whose tree is b loses of its
// parent's tree a: the entries of a it deletes or modifies, or, when it
// moves a layout 1 ledger to layout 2 (migration), every way it differs
// from the exact migration of a.
func commitChanges(objs Objects, a, b plumbing.Hash) (changes []Change, migration bool, err error) {
	if a == b {
		return nil, false, nil
	}
	va, err := versionOf(objs, a)
	if err != nil {
		return nil, false, err
	}
	vb, err := versionOf(objs, b)
	if err != nil {
		return nil, false, err
	}
	if va == 1 && vb == 2 {
		changes, err := checkMigration(objs, a, b)
		return changes, true, err
	}
	changes, err = diffTrees(objs, a, b, false)
	return changes, false, err
}

// versionOf is the layout version of the ledger tree root (0 when cab
// cannot read it: then only a plain comparison of trees applies).
func versionOf(objs Objects, root plumbing.Hash) (int, error) {
	lo, err := readLayout(objs, root)
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return lo.version, nil
}

// Diff returns the entries of the ledger at commit old that the ledger at
// commit head no longer holds as they were (zero head: everything is
// gone), ticket by ticket. What head adds is not reported. When old is
// in layout 1 and head in layout 2, old's entries are looked for where
// the migration puts them (and named by that path).
func Diff(repo *git.Repository, old, head plumbing.Hash) ([]Change, error) {
	return diffCommits(repo, StorerObjects(repo.Storer), old, head)
}

// diffCommits is Diff reading trees and blobs through objs.
func diffCommits(repo *git.Repository, objs Objects, old, head plumbing.Hash) ([]Change, error) {
	if old.IsZero() {
		return nil, nil
	}
	oc, err := repo.CommitObject(old)
	if err != nil {
		return nil, fmt.Errorf("reading ledger commit %s: %w", old, err)
	}
	if head.IsZero() {
		return diffTrees(objs, oc.TreeHash, plumbing.ZeroHash, false)
	}
	hc, err := repo.CommitObject(head)
	if err != nil {
		return nil, fmt.Errorf("reading ledger commit %s: %w", head, err)
	}
	return diffLayouts(objs, oc.TreeHash, hc.TreeHash)
}

// diffLayouts is Diff of two ledger trees: old, migrated first when it is
// in layout 1 and head in layout 2.
func diffLayouts(objs Objects, old, head plumbing.Hash) ([]Change, error) {
	vo, err := versionOf(objs, old)
	if err != nil {
		return nil, err
	}
	vh, err := versionOf(objs, head)
	if err != nil {
		return nil, err
	}
	if vo == 1 && vh == 2 {
		ov := newOverlay(objs)
		want, _, err := migrateTree(ov, ov.mem, old)
		var ce *CorruptError
		if errors.As(err, &ce) {
			return diffTrees(objs, old, head, false) // no migration keeps it: all of it is lost
		}
		if err != nil {
			return nil, err
		}
		return diffTrees(ov, want, head, false)
	}
	return diffTrees(objs, old, head, false)
}

// diffTrees returns the entries of tree a (a ledger root) that tree b
// (zero: none) does not keep unchanged, descending only into subtrees
// whose ids differ: O(change), not O(ledger). With adds, the entries of
// b that a lacks are reported too ("adds"). A shard directory gone (or
// added) is reported ticket directory by ticket directory, so that every
// ticket concerned is named.
//
// It is not gitx.DiffTrees: it reads through Objects, so that cab log's
// fast pack reader and the in-memory overlay of a rebuilt migration
// serve it, and it names tickets (a shard gone, ticket by ticket) rather
// than files.
func diffTrees(objs Objects, a, b plumbing.Hash, adds bool) ([]Change, error) {
	var out []Change
	err := diffInto(objs, a, b, "", adds, &out)
	return out, err
}

func diffInto(objs Objects, a, b plumbing.Hash, prefix string, adds bool, out *[]Change) error {
	if a == b {
		return nil
	}
	var ea, eb []object.TreeEntry
	var err error
	if !a.IsZero() {
		if ea, err = objs.Tree(a); err != nil {
			return fmt.Errorf("reading ledger tree %s%s: %w", prefix, a, err)
		}
	}
	if !b.IsZero() {
		if eb, err = objs.Tree(b); err != nil {
			return fmt.Errorf("reading ledger tree %s%s: %w", prefix, b, err)
		}
	}
	have := make(map[string]object.TreeEntry, len(eb))
	for _, e := range eb {
		have[e.Name] = e
	}
	for _, e := range ea {
		name := prefix + e.Name
		n, ok := have[e.Name]
		delete(have, e.Name)
		switch {
		case !ok:
			if prefix == dir+"/" && isShard(e.Name) && e.Mode == filemode.Dir {
				if err := diffInto(objs, e.Hash, plumbing.ZeroHash, name+"/", false, out); err == nil {
					continue
				}
			}
			*out = append(*out, Change{Ticket: ticketOf(name), Path: name, What: "deletes"})
		case n.Hash == e.Hash && n.Mode == e.Mode:
		case e.Mode != filemode.Dir || n.Mode != filemode.Dir:
			*out = append(*out, Change{Ticket: ticketOf(name), Path: name, What: "modifies"})
		default:
			if err := diffInto(objs, e.Hash, n.Hash, name+"/", adds, out); err != nil {
				return err
			}
		}
	}
	if adds {
		for _, e := range eb {
			if _, ok := have[e.Name]; !ok {
				continue
			}
			name := prefix + e.Name
			if prefix == dir+"/" && isShard(e.Name) && e.Mode == filemode.Dir {
				if err := diffInto(objs, plumbing.ZeroHash, e.Hash, name+"/", true, out); err == nil {
					continue
				}
			}
			*out = append(*out, Change{Ticket: ticketOf(name), Path: name, What: "adds"})
		}
	}
	return nil
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
// and every entry of the checkpoint's tree is still in head's, unchanged
// (at its layout 2 path when the ledger was migrated since; the
// migration commit itself must then be exactly the migration of its
// parent, see AppendOnly). It reads the commits since the checkpoint
// (not their trees, but for the root trees when the layout changed) and
// compares two trees once, descending only into the directories that
// differ: linear in what was added. A zero checkpoint accepts any head.
// Anything else fails with a *CheckpointError naming every ticket whose
// events vanished or changed.
func CheckAppendOnly(ctx context.Context, repo *git.Repository, checkpoint, head plumbing.Hash) error {
	return checkAppendOnly(ctx, repo, StorerObjects(repo.Storer), checkpoint, head)
}

// checkAppendOnly is CheckAppendOnly reading trees and blobs through objs
// (objects of repo: a Ledger's memo of the trees it read or wrote, each
// kept under its own id).
func checkAppendOnly(ctx context.Context, repo *git.Repository, objs Objects, checkpoint, head plumbing.Hash) error {
	if checkpoint.IsZero() || checkpoint == head {
		return nil
	}
	cp, err := repo.CommitObject(checkpoint)
	if err != nil {
		return fmt.Errorf("reading the ledger checkpoint %s: %w", checkpoint, err)
	}
	e := &CheckpointError{Checkpoint: checkpoint, Head: head, Rewritten: true}
	// The commits since the checkpoint, newest first.
	var chain []*object.Commit
	for c, err := range gitx.FirstParents(ctx, repo.Storer, head) {
		if err != nil {
			return fmt.Errorf("reading the ledger: %w", err)
		}
		if c.Hash == checkpoint {
			e.Rewritten = false
			break
		}
		if len(chain) >= maxWalk {
			break
		}
		chain = append(chain, c)
		if c.NumParents() > 1 && e.Merge.IsZero() {
			e.Merge = c.Hash
		}
	}
	changes, err := diffCommits(repo, objs, checkpoint, head)
	if err != nil {
		return err
	}
	if !e.Rewritten && len(chain) > 0 {
		migrations, err := checkMigrations(objs, cp.TreeHash, chain)
		if err != nil {
			return err
		}
		for _, c := range migrations {
			if !slices.Contains(changes, c) {
				changes = append(changes, c)
			}
		}
	}
	e.Changes = changes
	if e.Rewritten || !e.Merge.IsZero() || len(changes) > 0 {
		return e
	}
	return nil
}

// checkMigrations checks, when the ledger moved from layout 1 at the
// checkpoint (tree root) to layout 2 at the head of chain (the commits
// since, newest first), every commit of chain that moves it: each must be
// exactly the migration of its parent. It returns how they differ.
func checkMigrations(objs Objects, root plumbing.Hash, chain []*object.Commit) ([]Change, error) {
	vc, err := versionOf(objs, root)
	if err != nil {
		return nil, err
	}
	vh, err := versionOf(objs, chain[0].TreeHash)
	if err != nil || vc != 1 || vh != 2 {
		return nil, err
	}
	var out []Change
	parent, pv := root, vc
	for i := len(chain) - 1; i >= 0; i-- {
		t := chain[i].TreeHash
		v, err := versionOf(objs, t)
		if err != nil {
			return nil, err
		}
		if pv == 1 && v == 2 {
			changes, err := checkMigration(objs, parent, t)
			if err != nil {
				return nil, err
			}
			out = append(out, changes...)
		}
		parent, pv = t, v
	}
	return out, nil
}
