package github

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

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

// pull is the part of GET /repos/{o}/{r}/pulls/{n} (and of the pull
// request summaries GET /repos/{o}/{r}/commits/{sha}/pulls lists) that cab
// reads.
type pull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"`
	User    *user  `json:"user"`
	Head    struct {
		SHA string `json:"sha"`
	} `json:"head"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
	// Commits is the number of commits on the pull request.
	Commits int `json:"commits"`
	// CreatedAt is when the pull request was opened.
	CreatedAt time.Time `json:"created_at"`
	// Merged, MergeCommitSHA and MergedBy say whether, as what commit and
	// by whom the pull request was merged (only the full pull request has
	// merged and merged_by; summaries have merged_at).
	Merged         bool       `json:"merged"`
	MergedAt       *time.Time `json:"merged_at"`
	MergeCommitSHA string     `json:"merge_commit_sha"`
	MergedBy       *user      `json:"merged_by"`
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

// Review collects the review evidence of pull request number in
// owner/repo. A non-empty headSHA is the commit the check ran on: when the
// pull request's head is another commit, Review fails with ErrHeadMoved.
//
// Each reviewer's latest review that is not a comment is reported with the
// commit it was given on; an APPROVED one approves that commit only
// (forge.Evidence.Review counts it only for the final head). A review
// followed by a request for changes, or dismissed, approves nothing.
func (c *Client) Review(ctx context.Context, owner, repo string, number int, headSHA string) (*forge.Evidence, error) {
	pr, pp, err := c.pull(ctx, owner, repo, number)
	if err != nil {
		return nil, err
	}
	if headSHA != "" && headSHA != pr.Head.SHA {
		return nil, fmt.Errorf("pull request %s/%s#%d: checked %s, head is now %s: %w", owner, repo, number, headSHA, pr.Head.SHA, ErrHeadMoved)
	}
	return c.evidence(ctx, owner, repo, pp, pr)
}

// pull reads pull request number and checks it has a head and an author.
func (c *Client) pull(ctx context.Context, owner, repo string, number int) (*pull, string, error) {
	rp, err := repoPath(owner, repo)
	if err != nil {
		return nil, "", err
	}
	if number <= 0 {
		return nil, "", fmt.Errorf("pull request number %d: must be positive", number)
	}
	pp := rp + "/pulls/" + strconv.Itoa(number)
	var pr pull
	if _, err := c.request(ctx, http.MethodGet, c.BaseURL+pp, permReadPulls, nil, &pr); err != nil {
		return nil, "", fmt.Errorf("reading pull request %s/%s#%d: %w", owner, repo, number, err)
	}
	if pr.Head.SHA == "" {
		return nil, "", fmt.Errorf("pull request %s/%s#%d has no head commit", owner, repo, number)
	}
	if pr.User == nil || pr.User.ID <= 0 {
		return nil, "", fmt.Errorf("pull request %s/%s#%d has no author account", owner, repo, number)
	}
	return &pr, pp, nil
}

// evidence reads the reviews and commits of pr (at path pp).
func (c *Client) evidence(ctx context.Context, owner, repo, pp string, pr *pull) (*forge.Evidence, error) {
	number := pr.Number
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
	e := &forge.Evidence{
		Forge:     "github",
		Number:    int64(number),
		URL:       pr.HTMLURL,
		Author:    id(pr.User.ID),
		Pushers:   pushers(commits),
		Approvals: approvals(reviews),
		Labels:    []string{},
		HeadSHA:   pr.Head.SHA,
		OpenedAt:  pr.CreatedAt,
	}
	for _, l := range pr.Labels {
		e.Labels = append(e.Labels, l.Name)
	}
	slices.Sort(e.Labels)
	return e, nil
}

// approvals keeps, per reviewer, the latest review that is not a comment
// and reports the reviewers whose latest such review approves, each with
// the commit it approves.
func approvals(reviews []review) []forge.Approval {
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
	out := []forge.Approval{}
	for _, rv := range latest {
		if rv.State != stateApproved || rv.CommitID == "" {
			continue
		}
		out = append(out, forge.Approval{
			ID:     id(rv.User.ID),
			Login:  rv.User.Login,
			At:     rv.SubmittedAt.UTC().Format(time.RFC3339),
			Commit: rv.CommitID,
		})
	}
	slices.SortFunc(out, func(a, b forge.Approval) int {
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
