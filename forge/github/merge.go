package github

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cabhq/cab/forge"
)

// MergeEvidence returns the review evidence of the pull request GitHub
// records as having landed commit (a commit of the base branch) in
// owner/repo. The forge's record is the evidence; hint (a number read
// from the commit message, 0 for none) only adds one more pull request to
// ask about.
//
// It asks which pull requests GitHub associates with the commit
// (GET /repos/{o}/{r}/commits/{sha}/pulls), and accepts one only when GET
// /repos/{o}/{r}/pulls/{n} says merged: true and either merge_commit_sha
// is commit (a merge commit, a squash commit, or the merge-queue commit
// that landed) or, for a rebase merge, commit is one of the pull request's
// commits number of first-parent commits ending at merge_commit_sha (chain
// lists them; nil refuses rebase merges). The merger is merged_by.
//
// No such pull request fails with forge.ErrNoMergeRecord, naming the
// commit; two fail too (GitHub never records that).
func (c *Client) MergeEvidence(ctx context.Context, owner, repo, commit string, hint int64, chain forge.FirstParents) (*forge.Evidence, error) {
	rp, err := repoPath(owner, repo)
	if err != nil {
		return nil, err
	}
	if !forge.IsSHA(commit) {
		return nil, fmt.Errorf("merge commit %q is not a commit SHA", commit)
	}
	listed, err := listAll[pull](ctx, c, rp+"/commits/"+commit+"/pulls", permReadPulls)
	if err != nil {
		return nil, fmt.Errorf("listing the pull requests of commit %s: %w", forge.Short(commit), err)
	}
	var numbers []int
	for _, p := range listed {
		// Summaries say merged_at; only a merged pull request can be the
		// origin, and the full record below decides.
		if p.Number > 0 && p.MergedAt != nil && !slices.Contains(numbers, p.Number) {
			numbers = append(numbers, p.Number)
		}
	}
	if hint > 0 && hint <= 1<<31 && !slices.Contains(numbers, int(hint)) {
		numbers = append(numbers, int(hint))
	}
	var found *pull
	var foundPath string
	var why []string
	for _, n := range numbers {
		pr, pp, err := c.pull(ctx, owner, repo, n)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == 404 && n == int(hint) {
			why = append(why, fmt.Sprintf("#%d (named in the message) does not exist", n))
			continue
		}
		if err != nil {
			return nil, err
		}
		ok, reason, err := landed(ctx, pr, commit, chain)
		if err != nil {
			return nil, fmt.Errorf("pull request %s/%s#%d: %w", owner, repo, n, err)
		}
		if !ok {
			why = append(why, fmt.Sprintf("#%d %s", n, reason))
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("pull requests #%d and #%d of %s/%s both record merge commit %s", found.Number, n, owner, repo, forge.Short(commit))
		}
		found, foundPath = pr, pp
	}
	if found == nil {
		msg := fmt.Sprintf("no pull request on github records merge commit %s", commit)
		if len(why) > 0 {
			msg += " (" + strings.Join(why, "; ") + ")"
		}
		return nil, fmt.Errorf("%w: %s", forge.ErrNoMergeRecord, msg)
	}
	if found.MergedBy == nil || found.MergedBy.ID <= 0 {
		return nil, fmt.Errorf("%w: pull request %s/%s#%d records no merger for merge commit %s", forge.ErrNoMergeRecord, owner, repo, found.Number, forge.Short(commit))
	}
	e, err := c.evidence(ctx, owner, repo, foundPath, found)
	if err != nil {
		return nil, err
	}
	e.MergeCommit = commit
	e.Merger = id(found.MergedBy.ID)
	return e, nil
}

// landed says whether pr landed commit, and if not, why.
func landed(ctx context.Context, pr *pull, commit string, chain forge.FirstParents) (bool, string, error) {
	switch {
	case !pr.Merged:
		return false, "is not merged (" + pr.State + ")", nil
	case pr.MergeCommitSHA == commit:
		return true, "", nil
	case pr.MergeCommitSHA == "":
		return false, "records no merge commit", nil
	case chain == nil || pr.Commits <= 1:
		return false, "was merged as " + forge.Short(pr.MergeCommitSHA), nil
	}
	// A rebase merge lands one commit per commit of the pull request;
	// merge_commit_sha is the last.
	landedCommits, err := chain(ctx, pr.MergeCommitSHA, pr.Commits)
	if err != nil {
		return false, "", fmt.Errorf("reading the commits below merge commit %s: %w", forge.Short(pr.MergeCommitSHA), err)
	}
	if slices.Contains(landedCommits, commit) {
		return true, "", nil
	}
	return false, "was merged as " + forge.Short(pr.MergeCommitSHA), nil
}

// queueRef is the ref of a merge-queue run:
// gh-readonly-queue/<base branch>/pr-<number>-<sha of the queue entry's parent>.
var queueRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^refs/heads/gh-readonly-queue/.+/pr-([0-9]{1,9})-[0-9a-f]{40}$`)
})

// EventEvidence returns the review evidence of the change an Actions run
// checks. For a pull request event it is the pull request's, pinned to the
// head the run checks (ErrHeadMoved otherwise). A merge_group event names
// its pull request only in GITHUB_REF (ref): the evidence is that pull
// request's, and the queue commit GitHub built for it (the event's head,
// which is what lands) is recorded as its merge commit.
func (c *Client) EventEvidence(ctx context.Context, ev *Event, ref string) (*forge.Evidence, error) {
	if ev.Name != EventMergeGroup {
		return c.Review(ctx, ev.Owner, ev.Repo, ev.Number, ev.HeadSHA)
	}
	m := queueRef().FindStringSubmatch(ref)
	if m == nil {
		return nil, fmt.Errorf("%s event without a pull request in GITHUB_REF %q", ev.Name, ref)
	}
	n, _ := strconv.Atoi(m[1])
	e, err := c.Review(ctx, ev.Owner, ev.Repo, n, "")
	if err != nil {
		return nil, err
	}
	e.MergeCommit = ev.HeadSHA
	return e, nil
}
