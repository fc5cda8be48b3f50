package gitlab

import (
	"context"
	"fmt"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// OpenMergeRequest is an open merge request as the listing reports it:
// enough to ask for its evidence (Review) and to fetch its head.
type OpenMergeRequest struct {
	IID     int64
	HeadSHA string
	// Target is the branch it proposes to merge into.
	Target string
	// OpenedAt is its created_at (zero when GitLab sent none).
	OpenedAt time.Time
}

// OpenMergeRequests lists the opened merge requests of project into
// target (every target when empty), following pagination (at most
// MaxPages pages; more is ErrTooManyPages, never a truncated list). Drafts
// are left out: nobody is asked to approve a draft.
func (c *Client) OpenMergeRequests(ctx context.Context, project, target string) ([]OpenMergeRequest, error) {
	if project == "" {
		return nil, fmt.Errorf("project must not be empty")
	}
	opt := &gitlab.ListProjectMergeRequestsOptions{State: gitlab.Ptr("opened")}
	if target != "" {
		opt.TargetBranch = gitlab.Ptr(target)
	}
	items, err := listAll("listing the open merge requests of "+project, func(page int64) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
		opt.ListOptions = gitlab.ListOptions{Page: page, PerPage: perPage}
		return c.api.MergeRequests.ListProjectMergeRequests(project, opt, gitlab.WithContext(ctx))
	})
	if err != nil {
		return nil, err
	}
	var out []OpenMergeRequest
	for _, mr := range items {
		if mr == nil || mr.State != "opened" || mr.Draft || mr.IID <= 0 || (target != "" && mr.TargetBranch != target) {
			continue
		}
		o := OpenMergeRequest{IID: mr.IID, HeadSHA: mr.SHA, Target: mr.TargetBranch}
		if mr.CreatedAt != nil {
			o.OpenedAt = mr.CreatedAt.UTC()
		}
		out = append(out, o)
	}
	return out, nil
}
