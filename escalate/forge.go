package escalate

import (
	"context"
	"fmt"
	"time"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/forge/github"
	"github.com/cabhq/cab/forge/gitlab"
)

// Pull is an open pull (or merge) request.
type Pull struct {
	Number  int64
	HeadSHA string
	// OpenedAt is when it was opened (the forge's created_at).
	OpenedAt time.Time
}

// Forge is a forge's API as the SLA poll and the outcome comment use it.
type Forge interface {
	// Name is "github" or "gitlab".
	Name() string
	// Open lists the open pull requests into base that are not drafts.
	Open(ctx context.Context, base string) ([]Pull, error)
	// HeadRef is the ref under which the forge's git server keeps the
	// head of pull request n.
	HeadRef(n int64) string
	// Review is the review evidence of pull request n at head.
	Review(ctx context.Context, n int64, head string) (*forge.Evidence, error)
	// Comment keeps the one comment on pull request n that contains
	// marker: created once, then edited in place.
	Comment(ctx context.Context, n int64, marker, body string) error
}

// GitHub is owner/repo on GitHub through c.
func GitHub(c *github.Client, owner, repo string) Forge {
	return githubForge{c: c, owner: owner, repo: repo}
}

type githubForge struct {
	c           *github.Client
	owner, repo string
}

var _ Forge = githubForge{}

func (g githubForge) Name() string { return "github" }

func (g githubForge) Open(ctx context.Context, base string) ([]Pull, error) {
	pulls, err := g.c.OpenPulls(ctx, g.owner, g.repo, base)
	if err != nil {
		return nil, err
	}
	out := make([]Pull, 0, len(pulls))
	for _, p := range pulls {
		out = append(out, Pull{Number: int64(p.Number), HeadSHA: p.HeadSHA, OpenedAt: p.OpenedAt})
	}
	return out, nil
}

func (g githubForge) HeadRef(n int64) string { return fmt.Sprintf("refs/pull/%d/head", n) }

func (g githubForge) Review(ctx context.Context, n int64, head string) (*forge.Evidence, error) {
	return g.c.Review(ctx, g.owner, g.repo, int(n), head)
}

func (g githubForge) Comment(ctx context.Context, n int64, marker, body string) error {
	return g.c.UpsertComment(ctx, g.owner, g.repo, int(n), marker, body)
}

// GitLab is project on GitLab through c.
func GitLab(c *gitlab.Client, project string) Forge {
	return gitlabForge{c: c, project: project}
}

type gitlabForge struct {
	c       *gitlab.Client
	project string
}

var _ Forge = gitlabForge{}

func (g gitlabForge) Name() string { return "gitlab" }

func (g gitlabForge) Open(ctx context.Context, base string) ([]Pull, error) {
	mrs, err := g.c.OpenMergeRequests(ctx, g.project, base)
	if err != nil {
		return nil, err
	}
	out := make([]Pull, 0, len(mrs))
	for _, m := range mrs {
		out = append(out, Pull{Number: m.IID, HeadSHA: m.HeadSHA, OpenedAt: m.OpenedAt})
	}
	return out, nil
}

func (g gitlabForge) HeadRef(n int64) string { return fmt.Sprintf("refs/merge-requests/%d/head", n) }

func (g gitlabForge) Review(ctx context.Context, n int64, head string) (*forge.Evidence, error) {
	return g.c.Review(ctx, g.project, n, head)
}

func (g gitlabForge) Comment(ctx context.Context, n int64, marker, body string) error {
	return g.c.UpsertNote(ctx, g.project, n, marker, body)
}
