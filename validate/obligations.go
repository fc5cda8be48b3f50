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
	"github.com/cabhq/cab/schema"
)

// DefaultPostReviewDays is when an emergency's post-incident review is due
// unless cab.cue says otherwise (emergency: postReviewDays).
const DefaultPostReviewDays = 5

// overdue is an emergency change whose post-incident review is late.
type overdue struct {
	id  string
	due time.Time
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
func overdueReviews(repo *git.Repository, head *object.Tree, author string, days int, now time.Time, session *Session) ([]overdue, error) {
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
	var out []overdue
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
		due := rec.signedAt.AddDate(0, 0, days)
		if emergency[rec.ticket] && !reviewed[rec.ticket] && now.After(due) {
			out = append(out, overdue{id: rec.ticket, due: due})
		}
	}
	return out, nil
}

// postReviewDays reads the deadline from the base configuration.
func postReviewDays(cfg *schema.Config) int {
	if cfg != nil && cfg.Emergency != nil && cfg.Emergency.PostReviewDays != nil {
		return *cfg.Emergency.PostReviewDays
	}
	return DefaultPostReviewDays
}

// obligationDiags refuses the author's new tickets while a post-incident
// review is overdue, except the tickets that record those reviews.
func obligationDiags(results []Result, late []overdue) diag.List {
	if len(late) == 0 {
		return nil
	}
	var ids []string
	for _, o := range late {
		ids = append(ids, o.id)
	}
	var out diag.List
	for _, r := range results {
		if r.ID == "" || slices.Contains(ids, r.PostReviewOf) {
			continue
		}
		p := r.Positions["id"]
		o := late[0]
		out = append(out, diag.Diagnostic{File: r.File, Line: p[0], Column: p[1], Path: "id", Severity: diag.Error, Code: "post-review",
			Message: fmt.Sprintf("the author's emergency change %s has an overdue post-incident review (due %s)", o.id, o.due.UTC().Format(time.RFC3339)),
			Hint:    fmt.Sprintf("first merge a ticket with postReviewOf: %q recording the review", o.id)})
	}
	return out
}
