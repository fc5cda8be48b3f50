package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cabhq/cab/forge"
)

// Event names GitHub Actions workflows run cab check on.
const (
	EventPullRequest       = "pull_request"
	EventPullRequestTarget = "pull_request_target"
	EventPullRequestReview = "pull_request_review"
	EventMergeGroup        = "merge_group"
)

// ErrUnsupportedEvent reports a workflow event cab cannot check.
var ErrUnsupportedEvent = errors.New("unsupported GitHub event")

// Event is what a workflow run says about the change it checks.
type Event struct {
	// Name is GITHUB_EVENT_NAME.
	Name  string
	Owner string
	Repo  string
	// Number is the pull request's number, 0 for a merge group.
	Number int
	// HeadSHA is the commit under check: the pull request's head, not
	// GITHUB_SHA (a merge commit GitHub makes for the run), or the merge
	// group's commit.
	HeadSHA string
	// BaseSHA is the base commit the rules are read from.
	BaseSHA string
	// BaseRef is the branch the change merges into, without "refs/heads/".
	BaseRef string
}

// payload is the part of the file at GITHUB_EVENT_PATH that cab reads.
type payload struct {
	PullRequest *struct {
		Number int `json:"number"`
		Head   struct {
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			SHA string `json:"sha"`
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
	MergeGroup *struct {
		HeadSHA string `json:"head_sha"`
		BaseSHA string `json:"base_sha"`
		BaseRef string `json:"base_ref"`
	} `json:"merge_group"`
}

// EventFromEnv reads the event of a GitHub Actions run from
// GITHUB_EVENT_NAME, GITHUB_REPOSITORY and the payload at
// GITHUB_EVENT_PATH, through getenv and readFile (os.Getenv and
// os.ReadFile in production). It supports pull_request,
// pull_request_target, pull_request_review and merge_group events; any
// other fails with ErrUnsupportedEvent.
func EventFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) (*Event, error) {
	name := getenv("GITHUB_EVENT_NAME")
	switch name {
	case EventPullRequest, EventPullRequestTarget, EventPullRequestReview, EventMergeGroup:
	case "":
		return nil, fmt.Errorf("GITHUB_EVENT_NAME is not set: not a GitHub Actions run")
	default:
		return nil, fmt.Errorf("%w %q: run cab check on pull_request, pull_request_target, pull_request_review or merge_group", ErrUnsupportedEvent, name)
	}
	owner, repo, ok := strings.Cut(getenv("GITHUB_REPOSITORY"), "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("GITHUB_REPOSITORY %q: want owner/repository", getenv("GITHUB_REPOSITORY"))
	}
	path := getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return nil, errors.New("GITHUB_EVENT_PATH is not set")
	}
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading event payload: %w", err)
	}
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parsing event payload %s: %w", path, err)
	}
	ev := &Event{Name: name, Owner: owner, Repo: repo}
	if name == EventMergeGroup {
		if p.MergeGroup == nil {
			return nil, fmt.Errorf("%s payload %s has no merge_group", name, path)
		}
		ev.HeadSHA = p.MergeGroup.HeadSHA
		ev.BaseSHA = p.MergeGroup.BaseSHA
		ev.BaseRef = strings.TrimPrefix(p.MergeGroup.BaseRef, "refs/heads/")
	} else {
		if p.PullRequest == nil {
			return nil, fmt.Errorf("%s payload %s has no pull_request", name, path)
		}
		if p.PullRequest.Number <= 0 {
			return nil, fmt.Errorf("%s payload %s: pull request number %d", name, path, p.PullRequest.Number)
		}
		ev.Number = p.PullRequest.Number
		ev.HeadSHA = p.PullRequest.Head.SHA
		ev.BaseSHA = p.PullRequest.Base.SHA
		ev.BaseRef = strings.TrimPrefix(p.PullRequest.Base.Ref, "refs/heads/")
	}
	if !forge.IsSHA(ev.HeadSHA) {
		return nil, fmt.Errorf("%s payload %s: head SHA %q is not a commit SHA", name, path, ev.HeadSHA)
	}
	if !forge.IsSHA(ev.BaseSHA) {
		return nil, fmt.Errorf("%s payload %s: base SHA %q is not a commit SHA", name, path, ev.BaseSHA)
	}
	if ev.BaseRef == "" {
		return nil, fmt.Errorf("%s payload %s: no base ref", name, path)
	}
	return ev, nil
}
