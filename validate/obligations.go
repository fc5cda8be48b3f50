package validate

import (
	"encoding/json"
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
	"github.com/cabhq/cab/sign/statement"
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
	var log *ledger.Log
	for _, ref := range ledgerRefs {
		r, err := repo.Reference(ref, true)
		if err != nil {
			continue
		}
		if log, err = ledger.ReadAt(repo, r.Hash()); err != nil {
			return nil, fmt.Errorf("reading the ledger at %s: %w", ref, err)
		}
		break
	}
	if log == nil {
		return nil, nil
	}
	var out []overdue
	scanned := map[string]bool{}   // service directories read
	emergency := map[string]bool{} // emergency ticket ids on head
	reviewed := map[string]bool{}  // emergency ids a ticket reviews
	for _, ev := range log.Events() {
		if ev.Kind != ledger.KindSigned || len(ev.Envelope) == 0 {
			continue
		}
		p, err := statement.PredicateOf(ev.Envelope)
		if err != nil || p.Author != author {
			continue
		}
		var data struct {
			Path string `json:"path"`
		}
		if json.Unmarshal(ev.Data, &data) != nil || data.Path == "" {
			continue
		}
		// Reviews are filed in the service of the emergency they review.
		if svc := path.Base(path.Dir(data.Path)); !scanned[svc] {
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
		due := p.SignedAt.AddDate(0, 0, days)
		if emergency[ev.Ticket] && !reviewed[ev.Ticket] && now.After(due) {
			out = append(out, overdue{id: ev.Ticket, due: due})
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
