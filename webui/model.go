package webui

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
)

// Board columns: the lifecycle states a ticket is shown in.
const (
	StateMerged   = "merged"   // on main, not judged by cab sign yet
	StateSigned   = "signed"   // signed, nothing done yet
	StateWaiting  = "waiting"  // scheduled: waiting on a window, freeze, budget, dependency or earlier environment
	StateApplying = "applying" // being applied (applying or applied, not verified yet)
	StateVerified = "verified" // verified in every environment
	StateFailed   = "failed"   // failed, rolled-back, rollback-failed, expired, quarantined or unsigned
)

// States lists the board's columns in lifecycle order.
var States = []string{StateMerged, StateSigned, StateWaiting, StateApplying, StateVerified, StateFailed}

// Hold kinds: why a waiting ticket waits, when the ledger says it is held
// rather than early.
const (
	HoldFreeze   = "freeze"
	HoldBudget   = "budget"
	HoldConflict = "conflict"
)

// Ticket is one merged ticket as the UI shows it: its cab log row, the
// parts of the ticket file the pages need, and where it stands.
type Ticket struct {
	audit.Change
	// Description, Window, DependsOn, PostReviewOf, Links and Incident
	// come from the ticket file on main (empty when it could not be read
	// as ticket data).
	Description  string          `json:"description,omitempty"`
	Window       Window          `json:"window"`
	DependsOn    []string        `json:"dependsOn,omitempty"`
	PostReviewOf string          `json:"postReviewOf,omitempty"`
	Links        *model.Links    `json:"links,omitempty"`
	Incident     *model.Incident `json:"incident,omitempty"`
	// State is the board column; Detail the precise state within it
	// (e.g. rolled-back in the failed column).
	State  string `json:"state"`
	Detail string `json:"detail"`
	// Reason says why the ticket is where it is (the ledger's words);
	// Cause is the reconciler's stable key of a wait ("window:…",
	// "freeze:…", "budget:…"); Hold classifies it (HoldFreeze,
	// HoldBudget, HoldConflict or "").
	Reason string `json:"reason,omitempty"`
	Cause  string `json:"cause,omitempty"`
	Hold   string `json:"hold,omitempty"`
	// Dependents are the tickets whose dependsOn names this one.
	Dependents []string `json:"dependents,omitempty"`
}

// Window is a ticket's change window; zero times when the file did not
// say.
type Window struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// details are the parts of a ticket file the UI reads beyond cab log's.
type details struct {
	Description  string
	Window       Window
	DependsOn    []string
	PostReviewOf string
	Links        *model.Links
	Incident     *model.Incident
}

func detailsOf(t model.Ticket) *details {
	d := &details{Description: t.Description, DependsOn: t.DependsOn, PostReviewOf: t.PostReviewOf, Links: t.Links, Incident: t.Incident}
	d.Window.Start, _ = time.Parse(time.RFC3339, t.Window.Start)
	d.Window.End, _ = time.Parse(time.RFC3339, t.Window.End)
	d.Window.Start, d.Window.End = d.Window.Start.UTC(), d.Window.End.UTC()
	return d
}

// Snapshot is everything the pages show, read at one main head and one
// ledger head. It is immutable once built and shared by every request.
type Snapshot struct {
	MainHead   string `json:"mainHead"`
	LedgerHead string `json:"ledgerHead"`
	// Tickets are newest merge first.
	Tickets []*Ticket `json:"-"`
	// Freezes are cab.cue's freezes at the main head.
	Freezes calendar.Calendar `json:"-"`
	// PostReviewDays is when an emergency's post-incident review is due
	// after it was signed (cab.cue emergency.postReviewDays).
	PostReviewDays int `json:"-"`
	// Problems are what cab log found wrong (broken ledger, unreadable
	// tickets).
	Problems []audit.Problem `json:"problems"`

	byID   map[string]*Ticket
	ledger *ledger.Log
}

// Ticket returns the ticket with id (nil when main has none).
func (s *Snapshot) Ticket(id string) *Ticket { return s.byID[id] }

// Events returns the ledger events of ticket id, in sequence order.
func (s *Snapshot) Events(id string) []ledger.Event {
	if s.ledger == nil {
		return nil
	}
	return s.ledger.Ticket(id)
}

// newSnapshot links tickets (dependents), indexes them and places each on
// the board.
func newSnapshot(tickets []*Ticket, l *ledger.Log) *Snapshot {
	s := &Snapshot{Tickets: tickets, byID: make(map[string]*Ticket, len(tickets)), ledger: l, Problems: []audit.Problem{}}
	for _, t := range tickets {
		if _, dup := s.byID[t.ID]; !dup {
			s.byID[t.ID] = t
		}
	}
	for _, t := range tickets {
		for _, dep := range t.DependsOn {
			if d := s.byID[dep]; d != nil && !slices.Contains(d.Dependents, t.ID) {
				d.Dependents = append(d.Dependents, t.ID)
			}
		}
	}
	for _, t := range tickets {
		slices.Sort(t.Dependents)
		place(t, s.Events(t.ID))
	}
	return s
}

// waitData is the part of a scheduled event's data the board shows: the
// reconciler's reason and the stable key of the wait.
type waitData struct {
	Reason string `json:"reason"`
	Cause  string `json:"cause"`
}

// place puts t in its board column from its cab log outcome and, for a
// wait, the last scheduled event's cause.
func place(t *Ticket, events []ledger.Event) {
	envReason := func(outcomes ...string) string {
		for _, e := range t.Environments {
			if slices.Contains(outcomes, e.Outcome) && e.Reason != "" {
				return e.Reason
			}
		}
		return ""
	}
	t.Detail = t.Outcome
	switch {
	case t.Outcome == "unsigned":
		t.State = StateFailed
	case t.Signature == "":
		t.State, t.Detail = StateMerged, "merged"
	case slices.Contains([]string{"failed", "rolled-back", "rollback-failed", "expired", "quarantined"}, t.Outcome):
		t.State = StateFailed
		t.Reason = envReason(t.Outcome)
	case slices.ContainsFunc(t.Environments, func(e audit.EnvOutcome) bool {
		return e.Outcome == ledger.KindApplying || e.Outcome == ledger.KindApplied
	}):
		t.State, t.Detail = StateApplying, "applying"
	case t.Outcome == "verified":
		t.State = StateVerified
	case t.Outcome == "scheduled":
		t.State = StateWaiting
		t.Reason = envReason(ledger.KindScheduled)
	case t.Outcome == "in-progress":
		// Verified somewhere, pending elsewhere: waiting on the next
		// environment of the promotion.
		t.State, t.Detail = StateWaiting, "next-environment"
		for _, e := range t.Environments {
			if e.Outcome == "pending" {
				t.Reason = "verified in an earlier environment; " + e.Env + " is next"
				break
			}
		}
	default:
		t.State, t.Detail = StateSigned, "signed"
	}
	if t.State != StateWaiting {
		return
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind != ledger.KindScheduled {
			continue
		}
		var d waitData
		if json.Unmarshal(events[i].Data, &d) == nil {
			t.Cause = d.Cause
			if t.Reason == "" {
				t.Reason = d.Reason
			}
		}
		break
	}
	t.Hold = holdOf(t.Cause)
}

// holdOf classifies a wait's cause ("<kind>:<what>").
func holdOf(cause string) string {
	kind, _, _ := strings.Cut(cause, ":")
	switch {
	case kind == "freeze":
		return HoldFreeze
	case kind == "budget" || kind == "budget-unreadable":
		return HoldBudget
	case strings.HasPrefix(kind, "conflict"):
		return HoldConflict
	}
	return ""
}
