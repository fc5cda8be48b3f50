package validate

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
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
func Mainline(dir, rev string, stop plumbing.Hash) ([]Merge, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w (%v)", rev, ErrRevision, err)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", h, err)
	}
	var out []Merge
	for {
		if c.Hash == stop {
			break
		}
		tree, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("reading the tree of %s: %w", c.Hash, err)
		}
		var parent *object.Commit
		var ptree *object.Tree
		if c.NumParents() > 0 {
			if parent, err = c.Parent(0); err != nil {
				return nil, fmt.Errorf("reading the first parent of %s: %w", c.Hash, err)
			}
			if ptree, err = parent.Tree(); err != nil {
				return nil, fmt.Errorf("reading the tree of %s: %w", parent.Hash, err)
			}
		}
		changes, _, err := diffTrees(ptree, tree, "")
		if err != nil {
			return nil, err
		}
		m := Merge{Commit: c.Hash.String(), Message: c.Message, Time: c.Committer.When}
		if parent != nil {
			m.Parent = parent.Hash.String()
		}
		for _, ch := range changes {
			if ch.from == nil && strings.HasPrefix(ch.name, ChangesDir+"/") && path.Ext(ch.name) == ".cue" {
				m.Tickets = append(m.Tickets, ch.name)
			}
		}
		if len(m.Tickets) > 0 {
			out = append(out, m)
		}
		if parent == nil {
			break
		}
		c = parent
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
