package gitlab

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/cabhq/cab/forge"
)

// System note bodies GitLab writes (SystemNotes::MergeRequestsService and
// SystemNotes::CommitService). Users cannot write system notes.
const approvedNote = "approved this merge request"

// addedCommitsNote matches the note GitLab writes, as the pushing user,
// when a push adds commits to a merge request: "added 3 commits\n\n<ul>…".
var addedCommitsNote = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^added [0-9]+ commits?(\n|$)`) })

// Review collects the review evidence of merge request iid of project
// (a numeric id or a "group/project" path). A non-empty headSHA is the
// commit the check ran on: when the merge request's head is another
// commit, Review fails with ErrHeadMoved.
//
// GitLab approvals carry no commit, so each approval is reported with the
// head of the diff version that was newest when its user's latest
// "approved this merge request" note was written: an approval from before
// the last push that GitLab kept (when the project does not reset
// approvals on push) approves the earlier head, and forge.Evidence.Review
// does not count it.
func (c *Client) Review(ctx context.Context, project string, iid int64, headSHA string) (*forge.Evidence, error) {
	mr, ref, err := c.mergeRequest(ctx, project, iid)
	if err != nil {
		return nil, err
	}
	if headSHA != "" && headSHA != mr.SHA {
		return nil, fmt.Errorf("merge request %s: checked %s, head is now %s: %w", ref, headSHA, mr.SHA, ErrHeadMoved)
	}
	return c.evidence(ctx, project, mr, ref)
}

// mergeRequest reads merge request iid and checks it has a head and an
// author.
func (c *Client) mergeRequest(ctx context.Context, project string, iid int64) (*gitlab.MergeRequest, string, error) {
	if project == "" {
		return nil, "", fmt.Errorf("project must not be empty")
	}
	if iid <= 0 {
		return nil, "", fmt.Errorf("merge request iid %d: must be positive", iid)
	}
	ref := project + "!" + strconv.FormatInt(iid, 10)
	mr, resp, err := c.api.MergeRequests.GetMergeRequest(project, iid, nil, gitlab.WithContext(ctx))
	if err != nil {
		return nil, "", wrap("reading merge request "+ref, resp, err, scopeRead, "Reporter")
	}
	if mr.SHA == "" {
		return nil, "", fmt.Errorf("merge request %s has no head commit", ref)
	}
	if mr.Author == nil || mr.Author.ID <= 0 {
		return nil, "", fmt.Errorf("merge request %s has no author account", ref)
	}
	return mr, ref, nil
}

// evidence reads the approvals, diff versions and notes of mr.
func (c *Client) evidence(ctx context.Context, project string, mr *gitlab.MergeRequest, ref string) (*forge.Evidence, error) {
	iid, head := mr.IID, mr.SHA
	withCtx := gitlab.WithContext(ctx)
	appr, resp, err := c.api.MergeRequestApprovals.GetConfiguration(project, iid, withCtx)
	if err != nil {
		return nil, wrap("reading approvals of "+ref, resp, err, scopeRead, "Reporter")
	}
	versions, err := listAll("reading diff versions of "+ref, func(page int64) ([]*gitlab.MergeRequestDiffVersion, *gitlab.Response, error) {
		opt := &gitlab.GetMergeRequestDiffVersionsOptions{ListOptions: gitlab.ListOptions{Page: page, PerPage: perPage}}
		return c.api.MergeRequests.GetMergeRequestDiffVersions(project, iid, opt, withCtx)
	})
	if err != nil {
		return nil, err
	}
	notes, err := c.notes(ctx, project, iid, ref)
	if err != nil {
		return nil, err
	}
	if _, err := headPushedAt(versions, head, ref); err != nil {
		return nil, err
	}
	lastApproval := map[int64]time.Time{}
	pushers := map[int64]bool{mr.Author.ID: true}
	for _, n := range notes {
		if !n.System || n.Author.ID <= 0 || n.CreatedAt == nil {
			continue
		}
		body := strings.TrimSpace(n.Body)
		switch {
		case body == approvedNote:
			if t, ok := lastApproval[n.Author.ID]; !ok || n.CreatedAt.After(t) {
				lastApproval[n.Author.ID] = *n.CreatedAt
			}
		case addedCommitsNote().MatchString(body):
			pushers[n.Author.ID] = true
		}
	}

	e := &forge.Evidence{
		Forge:     "gitlab",
		Number:    mr.IID,
		URL:       mr.WebURL,
		Author:    id(mr.Author.ID),
		Pushers:   forge.Identities("gitlab", pushers),
		Approvals: []forge.Approval{},
		Labels:    append([]string{}, mr.Labels...),
		HeadSHA:   head,
	}
	if mr.CreatedAt != nil {
		e.OpenedAt = *mr.CreatedAt
	}
	for _, a := range appr.ApprovedBy {
		if a == nil || a.User == nil || a.User.ID <= 0 {
			continue
		}
		at, ok := lastApproval[a.User.ID]
		if !ok {
			continue // no record of when, so of which head
		}
		e.Approvals = append(e.Approvals, forge.Approval{
			ID:     id(a.User.ID),
			Login:  a.User.Username,
			At:     at.UTC().Format(time.RFC3339),
			Commit: headAt(versions, at),
		})
	}
	slices.SortFunc(e.Approvals, func(a, b forge.Approval) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.ID, b.ID))
	})
	slices.Sort(e.Labels)
	return e, nil
}

// headAt is the head of the newest diff version created at or before t:
// the commit a user approving at t was shown ("" before any version).
func headAt(versions []*gitlab.MergeRequestDiffVersion, t time.Time) string {
	var at *gitlab.MergeRequestDiffVersion
	for _, v := range versions {
		if v == nil || v.CreatedAt == nil || v.CreatedAt.After(t) {
			continue
		}
		if at == nil || v.ID > at.ID {
			at = v
		}
	}
	if at == nil {
		return ""
	}
	return at.HeadCommitSHA
}

// headPushedAt is when GitLab recorded head as the merge request's diff:
// the creation time of the newest diff version, which must be of head.
func headPushedAt(versions []*gitlab.MergeRequestDiffVersion, head, ref string) (time.Time, error) {
	var newest *gitlab.MergeRequestDiffVersion
	for _, v := range versions {
		if v != nil && (newest == nil || v.ID > newest.ID) {
			newest = v
		}
	}
	if newest == nil {
		return time.Time{}, fmt.Errorf("merge request %s has no diff version yet: %w", ref, ErrHeadMoved)
	}
	if newest.HeadCommitSHA != head {
		return time.Time{}, fmt.Errorf("merge request %s: newest diff version is of %s, head is %s (GitLab is still processing the push): %w", ref, newest.HeadCommitSHA, head, ErrHeadMoved)
	}
	if newest.CreatedAt == nil {
		return time.Time{}, fmt.Errorf("merge request %s: diff version %d has no creation time", ref, newest.ID)
	}
	return *newest.CreatedAt, nil
}

// notes lists every note of the merge request, system notes included.
func (c *Client) notes(ctx context.Context, project string, iid int64, ref string) ([]*gitlab.Note, error) {
	orderBy, sort := "created_at", "asc"
	return listAll("reading notes of "+ref, func(page int64) ([]*gitlab.Note, *gitlab.Response, error) {
		opt := &gitlab.ListMergeRequestNotesOptions{
			ListOptions: gitlab.ListOptions{Page: page, PerPage: perPage},
			OrderBy:     &orderBy,
			Sort:        &sort,
		}
		return c.api.Notes.ListMergeRequestNotes(project, iid, opt, gitlab.WithContext(ctx))
	})
}

// listAll follows offset pagination (X-Next-Page) for at most MaxPages
// pages.
func listAll[T any](op string, fetch func(page int64) ([]T, *gitlab.Response, error)) ([]T, error) {
	var all []T
	page := int64(1)
	for range MaxPages {
		items, resp, err := fetch(page)
		if err != nil {
			return nil, wrap(op, resp, err, scopeRead, "Reporter")
		}
		all = append(all, items...)
		if resp == nil || resp.NextPage == 0 {
			return all, nil
		}
		if resp.NextPage <= page {
			return nil, fmt.Errorf("%s: next page %d after page %d", op, resp.NextPage, page)
		}
		page = resp.NextPage
	}
	return nil, fmt.Errorf("%s: %w (%d pages of %d)", op, ErrTooManyPages, MaxPages, perPage)
}

// id is the stable identity of a GitLab user.
func id(n int64) string { return forge.Identity("gitlab", n) }
