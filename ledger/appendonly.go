package ledger

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/utils/merkletrie"
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
// ledger is refused too: cab never writes one.
func AppendOnly(repo *git.Repository, head plumbing.Hash) error {
	if head.IsZero() {
		return nil
	}
	c, err := repo.CommitObject(head)
	if err != nil {
		return fmt.Errorf("reading ledger commit %s: %w", head, err)
	}
	for i := 0; i < maxWalk; i++ {
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
		changes, err := object.DiffTree(ptree, tree)
		if err != nil {
			return fmt.Errorf("comparing ledger commit %s: %w", c.Hash, err)
		}
		for _, ch := range changes {
			action, err := ch.Action()
			if err != nil {
				return err
			}
			if action != merkletrie.Insert {
				return &AppendOnlyError{Commit: c.Hash, Reason: map[merkletrie.Action]string{merkletrie.Delete: "deletes", merkletrie.Modify: "modifies"}[action], Path: ch.From.Name}
			}
		}
		if parent == nil {
			return nil
		}
		c = parent
	}
	return fmt.Errorf("ledger longer than %d commits", maxWalk)
}
