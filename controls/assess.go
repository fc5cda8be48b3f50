package controls

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/audit"
)

// Status is whether an objective is met in the period (the OSCAL
// objective-status states).
type Status string

// The statuses.
const (
	Satisfied    Status = "satisfied"
	NotSatisfied Status = "not-satisfied"
)

// Options bound an assessment.
type Options struct {
	// Since and Until bound the period: changes merged in [Since, Until)
	// are assessed (zero: unbounded).
	Since, Until time.Time
	// Now is when the assessment is made: an emergency's post-review is an
	// exception only once its deadline has passed at Now.
	Now time.Time
	// PostReviewDays is the post-review deadline after an emergency was
	// signed (cab.cue emergency.postReviewDays; 0: validate's default, 5).
	PostReviewDays int
}

// Exception is one change that breaks an objective.
type Exception struct {
	Kind   ExceptionKind `json:"kind"`
	Ticket string        `json:"ticket,omitempty"`
	Title  string        `json:"title,omitempty"`
	Path   string        `json:"path,omitempty"`
	// Link is the ticket's pull request, or its merge commit, when known.
	Link   string `json:"link,omitempty"`
	Detail string `json:"detail"`
}

// Result is an objective's assessment over the period.
type Result struct {
	Objective
	Status Status `json:"status"`
	// Assessed is how many changes were merged in the period; Evidenced
	// how many of them carry the evidence the objective asks for.
	Assessed   int         `json:"assessed"`
	Evidenced  int         `json:"evidenced"`
	Exceptions []Exception `json:"exceptions"`
}

// Assessment is the controls section of a report.
type Assessment struct {
	Since   time.Time `json:"since,omitzero"`
	Until   time.Time `json:"until,omitzero"`
	Results []Result  `json:"results"`
}

// defaultPostReviewDays is validate.DefaultPostReviewDays (not imported:
// controls depends on audit rows only).
const defaultPostReviewDays = 5

// Assess applies Table to changes (the whole history: a post-review may be
// merged after the period) and to verdict, the result of cab verify (nil:
// not run).
func Assess(changes []audit.Change, verdict *audit.Report, o Options) *Assessment {
	if o.PostReviewDays <= 0 {
		o.PostReviewDays = defaultPostReviewDays
	}
	inPeriod := func(t time.Time) bool {
		return (o.Since.IsZero() || !t.Before(o.Since)) && (o.Until.IsZero() || t.Before(o.Until))
	}
	reviewed := map[string]bool{}
	byID := map[string]*audit.Change{}
	for i := range changes {
		if r := changes[i].PostReviewOf; r != "" {
			reviewed[r] = true
		}
		byID[changes[i].ID] = &changes[i]
	}
	var period []*audit.Change
	for i := range changes {
		if inPeriod(changes[i].MergedAt) {
			period = append(period, &changes[i])
		}
	}
	slices.SortStableFunc(period, func(a, b *audit.Change) int {
		return cmp.Or(a.MergedAt.Compare(b.MergedAt), strings.Compare(a.ID, b.ID))
	})
	var found []Exception
	evidenced := map[string]int{}
	for _, c := range period {
		found = append(found, exceptions(c, reviewed, o)...)
		for id, ok := range evidence(c, reviewed) {
			if ok {
				evidenced[id]++
			}
		}
	}
	if verdict != nil {
		for _, b := range verdict.Breaks {
			sentence, details := b.Readable()
			e := Exception{Kind: VerifyBreak, Ticket: b.Ticket, Path: b.Path, Detail: strings.Join(append([]string{b.What + ": " + sentence}, details...), "; ")}
			if c := byID[b.Ticket]; c != nil && b.Ticket != "" {
				e.Title, e.Link = c.Title, link(c)
				if !inPeriod(c.MergedAt) {
					continue
				}
			}
			found = append(found, e)
		}
	}
	a := &Assessment{Since: o.Since, Until: o.Until}
	for _, obj := range Table() {
		r := Result{Objective: obj, Status: Satisfied, Assessed: len(period), Evidenced: evidenced[obj.ID], Exceptions: []Exception{}}
		for _, e := range found {
			if slices.Contains(obj.Breaks, e.Kind) {
				r.Exceptions = append(r.Exceptions, e)
			}
		}
		if len(r.Exceptions) > 0 {
			r.Status = NotSatisfied
		}
		a.Results = append(a.Results, r)
	}
	return a
}

func link(c *audit.Change) string {
	return cmp.Or(c.PRURL, c.CommitURL)
}

// evidence says which objectives' evidence change c carries.
func evidence(c *audit.Change, reviewed map[string]bool) map[string]bool {
	signed := c.Signature == "signed"
	verified := false
	for _, e := range c.Environments {
		if !e.Verified.IsZero() {
			verified = true
		}
	}
	return map[string]bool{
		"approval":     signed && len(c.Approvers) > 0,
		"segregation":  signed && c.Author != "" && len(c.Approvers) > 0 && !selfApproved(c),
		"testing":      verified,
		"emergency":    c.Kind == "emergency" && reviewed[c.ID],
		"traceability": signed && c.PR > 0,
	}
}

func selfApproved(c *audit.Change) bool {
	return (c.Author != "" && slices.Contains(c.Approvers, c.Author)) || (c.Merger != "" && slices.Contains(c.Approvers, c.Merger))
}

// exceptions are what change c breaks.
func exceptions(c *audit.Change, reviewed map[string]bool, o Options) []Exception {
	mk := func(k ExceptionKind, detail string) Exception {
		return Exception{Kind: k, Ticket: c.ID, Title: c.Title, Path: c.Path, Link: link(c), Detail: detail}
	}
	var out []Exception
	if c.Signature == "unsigned" {
		out = append(out, mk(Unsigned, "merged without passing the gate: no signed ledger event"))
	}
	if c.Author != "" && slices.Contains(c.Approvers, c.Author) {
		out = append(out, mk(SelfApproved, "the author "+c.Author+" is among the approvers"))
	}
	if c.Merger != "" && slices.Contains(c.Approvers, c.Merger) {
		out = append(out, mk(SelfApproved, "the merger "+c.Merger+" is among the approvers"))
	}
	for _, e := range c.Environments {
		switch e.Outcome {
		case "failed", "rolled-back", "rollback-failed":
			d := e.Env + ": " + e.Outcome
			if e.Reason != "" {
				d += " (" + e.Reason + ")"
			}
			out = append(out, mk(FailedChange, d))
		}
	}
	if c.Kind == "emergency" && !reviewed[c.ID] {
		from := c.SignedAt
		if from.IsZero() {
			from = c.MergedAt
		}
		due := from.AddDate(0, 0, o.PostReviewDays)
		if !o.Now.IsZero() && o.Now.After(due) {
			out = append(out, mk(NoPostReview, fmt.Sprintf("no post-review ticket (postReviewOf: %q) by %s", c.ID, due.UTC().Format(time.RFC3339))))
		}
	}
	return out
}
