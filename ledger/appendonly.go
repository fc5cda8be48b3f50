package ledger

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNotAppendOnly is returned when a ledger commit changes or removes a
// file an earlier commit wrote, or adds more than one event.
var ErrNotAppendOnly = errors.New("ledger is not append-only")

// AppendOnlyError names the commit and path that break the ledger's
// append-only history.
type AppendOnlyError struct {
	Commit plumbing.Hash
	Path   string
	Reason string
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
// repeated verification incremental: each commit costs a read of the
// ledger directory, so a full walk grows with the square of the events.
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
		tree, err := c.Tree()
		if err != nil {
			return fmt.Errorf("reading ledger commit %s: %w", c.Hash, err)
		}
		var parent *object.Commit
		var ptree *object.Tree
		if c.NumParents() == 1 {
			if parent, err = c.Parent(0); err != nil {
				return fmt.Errorf("reading the parent of ledger commit %s: %w", c.Hash, err)
			}
			if ptree, err = parent.Tree(); err != nil {
				return fmt.Errorf("reading ledger commit %s: %w", parent.Hash, err)
			}
		}
		if err := onlyAdds(ptree, tree, "", c.Hash); err != nil {
			return err
		}
		if parent == nil {
			return nil
		}
		c = parent
	}
	return fmt.Errorf("ledger longer than %d commits", maxWalk)
}

// onlyAdds checks that tree b keeps every entry of tree a unchanged,
// descending only into subtrees whose hashes differ: O(change), not
// O(ledger), per commit.
func onlyAdds(a, b *object.Tree, prefix string, commit plumbing.Hash) error {
	if a == nil {
		return nil
	}
	have := make(map[string]object.TreeEntry, len(b.Entries))
	for _, e := range b.Entries {
		have[e.Name] = e
	}
	for _, e := range a.Entries {
		name := prefix + e.Name
		n, ok := have[e.Name]
		switch {
		case !ok:
			return &AppendOnlyError{Commit: commit, Reason: "deletes", Path: name}
		case n.Hash == e.Hash && n.Mode == e.Mode:
			continue
		case e.Mode != filemode.Dir || n.Mode != filemode.Dir:
			return &AppendOnlyError{Commit: commit, Reason: "modifies", Path: name}
		}
		sa, err := a.Tree(e.Name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		sb, err := b.Tree(e.Name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if err := onlyAdds(sa, sb, name+"/", commit); err != nil {
			return err
		}
	}
	return nil
}
