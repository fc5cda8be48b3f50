package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/cabhq/cab/forge"
)

// StatusName names cab's commit status; make the pipeline, or an external
// status check, require it.
const StatusName = "cab/check"

// maxDescription keeps the status description to one line, the same
// length GitHub allows, so one summary fits both forges.
const maxDescription = 140

// States a commit status can be set to.
const (
	StatePending  = "pending"
	StateRunning  = "running"
	StateSuccess  = "success"
	StateFailed   = "failed"
	StateCanceled = "canceled"
	StateSkipped  = "skipped"
)

// SetCommitStatus sets the StatusName commit status of sha in project to
// state (StatePending, StateRunning, StateSuccess, StateFailed,
// StateCanceled or StateSkipped), with a description cut to 140
// characters and an optional link to the details. The token needs scope
// api and the Developer role.
func (c *Client) SetCommitStatus(ctx context.Context, project, sha, state, description, targetURL string) error {
	if project == "" {
		return errors.New("project must not be empty")
	}
	switch state {
	case StatePending, StateRunning, StateSuccess, StateFailed, StateCanceled, StateSkipped:
	default:
		return fmt.Errorf("commit status state %q: must be pending, running, success, failed, canceled or skipped", state)
	}
	if !forge.IsSHA(sha) {
		return fmt.Errorf("commit status: %q is not a commit SHA", sha)
	}
	name := StatusName
	opt := &gitlab.SetCommitStatusOptions{State: gitlab.BuildStateValue(state), Name: &name}
	if description != "" {
		d := forge.Truncate(description, maxDescription)
		opt.Description = &d
	}
	if targetURL != "" {
		opt.TargetURL = &targetURL
	}
	_, resp, err := c.api.Commits.SetCommitStatus(project, sha, opt, gitlab.WithContext(ctx))
	if err != nil {
		return wrap("setting commit status of "+sha+" in "+project, resp, err, scopeWrite, "Developer")
	}
	return nil
}

// UpsertNote keeps one note on merge request iid whose body contains
// marker (e.g. "<!-- cab:check -->"): the first such note that is not a
// system note is updated to body, and a note is created only when none
// exists, so re-runs never add a second one. body must contain marker.
// The token needs scope api.
func (c *Client) UpsertNote(ctx context.Context, project string, iid int64, marker, body string) error {
	if project == "" {
		return errors.New("project must not be empty")
	}
	if iid <= 0 {
		return fmt.Errorf("merge request iid %d: must be positive", iid)
	}
	if marker == "" || !strings.Contains(body, marker) {
		return errors.New("note body must contain a non-empty marker")
	}
	ref := project + "!" + strconv.FormatInt(iid, 10)
	notes, err := c.notes(ctx, project, iid, ref)
	if err != nil {
		return err
	}
	withCtx := gitlab.WithContext(ctx)
	for _, n := range notes {
		if n.System || !strings.Contains(n.Body, marker) {
			continue
		}
		if n.Body == body {
			return nil
		}
		_, resp, err := c.api.Notes.UpdateMergeRequestNote(project, iid, n.ID, &gitlab.UpdateMergeRequestNoteOptions{Body: &body}, withCtx)
		if err != nil {
			return wrap(fmt.Sprintf("updating note %d on %s", n.ID, ref), resp, err, scopeWrite, "Reporter")
		}
		return nil
	}
	_, resp, err := c.api.Notes.CreateMergeRequestNote(project, iid, &gitlab.CreateMergeRequestNoteOptions{Body: &body}, withCtx)
	if err != nil {
		return wrap("commenting on "+ref, resp, err, scopeWrite, "Reporter")
	}
	return nil
}
