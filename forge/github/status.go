package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cabhq/cab/forge"
)

// StatusContext names cab's commit status; make it a required check in
// the branch protection rules.
const StatusContext = "cab/check"

// maxDescription is GitHub's limit on a commit status description.
const maxDescription = 140

// maxCommentBody is GitHub's limit on a comment body, in characters.
const maxCommentBody = 65536

// States a commit status can take.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// SetStatus sets the StatusContext commit status of sha to state (one of
// StatePending, StateSuccess, StateFailure, StateError), with a
// description cut to 140 characters and an optional link to the details.
// The token needs `statuses: write`.
func (c *Client) SetStatus(ctx context.Context, owner, repo, sha, state, description, targetURL string) error {
	rp, err := repoPath(owner, repo)
	if err != nil {
		return err
	}
	switch state {
	case StatePending, StateSuccess, StateFailure, StateError:
	default:
		return fmt.Errorf("commit status state %q: must be pending, success, failure or error", state)
	}
	if !forge.IsSHA(sha) {
		return fmt.Errorf("commit status: %q is not a commit SHA", sha)
	}
	body := struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url,omitempty"`
		Description string `json:"description,omitempty"`
		Context     string `json:"context"`
	}{state, targetURL, forge.Truncate(description, maxDescription), StatusContext}
	if _, err := c.request(ctx, http.MethodPost, c.BaseURL+rp+"/statuses/"+sha, permWriteStatuses, body, nil); err != nil {
		return fmt.Errorf("setting commit status of %s: %w", sha, err)
	}
	return nil
}

// issueComment is one element of GET /repos/{o}/{r}/issues/{n}/comments.
type issueComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

// UpsertComment keeps one comment on pull request number whose body
// contains marker (e.g. "<!-- cab:check -->"): the first comment that
// contains it is edited to body, and a comment is created only when none
// does, so re-runs never add a second one. body must contain marker, or
// the next run could not find it. The token needs `pull-requests: write`.
func (c *Client) UpsertComment(ctx context.Context, owner, repo string, number int, marker, body string) error {
	rp, err := repoPath(owner, repo)
	if err != nil {
		return err
	}
	if number <= 0 {
		return fmt.Errorf("pull request number %d: must be positive", number)
	}
	if marker == "" || !strings.Contains(body, marker) {
		return errors.New("comment body must contain a non-empty marker")
	}
	if n := utf8.RuneCountInString(body); n > maxCommentBody {
		return fmt.Errorf("comment body has %d characters, GitHub accepts %d", n, maxCommentBody)
	}
	ip := rp + "/issues/" + strconv.Itoa(number) + "/comments"
	comments, err := listAll[issueComment](ctx, c, ip, permReadPulls)
	if err != nil {
		return fmt.Errorf("listing comments of %s/%s#%d: %w", owner, repo, number, err)
	}
	in := struct {
		Body string `json:"body"`
	}{body}
	for _, cm := range comments {
		if !strings.Contains(cm.Body, marker) {
			continue
		}
		if cm.Body == body {
			return nil
		}
		u := c.BaseURL + rp + "/issues/comments/" + strconv.FormatInt(cm.ID, 10)
		if _, err := c.request(ctx, http.MethodPatch, u, permWriteComments, in, nil); err != nil {
			return fmt.Errorf("updating comment %d on %s/%s#%d: %w", cm.ID, owner, repo, number, err)
		}
		return nil
	}
	if _, err := c.request(ctx, http.MethodPost, c.BaseURL+ip, permWriteComments, in, nil); err != nil {
		return fmt.Errorf("commenting on %s/%s#%d: %w", owner, repo, number, err)
	}
	return nil
}
