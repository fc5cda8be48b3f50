package git

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/policy"
)

// MaxCommits bounds how many commits of a change are read for pushers.
const MaxCommits = 1000

// ErrTooManyCommits is returned for a change of more than MaxCommits commits.
var ErrTooManyCommits = errors.New("too many commits in the change")

// Review builds the review evidence of the change base..head in repo: the
// author is the author of the change's first commit, pushers are the
// authors and committers of all its commits but head, and approvals are
// head's Approved-by trailers.
func Review(repo *gogit.Repository, base, head string) (*policy.Review, error) {
	bh, err := repo.ResolveRevision(plumbing.Revision(base))
	if err != nil {
		return nil, fmt.Errorf("base revision %q: %w", base, err)
	}
	hh, err := repo.ResolveRevision(plumbing.Revision(head))
	if err != nil {
		return nil, fmt.Errorf("head revision %q: %w", head, err)
	}
	baseCommit, err := repo.CommitObject(*bh)
	if err != nil {
		return nil, fmt.Errorf("reading base %s: %w", base, err)
	}
	headCommit, err := repo.CommitObject(*hh)
	if err != nil {
		return nil, fmt.Errorf("reading head %s: %w", head, err)
	}
	commits, err := changeCommits(baseCommit, headCommit)
	if err != nil {
		return nil, err
	}
	r := &policy.Review{Forge: "git", HeadSHA: hh.String(), Pushers: []string{}, Approvals: []policy.Approval{}, Labels: []string{}}
	for _, c := range commits {
		if c.Hash == headCommit.Hash && len(c.ParentHashes) > 1 {
			continue // the merge commit carries the approvals; its writer approves, not pushes
		}
		for _, id := range []string{Identity(c.Author.Email), Identity(c.Committer.Email)} {
			if !slices.Contains(r.Pushers, id) {
				r.Pushers = append(r.Pushers, id)
			}
		}
		r.Author = Identity(c.Author.Email) // commits are newest first: the last is the first
	}
	for _, a := range Trailers(headCommit.Message, "Approved-by") {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("head commit %s: Approved-by %q: want \"Name <email>\": %w", hh.String()[:12], a, err)
		}
		r.Approvals = append(r.Approvals, policy.Approval{ID: Identity(addr.Address), Login: addr.Name, At: headCommit.Committer.When.UTC().Format("2006-01-02T15:04:05Z")})
	}
	return r, nil
}

// Identity is the stable identity of a plain-git user.
func Identity(email string) string { return "git:" + strings.ToLower(strings.TrimSpace(email)) }

// changeCommits lists the commits of head back to its merge base with
// base, newest first, bounded by MaxCommits. (Commits of base merged into
// the change after the merge base are counted too: their authors are
// treated as pushers, which can only remove approvals, never add them.)
func changeCommits(base, head *object.Commit) ([]*object.Commit, error) {
	bases, err := head.MergeBase(base)
	if err != nil {
		return nil, fmt.Errorf("finding the merge base: %w", err)
	}
	stop := map[plumbing.Hash]bool{}
	for _, b := range bases {
		stop[b.Hash] = true
	}
	var out []*object.Commit
	seen := map[plumbing.Hash]bool{}
	queue := []*object.Commit{head}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if seen[c.Hash] || stop[c.Hash] {
			continue
		}
		seen[c.Hash] = true
		if len(out) == MaxCommits {
			return nil, fmt.Errorf("%w (more than %d)", ErrTooManyCommits, MaxCommits)
		}
		out = append(out, c)
		err := c.Parents().ForEach(func(p *object.Commit) error {
			queue = append(queue, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking the change: %w", err)
		}
	}
	return out, nil
}

// Trailers returns the values of the trailers named key in the last
// paragraph of a commit message, in order.
func Trailers(message, key string) []string {
	paras := strings.Split(strings.TrimSpace(strings.ReplaceAll(message, "\r\n", "\n")), "\n\n")
	last := paras[len(paras)-1]
	var out []string
	for _, line := range strings.Split(last, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) && strings.TrimSpace(v) != "" {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
