package gitlab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/cabhq/cab/forge"
)

const stateMerged = "merged"

// MergeEvidence returns the review evidence of the merge request GitLab
// records as having landed commit (a commit of the target branch) in
// project. The forge's record is the evidence; hint (a number read from
// the commit message, 0 for none) only adds one more merge request to ask
// about.
//
// It asks which merge requests GitLab associates with the commit
// (GET /projects/:id/repository/commits/:sha/merge_requests) and accepts
// one only when the merge request's state is merged, a merger is recorded
// (merge_user, or merged_by), and commit is its merge_commit_sha (a merge
// commit; merge trains land it too) or its squash_commit_sha, or, when
// GitLab made neither (a fast-forward merge), one of the merge request's
// own commits. An MR GitLab marked merged because its commits were pushed
// to the branch directly records no merger and is refused.
//
// No such merge request fails with forge.ErrNoMergeRecord, naming the
// commit; two fail too.
func (c *Client) MergeEvidence(ctx context.Context, project, commit string, hint int64) (*forge.Evidence, error) {
	if project == "" {
		return nil, fmt.Errorf("project must not be empty")
	}
	if !forge.IsSHA(commit) {
		return nil, fmt.Errorf("merge commit %q is not a commit SHA", commit)
	}
	listed, resp, err := c.api.Commits.ListMergeRequestsByCommit(project, commit, gitlab.WithContext(ctx))
	if err != nil {
		return nil, wrap("listing the merge requests of commit "+forge.Short(commit), resp, err, scopeRead, "Reporter")
	}
	var iids []int64
	for _, m := range listed {
		if m != nil && m.IID > 0 && m.State == stateMerged && !slices.Contains(iids, m.IID) {
			iids = append(iids, m.IID)
		}
	}
	if hint > 0 && !slices.Contains(iids, hint) {
		iids = append(iids, hint)
	}
	var found *gitlab.MergeRequest
	var foundRef string
	var why []string
	for _, iid := range iids {
		mr, ref, err := c.mergeRequest(ctx, project, iid)
		if errors.Is(err, gitlab.ErrNotFound) && iid == hint {
			why = append(why, fmt.Sprintf("!%d (named in the message) does not exist", iid))
			continue
		}
		if err != nil {
			return nil, err
		}
		ok, reason, err := c.landed(ctx, project, mr, ref, commit)
		if err != nil {
			return nil, err
		}
		if !ok {
			why = append(why, fmt.Sprintf("!%d %s", iid, reason))
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("merge requests !%d and !%d of %s both record merge commit %s", found.IID, iid, project, forge.Short(commit))
		}
		found, foundRef = mr, ref
	}
	if found == nil {
		msg := fmt.Sprintf("no merge request on gitlab records merge commit %s", commit)
		if len(why) > 0 {
			msg += " (" + strings.Join(why, "; ") + ")"
		}
		return nil, fmt.Errorf("%w: %s", forge.ErrNoMergeRecord, msg)
	}
	merger := merger(found)
	e, err := c.evidence(ctx, project, found, foundRef)
	if err != nil {
		return nil, err
	}
	e.MergeCommit = commit
	e.Merger = id(merger.ID)
	return e, nil
}

// merger is who merged mr through GitLab, nil when nobody did.
func merger(mr *gitlab.MergeRequest) *gitlab.BasicUser {
	for _, u := range []*gitlab.BasicUser{mr.MergeUser, mr.MergedBy} {
		if u != nil && u.ID > 0 {
			return u
		}
	}
	return nil
}

// landed says whether mr landed commit, and if not, why.
func (c *Client) landed(ctx context.Context, project string, mr *gitlab.MergeRequest, ref, commit string) (bool, string, error) {
	switch {
	case mr.State != stateMerged:
		return false, "is not merged (" + mr.State + ")", nil
	case merger(mr) == nil:
		return false, "records no merger (its commits reached the branch without the merge request)", nil
	case mr.MergeCommitSHA == commit || mr.SquashCommitSHA == commit:
		return true, "", nil
	case mr.MergeCommitSHA != "" || mr.SquashCommitSHA != "":
		return false, "was merged as " + forge.Short(mr.MergeCommitSHA+mr.SquashCommitSHA), nil
	}
	// A fast-forward merge lands the merge request's own commits.
	commits, err := listAll("reading commits of "+ref, func(page int64) ([]*gitlab.Commit, *gitlab.Response, error) {
		opt := &gitlab.GetMergeRequestCommitsOptions{ListOptions: gitlab.ListOptions{Page: page, PerPage: perPage}}
		return c.api.MergeRequests.GetMergeRequestCommits(project, mr.IID, opt, gitlab.WithContext(ctx))
	})
	if err != nil {
		return false, "", err
	}
	for _, cm := range commits {
		if cm != nil && cm.ID == commit {
			return true, "", nil
		}
	}
	return false, "does not contain " + forge.Short(commit), nil
}
