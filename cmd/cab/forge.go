package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cabhq/cab/escalate"
	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/forge/github"
	"github.com/cabhq/cab/forge/gitlab"
	"github.com/cabhq/cab/report"
	"github.com/cabhq/cab/validate"
)

// forgeSession is the forge a pull-request check reads approvals from and
// posts its verdict to.
type forgeSession interface {
	// revisions are the base and head the forge says are under check.
	revisions() (base, head string)
	review(ctx context.Context) (*forge.Evidence, error)
	// post sets the commit status and the one comment; extra (the plan,
	// Markdown) is appended to the comment.
	post(ctx context.Context, rep *validate.Report, extra string) error
}

// detectForge resolves --forge auto from the CI environment.
func detectForge(name string, getenv func(string) string) string {
	if name != "auto" {
		return name
	}
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return "github"
	case getenv("GITLAB_CI") == "true":
		return "gitlab"
	default:
		return "none"
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// openForge connects to the named forge ("github" or "gitlab") from the
// CI environment it runs in.
func openForge(name string) (forgeSession, error) {
	switch name {
	case "github":
		ev, err := github.EventFromEnv(os.Getenv, os.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("--forge github: %w", err)
		}
		return &githubSession{ev: ev, client: githubClient()}, nil
	case "gitlab":
		ev, err := gitlab.EventFromEnv(os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("--forge gitlab: %w", err)
		}
		c, err := gitlabClient(ev.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("--forge gitlab: %w", err)
		}
		return &gitlabSession{ev: ev, client: c}, nil
	}
	return nil, fmt.Errorf("--forge %q: not a forge with an API", name)
}

// githubClient talks to the GitHub API of the Actions run (GITHUB_API_URL,
// GITHUB_TOKEN).
func githubClient() *github.Client {
	return github.New(os.Getenv("GITHUB_API_URL"), os.Getenv("GITHUB_TOKEN"), httpClient)
}

// gitlabClient talks to the GitLab API at baseURL with CAB_GITLAB_TOKEN
// (or GITLAB_TOKEN): CI_JOB_TOKEN cannot read approvals.
func gitlabClient(baseURL string) (*gitlab.Client, error) {
	token := os.Getenv("CAB_GITLAB_TOKEN")
	if token == "" {
		token = os.Getenv("GITLAB_TOKEN")
	}
	return gitlab.New(baseURL, token, httpClient)
}

// forgeRepo is the repository on a forge's API that cab sign, cab
// reconcile --post and cab serve --post/--sla-interval talk to, from the
// environment CI sets (a daemon sets the same variables):
//
//	github: GITHUB_REPOSITORY (owner/repo), GITHUB_TOKEN, GITHUB_API_URL
//	gitlab: CI_PROJECT_ID, CAB_GITLAB_TOKEN (or GITLAB_TOKEN), CI_API_V4_URL
type forgeRepo struct {
	github      *github.Client
	owner, name string
	gitlab      *gitlab.Client
	project     string
}

// openForgeRepo connects to the repository of forge name ("github" or
// "gitlab"); flag names the option that chose it, for errors.
func openForgeRepo(flag, name string) (*forgeRepo, error) {
	switch name {
	case "github":
		owner, repo, ok := strings.Cut(os.Getenv("GITHUB_REPOSITORY"), "/")
		if !ok || owner == "" || repo == "" {
			return nil, fmt.Errorf("%s github: GITHUB_REPOSITORY is not owner/repo", flag)
		}
		return &forgeRepo{github: githubClient(), owner: owner, name: repo}, nil
	case "gitlab":
		project := os.Getenv("CI_PROJECT_ID")
		if project == "" {
			return nil, fmt.Errorf("%s gitlab: CI_PROJECT_ID is not set", flag)
		}
		c, err := gitlabClient(os.Getenv("CI_API_V4_URL"))
		if err != nil {
			return nil, fmt.Errorf("%s gitlab: %w", flag, err)
		}
		return &forgeRepo{gitlab: c, project: project}, nil
	}
	return nil, fmt.Errorf("%s %q: not a forge with an API (want github or gitlab)", flag, name)
}

// api is the repository as the SLA poll and the outcome comment use it.
func (r *forgeRepo) api() escalate.Forge {
	if r.github != nil {
		return escalate.GitHub(r.github, r.owner, r.name)
	}
	return escalate.GitLab(r.gitlab, r.project)
}

type githubSession struct {
	ev     *github.Event
	client *github.Client
}

func (s *githubSession) revisions() (string, string) { return s.ev.BaseSHA, s.ev.HeadSHA }

func (s *githubSession) review(ctx context.Context) (*forge.Evidence, error) {
	e, err := s.client.EventEvidence(ctx, s.ev, os.Getenv("GITHUB_REF"))
	if err != nil {
		return nil, fmt.Errorf("--forge github: %w", err)
	}
	return e, nil
}

func (s *githubSession) post(ctx context.Context, rep *validate.Report, extra string) error {
	state, desc := verdict(rep)
	if err := s.client.SetStatus(ctx, s.ev.Owner, s.ev.Repo, s.ev.HeadSHA, state, desc, runURL()); err != nil {
		return err
	}
	if s.ev.Number == 0 {
		return nil
	}
	return s.client.UpsertComment(ctx, s.ev.Owner, s.ev.Repo, s.ev.Number, report.Marker, withExtra(report.MarkdownLimit(checkOf(rep), report.GitHubCommentLimit-len(extra)), extra, report.GitHubCommentLimit))
}

func runURL() string {
	if os.Getenv("GITHUB_RUN_ID") == "" {
		return ""
	}
	return os.Getenv("GITHUB_SERVER_URL") + "/" + os.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + os.Getenv("GITHUB_RUN_ID")
}

type gitlabSession struct {
	ev     *gitlab.Event
	client *gitlab.Client
}

func (s *gitlabSession) revisions() (string, string) { return s.ev.BaseSHA, s.ev.HeadSHA }

func (s *gitlabSession) review(ctx context.Context) (*forge.Evidence, error) {
	return s.client.Review(ctx, s.ev.Project, s.ev.IID, s.ev.HeadSHA)
}

func (s *gitlabSession) post(ctx context.Context, rep *validate.Report, extra string) error {
	state, desc := verdict(rep)
	if state == "failure" {
		state = "failed"
	}
	if err := s.client.SetCommitStatus(ctx, s.ev.Project, s.ev.HeadSHA, state, desc, os.Getenv("CI_PIPELINE_URL")); err != nil {
		return err
	}
	return s.client.UpsertNote(ctx, s.ev.Project, s.ev.IID, report.Marker, report.Markdown(checkOf(rep))+extra)
}

// verdict is the commit status of a report.
func verdict(rep *validate.Report) (state, description string) {
	warnings := len(rep.Diagnostics) - rep.Errors()
	if rep.Errors() > 0 {
		return "failure", fmt.Sprintf("%d error(s), %d warning(s) in %d ticket(s)", rep.Errors(), warnings, len(rep.Tickets))
	}
	return "success", fmt.Sprintf("%d ticket(s) pass, %d warning(s)", len(rep.Tickets), warnings)
}

// withExtra appends extra to a comment when both fit in limit bytes.
func withExtra(comment, extra string, limit int) string {
	if len(comment)+len(extra) > limit {
		return comment
	}
	return comment + extra
}
