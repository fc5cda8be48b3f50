package github

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cabhq/cab/policy"

	"github.com/cabhq/cab/forge"
)

// WebFlowUserID is the id of GitHub's "web-flow" account, which commits
// on behalf of people using the web interface (merges of the base branch,
// suggestions, edits). It is never a person, so it is never a pusher.
const WebFlowUserID = 19864447

// Review states as the reviews API reports them.
const (
	stateApproved  = "APPROVED"
	stateCommented = "COMMENTED"
	statePending   = "PENDING"
)

type user struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
}

// pull is the part of GET /repos/{o}/{r}/pulls/{n} that cab reads.
type pull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	User    *user  `json:"user"`
	Head    struct {
		SHA string `json:"sha"`
	} `json:"head"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
	// Commits is the number of commits on the pull request.
	Commits int `json:"commits"`
}

// review is one element of GET /repos/{o}/{r}/pulls/{n}/reviews.
type review struct {
	ID          int64      `json:"id"`
	User        *user      `json:"user"`
	State       string     `json:"state"`
	CommitID    string     `json:"commit_id"`
	SubmittedAt *time.Time `json:"submitted_at"`
}

// commit is one element of GET /repos/{o}/{r}/pulls/{n}/commits: author
// and committer are the GitHub accounts the commit's e-mail addresses
// belong to, null when none does.
type commit struct {
	SHA       string `json:"sha"`
	Author    *user  `json:"author"`
	Committer *user  `json:"committer"`
}

// Review collects the approval evidence of pull request number in
// owner/repo. A non-empty headSHA is the commit the check ran on: when the
// pull request's head is another commit, Review fails with ErrHeadMoved.
//
// An approval counts only when it is the reviewer's latest review that is
// not a comment and it was given on the current head commit: an approval
// of an earlier commit, or one followed by a request for changes or
// dismissed, is not reported.
func (c *Client) Review(ctx context.Context, owner, repo string, number int, headSHA string) (*policy.Review, error) {
	rp, err := repoPath(owner, repo)
	if err != nil {
		return nil, err
	}
	if number <= 0 {
		return nil, fmt.Errorf("pull request number %d: must be positive", number)
	}
	pp := rp + "/pulls/" + strconv.Itoa(number)

	var pr pull
	if _, err := c.request(ctx, http.MethodGet, c.BaseURL+pp, permReadPulls, nil, &pr); err != nil {
		return nil, fmt.Errorf("reading pull request %s/%s#%d: %w", owner, repo, number, err)
	}
	head := pr.Head.SHA
	if head == "" {
		return nil, fmt.Errorf("pull request %s/%s#%d has no head commit", owner, repo, number)
	}
	if headSHA != "" && headSHA != head {
		return nil, fmt.Errorf("pull request %s/%s#%d: checked %s, head is now %s: %w", owner, repo, number, headSHA, head, ErrHeadMoved)
	}
	if pr.User == nil || pr.User.ID <= 0 {
		return nil, fmt.Errorf("pull request %s/%s#%d has no author account", owner, repo, number)
	}

	reviews, err := listAll[review](ctx, c, pp+"/reviews", permReadPulls)
	if err != nil {
		return nil, fmt.Errorf("reading reviews of %s/%s#%d: %w", owner, repo, number, err)
	}
	commits, err := listAll[commit](ctx, c, pp+"/commits", permReadPulls)
	if err != nil {
		return nil, fmt.Errorf("reading commits of %s/%s#%d: %w", owner, repo, number, err)
	}
	// The commits listing stops at 250 commits: with more, the pushers
	// cannot be established and the evidence would be incomplete.
	if len(commits) < pr.Commits {
		return nil, fmt.Errorf("pull request %s/%s#%d has %d commits, GitHub listed %d: pushers cannot be established (split the pull request)", owner, repo, number, pr.Commits, len(commits))
	}

	r := &policy.Review{
		Forge:     "github",
		Number:    int64(number),
		URL:       pr.HTMLURL,
		Author:    id(pr.User.ID),
		Pushers:   pushers(commits),
		Approvals: approvals(reviews, head),
		Labels:    []string{},
		HeadSHA:   head,
	}
	for _, l := range pr.Labels {
		r.Labels = append(r.Labels, l.Name)
	}
	slices.Sort(r.Labels)
	return r, nil
}

// approvals keeps, per reviewer, the latest review that is not a comment
// and reports the reviewers whose latest such review approves head.
func approvals(reviews []review, head string) []policy.Approval {
	latest := map[int64]review{}
	for _, rv := range reviews {
		if rv.User == nil || rv.User.ID <= 0 || rv.SubmittedAt == nil {
			continue // a deleted account ("ghost") or a review not yet submitted
		}
		if rv.State == stateCommented || rv.State == statePending {
			continue
		}
		prev, ok := latest[rv.User.ID]
		if !ok || later(rv, prev) {
			latest[rv.User.ID] = rv
		}
	}
	out := []policy.Approval{}
	for _, rv := range latest {
		if rv.State != stateApproved || rv.CommitID != head {
			continue
		}
		out = append(out, policy.Approval{
			ID:    id(rv.User.ID),
			Login: rv.User.Login,
			At:    rv.SubmittedAt.UTC().Format(time.RFC3339),
		})
	}
	slices.SortFunc(out, func(a, b policy.Approval) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// later orders reviews by submission time, then by id (ids grow).
func later(a, b review) bool {
	if !a.SubmittedAt.Equal(*b.SubmittedAt) {
		return a.SubmittedAt.After(*b.SubmittedAt)
	}
	return a.ID > b.ID
}

// pushers are the accounts that authored or committed a commit of the
// pull request, without web-flow.
func pushers(commits []commit) []string {
	seen := map[int64]bool{}
	for _, c := range commits {
		for _, u := range []*user{c.Author, c.Committer} {
			if u == nil || u.ID <= 0 || u.ID == WebFlowUserID {
				continue
			}
			seen[u.ID] = true
		}
	}
	return forge.Identities("github", seen)
}

// id is the stable identity of a GitHub account.
func id(n int64) string { return forge.Identity("github", n) }
