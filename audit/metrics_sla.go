package audit

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/schema/load"

	"github.com/cabhq/cab/model"
)

// SLAResolver returns the approval SLA that applied to a merged change,
// and false when none did.
type SLAResolver func(ch *Change) (model.SLA, bool)

// approvalSLA counts M8 for ch into the row of its merge (period of
// MergedAt). Definition: a merged change is measured when cab.cue sets an
// approval SLA for its service and risk and both its OpenedAt (the author
// time of the earliest commit the merge brought in: a proxy for when the
// pull request was opened, never later than it) and its ApprovedAt (the
// last counted approval, when approvals became enough) are known; it
// breached when ApprovedAt − OpenedAt is longer than the SLA's wait.
// Because OpenedAt can only be earlier than the real opening, M8 may
// overcount a change whose commits were written long before the pull
// request, never undercount.
func (c *metricsComputer) approvalSLA(a *metricsAcc, ch *Change) {
	if c.o.SLA == nil || ch.OpenedAt.IsZero() || ch.ApprovedAt.IsZero() || ch.ApprovedAt.Before(ch.OpenedAt) {
		return
	}
	sla, ok := c.o.SLA(ch)
	if !ok {
		return
	}
	a.row.SLAMeasured++
	if ch.ApprovedAt.Sub(ch.OpenedAt) > sla.Wait {
		a.row.SLABreaches++
	}
}

// SLAsAtMerges returns the SLA resolver of the repository in dir: each
// change's SLA is the one the cab.cue of its merge commit's first parent
// sets (the base the pull-request gate judged it against) for its service
// and risk. Each distinct cab.cue is decoded once.
func SLAsAtMerges(ctx context.Context, dir string) (SLAResolver, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	l := load.New()
	return func(ch *Change) (model.SLA, bool) {
		if ctx.Err() != nil || ch.MergeCommit == "" {
			return model.SLA{}, false
		}
		cfg := configAtBase(repo, l, ch.MergeCommit)
		if cfg == nil {
			return model.SLA{}, false
		}
		return cfg.SLAFor(ch.Service, ch.Risk)
	}, nil
}

// configAtBase is the valid cab.cue of merge's first parent, each
// distinct one compiled once by l; nil when there is none. A commit cab
// cannot read, or a cab.cue that is refused or invalid, sets no SLA: the
// change is then not measured (the gate reported the invalid cab.cue
// when it was proposed).
func configAtBase(repo *git.Repository, l *load.Loader, merge string) *model.Config {
	cm, err := repo.CommitObject(plumbing.NewHash(merge))
	if err != nil || cm.NumParents() == 0 {
		return nil
	}
	cfg, err := l.ConfigAtCommit(repo, cm.ParentHashes[0], "")
	if err != nil {
		return nil
	}
	return &cfg.Config
}

// slaBreachRate is M8 as a ratio of the measured changes.
func (r *MetricsRow) slaBreachRate() {
	r.SLABreachRate = metricsRatio(r.SLABreaches, r.SLAMeasured)
}
