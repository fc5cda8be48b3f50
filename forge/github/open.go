package github

import (
	"context"
	"fmt"
	"time"
)

// OpenPull is an open pull request as the listing reports it: enough to
// ask for its evidence (Review) and to fetch its head.
type OpenPull struct {
	Number  int
	HeadSHA string
	// Base is the branch it proposes to merge into.
	Base string
	// OpenedAt is its created_at.
	OpenedAt time.Time
}

// openPull is one element of GET /repos/{o}/{r}/pulls?state=open.
type openPull struct {
	Number    int       `json:"number"`
	State     string    `json:"state"`
	Draft     bool      `json:"draft"`
	CreatedAt time.Time `json:"created_at"`
	Head      struct {
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

// OpenPulls lists the open pull requests of owner/repo into base (every
// base when empty), following pagination (at most MaxPages pages; more is
// ErrTooManyPages, never a truncated list). Drafts are left out: nobody is
// asked to approve a draft.
func (c *Client) OpenPulls(ctx context.Context, owner, repo, base string) ([]OpenPull, error) {
	rp, err := repoPath(owner, repo)
	if err != nil {
		return nil, err
	}
	items, err := listAll[openPull](ctx, c, rp+"/pulls?state=open", permReadPulls)
	if err != nil {
		return nil, fmt.Errorf("listing the open pull requests of %s/%s: %w", owner, repo, err)
	}
	var out []OpenPull
	for _, p := range items {
		if p.State != "open" || p.Draft || p.Number <= 0 || (base != "" && p.Base.Ref != base) {
			continue
		}
		out = append(out, OpenPull{Number: p.Number, HeadSHA: p.Head.SHA, Base: p.Base.Ref, OpenedAt: p.CreatedAt})
	}
	return out, nil
}
