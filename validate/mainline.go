package validate

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/gitx"
)

// Merge is a commit of the main line and the tickets it added.
type Merge struct {
	Commit  string
	Parent  string // first parent; "" for a root commit
	Message string
	Time    time.Time
	// Tickets are the paths of the ticket files the commit added.
	Tickets []string
}

// Mainline walks the first-parent history of rev in the repository at dir,
// newest to oldest until the commit stop (exclusive; zero: the root), and
// returns the commits that added tickets, oldest first. Main is read by
// first parent: what a merge brought in is its diff to its first parent,
// whatever the merged branch's own history says.
func Mainline(ctx context.Context, dir, rev string, stop plumbing.Hash) ([]Merge, error) {
	repo, closeRepo, err := gitx.Open(dir)
	if err != nil {
		return nil, err
	}
	defer closeRepo()
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w (%v)", rev, ErrRevision, err)
	}
	var out []Merge
	for c, err := range gitx.FirstParents(ctx, repo.Storer, *h) {
		if err != nil {
			return nil, err
		}
		if c.Hash == stop {
			break
		}
		m, err := mainlineMerge(repo, c)
		if err != nil {
			return nil, err
		}
		if len(m.Tickets) > 0 {
			out = append(out, m)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// mainlineMerge is c with the tickets its diff to its first parent adds.
func mainlineMerge(repo *git.Repository, c *object.Commit) (Merge, error) {
	m := Merge{Commit: c.Hash.String(), Message: c.Message, Time: c.Committer.When}
	tree, err := c.Tree()
	if err != nil {
		return m, fmt.Errorf("reading the tree of %s: %w", c.Hash, err)
	}
	var ptree *object.Tree
	if len(c.ParentHashes) > 0 {
		parent := c.ParentHashes[0]
		m.Parent = parent.String()
		pc, err := repo.CommitObject(parent)
		if err != nil {
			return m, fmt.Errorf("reading the first parent of %s: %w", c.Hash, err)
		}
		if ptree, err = pc.Tree(); err != nil {
			return m, fmt.Errorf("reading the tree of %s: %w", parent, err)
		}
	}
	changes, _, err := diffTrees(repo.Storer, ptree, tree, "")
	if err != nil {
		return m, err
	}
	for _, ch := range changes {
		if ch.Added() && strings.HasPrefix(ch.Path, ChangesDir+"/") && path.Ext(ch.Path) == ".cue" {
			m.Tickets = append(m.Tickets, ch.Path)
		}
	}
	return m, nil
}
