package validate

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
)

// DefaultPostReviewDays is when an emergency's post-incident review is due
// unless cab.cue says otherwise (emergency: postReviewDays).
const DefaultPostReviewDays = 5

// PostReview is the post-incident review an emergency change owes: the
// one rule for when it is due and whether it is done, which cab check
// (a new ticket by the author of an overdue one is refused), the web
// UI's overview and cab serve's post-review notifications all follow.
type PostReview struct {
	// Ticket is the emergency change.
	Ticket string
	// Due is when the review is due: days after the change was signed.
	Due time.Time
	// Done is whether a ticket records the review (postReviewOf names it).
	Done bool
}

// PostReviewOf returns the post-incident review ticket owes, and false
// when it owes none: only a signed (signedAt not zero) emergency change
// does. reviewed reports whether a ticket names ticket in postReviewOf;
// days is cab.cue's emergency.postReviewDays (PostReviewDays).
func PostReviewOf(ticket, kind string, signedAt time.Time, days int, reviewed func(id string) bool) (PostReview, bool) {
	if kind != "emergency" || signedAt.IsZero() {
		return PostReview{}, false
	}
	return PostReview{Ticket: ticket, Due: signedAt.AddDate(0, 0, days), Done: reviewed(ticket)}, true
}

// Overdue reports whether the review is late at now: owed (a due time),
// not done, and past its due time.
func (p PostReview) Overdue(now time.Time) bool {
	return !p.Done && !p.Due.IsZero() && now.After(p.Due)
}

// ledgerRefs are where a checkout may hold the ledger: the branch itself,
// or its remote-tracking ref in a CI clone.
var ledgerRefs = []plumbing.ReferenceName{
	plumbing.NewBranchReferenceName(ledger.DefaultBranch),
	plumbing.NewRemoteReferenceName("origin", ledger.DefaultBranch),
}

// overdueReviews lists the emergency tickets author merged (as the ledger's
// signatures record) whose post-incident review is overdue at now: no
// ticket on head names them in postReviewOf, and more than days have
// passed since they were signed. Without a ledger in the checkout there is
// nothing to enforce yet.
func overdueReviews(repo *git.Repository, head *object.Tree, author string, days int, now time.Time, session *Session) ([]PostReview, error) {
	if author == "" {
		return nil, nil
	}
	var signed []signedRecord
	found := false
	for _, ref := range ledgerRefs {
		r, err := repo.Reference(ref, true)
		if err != nil {
			continue
		}
		if signed, err = session.signedBy(r.Hash(), author); err != nil {
			return nil, fmt.Errorf("reading the ledger at %s: %w", ref, err)
		}
		found = true
		break
	}
	if !found {
		return nil, nil
	}
	var out []PostReview
	scanned := map[string]bool{}   // service directories read
	emergency := map[string]bool{} // emergency ticket ids on head
	reviewed := map[string]bool{}  // emergency ids a ticket reviews
	for _, rec := range signed {
		// Reviews are filed in the service of the emergency they review.
		if svc := path.Base(path.Dir(rec.path)); !scanned[svc] {
			scanned[svc] = true
			sums, err := serviceSummaries(repo, head, svc, session)
			if err != nil {
				return nil, err
			}
			for _, s := range sums {
				if s.Kind == "emergency" {
					emergency[s.ID] = true
				}
				if s.PostReviewOf != "" {
					reviewed[s.PostReviewOf] = true
				}
			}
		}
		kind := ""
		if emergency[rec.ticket] {
			kind = "emergency"
		}
		if pr, ok := PostReviewOf(rec.ticket, kind, rec.signedAt, days, func(id string) bool { return reviewed[id] }); ok && pr.Overdue(now) {
			out = append(out, pr)
		}
	}
	return out, nil
}

// PostReviewDays is cfg's emergency.postReviewDays, DefaultPostReviewDays
// when cfg is nil or sets none.
func PostReviewDays(cfg *model.Config) int {
	if cfg != nil && cfg.Emergency != nil && cfg.Emergency.PostReviewDays != nil {
		return *cfg.Emergency.PostReviewDays
	}
	return DefaultPostReviewDays
}

// obligationDiags refuses the author's new tickets while a post-incident
// review is overdue, except the tickets that record those reviews.
func obligationDiags(results []Result, late []PostReview) diag.List {
	if len(late) == 0 {
		return nil
	}
	var ids []string
	for _, o := range late {
		ids = append(ids, o.Ticket)
	}
	var out diag.List
	for _, r := range results {
		if r.ID == "" || slices.Contains(ids, r.PostReviewOf) {
			continue
		}
		p := r.Positions["id"]
		o := late[0]
		out = append(out, diag.Diagnostic{File: r.File, Line: p[0], Column: p[1], Path: "id", Severity: diag.Error, Code: "post-review",
			Message: fmt.Sprintf("the author's emergency change %s has an overdue post-incident review (due %s)", o.Ticket, o.Due.UTC().Format(time.RFC3339)),
			Hint:    fmt.Sprintf("first merge a ticket with postReviewOf: %q recording the review", o.Ticket)})
	}
	return out
}
