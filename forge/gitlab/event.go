package gitlab

import (
	"fmt"
	"strconv"

	"github.com/cabhq/cab/forge"
)

// Event is what a GitLab merge request pipeline says about the change it
// checks.
type Event struct {
	// Project is the merge request's (target) project id.
	Project string
	// IID is the merge request's number within the project.
	IID int64
	// HeadSHA is the head of the merge request's source branch: in a
	// merged results pipeline CI_COMMIT_SHA is a merge commit GitLab made,
	// so CI_MERGE_REQUEST_SOURCE_BRANCH_SHA is used when set.
	HeadSHA string
	// BaseSHA is the merge base of the merge request's diff
	// (CI_MERGE_REQUEST_DIFF_BASE_SHA), where the rules are read from.
	BaseSHA string
	// TargetBranch is the branch the merge request merges into.
	TargetBranch string
	// BaseURL is the API root, CI_API_V4_URL (or CI_SERVER_URL), for New.
	BaseURL string
}

// EventFromEnv reads the merge request of a GitLab CI job from its
// predefined variables through getenv (os.Getenv in production). Outside
// a merge request pipeline it fails with ErrNotMergeRequest.
func EventFromEnv(getenv func(string) string) (*Event, error) {
	iidVar := getenv("CI_MERGE_REQUEST_IID")
	if iidVar == "" {
		return nil, fmt.Errorf(`%w: CI_MERGE_REQUEST_IID is not set (run the job in merge request pipelines, e.g. rules: [{if: '$CI_PIPELINE_SOURCE == "merge_request_event"'}])`, ErrNotMergeRequest)
	}
	iid, err := strconv.ParseInt(iidVar, 10, 64)
	if err != nil || iid <= 0 {
		return nil, fmt.Errorf("CI_MERGE_REQUEST_IID %q: want a positive number", iidVar)
	}
	ev := &Event{
		IID:          iid,
		Project:      firstSet(getenv, "CI_MERGE_REQUEST_PROJECT_ID", "CI_PROJECT_ID"),
		HeadSHA:      firstSet(getenv, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "CI_COMMIT_SHA"),
		BaseSHA:      getenv("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
		TargetBranch: getenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
		BaseURL:      firstSet(getenv, "CI_API_V4_URL", "CI_SERVER_URL"),
	}
	switch {
	case ev.Project == "":
		return nil, fmt.Errorf("neither CI_MERGE_REQUEST_PROJECT_ID nor CI_PROJECT_ID is set")
	case !forge.IsSHA(ev.HeadSHA):
		return nil, fmt.Errorf("head commit %q (CI_MERGE_REQUEST_SOURCE_BRANCH_SHA or CI_COMMIT_SHA) is not a commit SHA", ev.HeadSHA)
	case !forge.IsSHA(ev.BaseSHA):
		return nil, fmt.Errorf("CI_MERGE_REQUEST_DIFF_BASE_SHA %q is not a commit SHA", ev.BaseSHA)
	case ev.TargetBranch == "":
		return nil, fmt.Errorf("CI_MERGE_REQUEST_TARGET_BRANCH_NAME is not set")
	case ev.BaseURL == "":
		return nil, fmt.Errorf("neither CI_API_V4_URL nor CI_SERVER_URL is set")
	}
	return ev, nil
}

func firstSet(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}
