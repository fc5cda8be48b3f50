package escalate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	gogit "github.com/go-git/go-git/v5"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/schema/load"
	"github.com/cabhq/cab/validate"
)

// PostReviewEventID is the id of the kind (notify.KindPostReviewDue or
// notify.KindPostReviewOverdue) notification of ticket's post-incident
// review.
func PostReviewEventID(kind, ticket string) string { return kind + "/" + ticket }

// PostReviewOptions configure PostReviews.
type PostReviewOptions struct {
	// Dir, Rev, LedgerBranch and Remote say where main and the ledger are
	// read (audit.LogOptions); cab.cue's emergency.postReviewDays is read
	// at Rev.
	Dir, Rev, LedgerBranch, Remote string
	Notifier                       *notify.Notifier
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// PostReviews notifies the post-incident review each signed emergency
// change owes (validate.PostReviewOf) and no ticket records yet: once
// post-review-due while it is not late (with its due time), once
// post-review-overdue when it is. A review first seen late is told
// overdue only. It returns how many were newly notified.
func PostReviews(ctx context.Context, o PostReviewOptions) (int, error) {
	if o.Notifier == nil {
		return 0, errors.New("post-review notifications: no notifier")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	var rows []*audit.Change
	reviewed := map[string]bool{}
	_, err := audit.Log(ctx, audit.LogOptions{Dir: o.Dir, Rev: o.Rev, LedgerBranch: o.LedgerBranch, Remote: o.Remote},
		func(c *audit.Change) error {
			if c.PostReviewOf != "" {
				reviewed[c.PostReviewOf] = true
			}
			if c.Kind == "emergency" && c.Signature == "signed" {
				rows = append(rows, c)
			}
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("post-review notifications: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil // no emergency: cab.cue need not be read
	}
	days, err := postReviewDays(o)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, c := range rows {
		pr, ok := validate.PostReviewOf(c.ID, c.Kind, c.SignedAt, days, func(id string) bool { return reviewed[id] })
		if !ok || pr.Done {
			continue
		}
		ev := notify.Event{Kind: notify.KindPostReviewDue, Ticket: c.ID, Service: c.Service, Risk: c.Risk, PR: c.PR, At: now,
			Reason: fmt.Sprintf("the post-incident review of emergency change %s is due by %s: merge a ticket with postReviewOf: %q", c.ID, pr.Due.UTC().Format(time.RFC3339), c.ID)}
		if pr.Overdue(now) {
			ev.Kind = notify.KindPostReviewOverdue
			ev.Reason = fmt.Sprintf("the post-incident review of emergency change %s was due by %s and no ticket records it: merge a ticket with postReviewOf: %q (until then its author's new tickets are refused)", c.ID, pr.Due.UTC().Format(time.RFC3339), c.ID)
		}
		ev.ID = PostReviewEventID(ev.Kind, c.ID)
		if o.Notifier.Notify(ev) {
			sent++
		}
	}
	return sent, nil
}

// postReviewDays reads emergency.postReviewDays of cab.cue at o.Rev.
func postReviewDays(o PostReviewOptions) (int, error) {
	repo, err := gogit.PlainOpenWithOptions(cmp.Or(o.Dir, "."), &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return 0, fmt.Errorf("opening the checkout: %w", err)
	}
	cfg, err := load.New().ConfigAt(repo, cmp.Or(o.Rev, "HEAD"))
	if errors.Is(err, load.ErrNoConfig) {
		return validate.DefaultPostReviewDays, nil
	}
	if err != nil {
		return 0, fmt.Errorf("post-review notifications: %w", err)
	}
	return validate.PostReviewDays(&cfg.Config), nil
}
