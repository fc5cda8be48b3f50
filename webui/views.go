package webui

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/cabhq/cab/internal/calendar"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/validate"
)

// Filter selects tickets by the query parameters service, env, risk,
// kind and owner (each may repeat; empty matches all).
type Filter struct {
	Services []string `json:"service,omitempty"`
	Envs     []string `json:"env,omitempty"`
	Risks    []string `json:"risk,omitempty"`
	Kinds    []string `json:"kind,omitempty"`
	Owners   []string `json:"owner,omitempty"`
}

func filterOf(q url.Values) Filter {
	clean := func(vs []string) []string {
		var out []string
		for _, v := range vs {
			if v != "" && len(v) <= 200 && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	return Filter{Services: clean(q["service"]), Envs: clean(q["env"]), Risks: clean(q["risk"]), Kinds: clean(q["kind"]), Owners: clean(q["owner"])}
}

func (f Filter) match(t *Ticket) bool {
	in := func(set []string, v string) bool { return len(set) == 0 || slices.Contains(set, v) }
	if !in(f.Services, t.Service) || !in(f.Risks, t.Risk) || !in(f.Kinds, t.Kind) || !in(f.Owners, t.Owner) {
		return false
	}
	if len(f.Envs) == 0 {
		return true
	}
	for _, e := range t.Environments {
		if slices.Contains(f.Envs, e.Env) {
			return true
		}
	}
	return false
}

// Card is a ticket as a board or calendar shows it.
type Card struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Service string `json:"service"`
	Kind    string `json:"kind"`
	Risk    string `json:"risk"`
	Owner   string `json:"owner,omitempty"`
	State   string `json:"state"`
	Detail  string `json:"detail"`
	Reason  string `json:"reason,omitempty"`
	Cause   string `json:"cause,omitempty"`
	Hold    string `json:"hold,omitempty"`
	// Envs are the environments with their outcome, in promotion order.
	Envs   []EnvState `json:"environments"`
	Window Window     `json:"window"`
}

// EnvState is one environment of a card.
type EnvState struct {
	Env     string `json:"env"`
	Outcome string `json:"outcome"`
}

func cardOf(t *Ticket) Card {
	c := Card{ID: t.ID, Title: t.Title, Service: t.Service, Kind: t.Kind, Risk: t.Risk, Owner: t.Owner,
		State: t.State, Detail: t.Detail, Reason: t.Reason, Cause: t.Cause, Hold: t.Hold, Window: t.Window, Envs: []EnvState{}}
	for _, e := range t.Environments {
		c.Envs = append(c.Envs, EnvState{Env: e.Env, Outcome: e.Outcome})
	}
	return c
}

// DefaultLimit is how many cards a board column shows unless the request
// asks for more (limit=, at most MaxLimit).
const (
	DefaultLimit = 100
	MaxLimit     = 2000
)

// Board is the lifecycle board (/board, /api/v1/board).
type Board struct {
	Filter  Filter   `json:"filter"`
	Columns []Column `json:"columns"`
	// Proposed explains why there is no column of open pull requests.
	Proposed string `json:"proposed"`
	// Choices are the values the filters can take (for the form).
	Choices Choices `json:"choices"`
}

// Hidden are the query parameters the filter form keeps (none).
func (b *Board) Hidden() map[string]string { return nil }

// Column is one lifecycle state of the board: its newest Limit cards and
// how many tickets are in it.
type Column struct {
	State string `json:"state"`
	Total int    `json:"total"`
	Cards []Card `json:"cards"`
}

// Choices are the services, environments, risks, kinds and owners of the
// tickets, sorted.
type Choices struct {
	Services []string `json:"services"`
	Envs     []string `json:"environments"`
	Risks    []string `json:"risks"`
	Kinds    []string `json:"kinds"`
	Owners   []string `json:"owners"`
}

func choicesOf(s *Snapshot) Choices {
	sets := [5]map[string]bool{{}, {}, {}, {}, {}}
	for _, t := range s.Tickets {
		sets[0][t.Service], sets[2][t.Risk], sets[3][t.Kind], sets[4][t.Owner] = true, true, true, true
		for _, e := range t.Environments {
			sets[1][e.Env] = true
		}
	}
	sorted := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			if k != "" {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	return Choices{Services: sorted(sets[0]), Envs: sorted(sets[1]), Risks: sorted(sets[2]), Kinds: sorted(sets[3]), Owners: sorted(sets[4])}
}

func limitOf(q url.Values) int {
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// BoardView builds the board of s for filter f, at most limit cards per
// column (newest merge first).
func BoardView(s *Snapshot, f Filter, limit int) *Board {
	b := &Board{Filter: f, Proposed: "open pull requests are not shown: no forge is configured for the web UI", Choices: choicesOf(s)}
	idx := map[string]int{}
	for i, st := range States {
		idx[st] = i
		b.Columns = append(b.Columns, Column{State: st, Cards: []Card{}})
	}
	for _, t := range s.Tickets {
		if !f.match(t) {
			continue
		}
		c := &b.Columns[idx[t.State]]
		c.Total++
		if len(c.Cards) < limit {
			c.Cards = append(c.Cards, cardOf(t))
		}
	}
	return b
}

// Calendar is the change calendar (/calendar, /api/v1/calendar): the
// windows and freezes that overlap [From, To).
type Calendar struct {
	View   string    `json:"view"` // week or month
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Now    time.Time `json:"now"`
	Filter Filter    `json:"filter"`
	// Prev and Next are the anchors of the neighbouring pages.
	Prev string `json:"prev"`
	Next string `json:"next"`
	// Days are the days of the range, each with what overlaps it.
	Days    []Day       `json:"days"`
	Freezes []Freeze    `json:"freezes"`
	Windows []Scheduled `json:"windows"`
	Choices Choices     `json:"choices"`
}

// Hidden are the query parameters the filter form keeps: the view and
// the date shown.
func (c *Calendar) Hidden() map[string]string {
	return map[string]string{"view": c.View, "date": c.From.Format(time.DateOnly)}
}

// Scheduled is a ticket's window in the calendar; Timing is upcoming,
// active or finished (relative to Now).
type Scheduled struct {
	Card
	Timing string `json:"timing"`
}

// Freeze is a freeze in the calendar.
type Freeze struct {
	calendar.Span
	Active bool `json:"active"`
}

// Day is one day of the calendar (UTC).
type Day struct {
	Date  string `json:"date"` // 2006-01-02
	Today bool   `json:"today"`
	// Windows and Freezes index Calendar.Windows and Calendar.Freezes.
	Windows []int `json:"windows"`
	Freezes []int `json:"freezes"`
}

// CalendarView builds the week or month around anchor (UTC days; weeks
// start on Monday).
func CalendarView(s *Snapshot, view string, anchor, now time.Time, f Filter) *Calendar {
	anchor = anchor.UTC()
	day := time.Date(anchor.Year(), anchor.Month(), anchor.Day(), 0, 0, 0, 0, time.UTC)
	var from, to, prev, next time.Time
	if view == "month" {
		from = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		to = from.AddDate(0, 1, 0)
		prev, next = from.AddDate(0, -1, 0), to
	} else {
		view = "week"
		from = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		to = from.AddDate(0, 0, 7)
		prev, next = from.AddDate(0, 0, -7), to
	}
	c := &Calendar{View: view, From: from, To: to, Now: now.UTC(), Filter: f, Prev: prev.Format(time.DateOnly), Next: next.Format(time.DateOnly),
		Freezes: []Freeze{}, Windows: []Scheduled{}, Choices: choicesOf(s)}
	for _, sp := range s.Freezes.Listing(from, to) {
		if sp.Overlaps(from, to) && (len(f.Envs) == 0 || sp.Applies(f.Envs)) {
			c.Freezes = append(c.Freezes, Freeze{Span: sp, Active: sp.Contains(now)})
		}
	}
	for _, t := range s.Tickets {
		w := t.Window
		if w.Start.IsZero() || w.End.IsZero() || !w.Start.Before(to) || !w.End.After(from) || !f.match(t) {
			continue
		}
		timing := "upcoming"
		switch {
		case !now.Before(w.End):
			timing = "finished"
		case !now.Before(w.Start):
			timing = "active"
		}
		c.Windows = append(c.Windows, Scheduled{Card: cardOf(t), Timing: timing})
	}
	slices.SortStableFunc(c.Windows, func(a, b Scheduled) int { return a.Window.Start.Compare(b.Window.Start) })
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		end := d.AddDate(0, 0, 1)
		day := Day{Date: d.Format(time.DateOnly), Today: !now.Before(d) && now.Before(end), Windows: []int{}, Freezes: []int{}}
		for i, w := range c.Windows {
			if w.Window.Start.Before(end) && w.Window.End.After(d) {
				day.Windows = append(day.Windows, i)
			}
		}
		for i, fz := range c.Freezes {
			if fz.Overlaps(d, end) {
				day.Freezes = append(day.Freezes, i)
			}
		}
		c.Days = append(c.Days, day)
	}
	return c
}

// Overview is the landing page (/, /api/v1/overview).
type Overview struct {
	Now      time.Time `json:"now"`
	Applying []Card    `json:"applying"`
	// Failed are the tickets that failed, rolled back, could not roll
	// back, expired or were quarantined in the last 7 days.
	Failed      []Card       `json:"failedLast7Days"`
	PostReviews []PostReview `json:"openPostReviews"`
	// SLA says where the approval-SLA breaches come from: cab serve's
	// last poll of the forge (--sla-interval), or that none runs.
	SLA string `json:"approvalSLA"`
	// SLABreaches are the open pull requests past their approval SLA at
	// that poll.
	SLABreaches []SLABreach `json:"approvalSLABreaches"`
	Tickets     int         `json:"tickets"`
	Problems    int         `json:"problems"`
}

// SLABreach is an open pull request past its approval SLA, as cab
// serve's poll found it (the gate's warning).
type SLABreach struct {
	PR      int64  `json:"pr"`
	Service string `json:"service"`
	Risk    string `json:"risk"`
	// Level is 1 (the approver group was told) or 2 (escalated: the
	// backup group too).
	Level  int    `json:"level"`
	Reason string `json:"reason"`
}

// SLAStatus is the last approval-SLA poll.
type SLAStatus struct {
	At       time.Time
	Breaches []SLABreach
}

// PostReview is an emergency change whose post-incident review no ticket
// records yet (postReviewOf); due PostReviewDays after it was signed.
type PostReview struct {
	Card
	Due     time.Time `json:"due"`
	Overdue bool      `json:"overdue"`
}

// withSLA adds the approval-SLA poll st (nil: none finished yet) to o.
func (o *Overview) withSLA(st *SLAStatus) {
	if st == nil {
		o.SLA = "approval SLAs are polled, and no poll has finished yet"
		return
	}
	o.SLA = "as the forge's open pull requests were at " + st.At.UTC().Format(time.RFC3339)
	o.SLABreaches = append(o.SLABreaches, st.Breaches...)
}

// OverviewView builds the overview at now.
func OverviewView(s *Snapshot, now time.Time) *Overview {
	o := &Overview{Now: now.UTC(), Applying: []Card{}, Failed: []Card{}, PostReviews: []PostReview{}, Tickets: len(s.Tickets), Problems: len(s.Problems),
		SLA: "approval SLAs are not polled: run cab serve with --sla-interval and --forge", SLABreaches: []SLABreach{}}
	since := now.Add(-7 * 24 * time.Hour)
	reviewed := map[string]bool{}
	for _, t := range s.Tickets {
		if t.PostReviewOf != "" {
			reviewed[t.PostReviewOf] = true
		}
	}
	for _, t := range s.Tickets {
		switch t.State {
		case StateApplying:
			o.Applying = append(o.Applying, cardOf(t))
		case StateFailed:
			for _, e := range t.Environments {
				if slices.Contains([]string{"failed", "rolled-back", "rollback-failed", "expired", "quarantined"}, e.Outcome) && !e.At.Before(since) {
					o.Failed = append(o.Failed, cardOf(t))
					break
				}
			}
		}
		if t.Signature != "signed" {
			continue
		}
		if pr, ok := validate.PostReviewOf(t.ID, t.Kind, t.SignedAt, s.PostReviewDays, func(id string) bool { return reviewed[id] }); ok && !pr.Done {
			o.PostReviews = append(o.PostReviews, PostReview{Card: cardOf(t), Due: pr.Due, Overdue: pr.Overdue(now)})
		}
	}
	slices.SortFunc(o.PostReviews, func(a, b PostReview) int { return a.Due.Compare(b.Due) })
	return o
}

// TicketPage is one ticket (/tickets/{id}, /api/v1/tickets/{id}).
type TicketPage struct {
	Ticket *Ticket `json:"ticket"`
	// Source is the ticket file as merged.
	Source string `json:"source"`
	// Verdict says what the signature state means.
	Verdict string  `json:"verdict"`
	Events  []Event `json:"events"`
	// DependsOn and Dependents are the linked tickets (unknown ids keep
	// only their id).
	DependsOn  []Card `json:"dependsOn"`
	Dependents []Card `json:"dependents"`
}

// Event is one ledger event with its data.
type Event struct {
	Seq    int             `json:"seq"`
	Kind   string          `json:"kind"`
	Env    string          `json:"env,omitempty"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor,omitempty"`
	Commit string          `json:"commit,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	// Signed says whether a DSSE envelope is stored beside the event.
	Signed bool `json:"signed"`
}

// DataText is the event's data, indented for reading.
func (e Event) DataText() string {
	if len(e.Data) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(e.Data, &v) != nil {
		return string(e.Data)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// TicketView builds the page of t with its source.
func TicketView(s *Snapshot, t *Ticket, source string) *TicketPage {
	p := &TicketPage{Ticket: t, Source: source, Events: []Event{}, DependsOn: []Card{}, Dependents: []Card{}}
	switch t.Signature {
	case "signed":
		p.Verdict = "signed by " + t.SignedBy + " with key " + t.SignedKey + " (recorded on the ledger; cab verify checks the signature)"
	case "unsigned":
		p.Verdict = "refused by cab sign: never applied"
	default:
		p.Verdict = "not judged by cab sign yet"
	}
	for _, ev := range s.Events(t.ID) {
		p.Events = append(p.Events, eventOf(ev))
	}
	link := func(ids []string) []Card {
		out := []Card{}
		for _, id := range ids {
			if d := s.Ticket(id); d != nil {
				out = append(out, cardOf(d))
			} else {
				out = append(out, Card{ID: id, State: "unknown", Envs: []EnvState{}})
			}
		}
		return out
	}
	p.DependsOn, p.Dependents = link(t.DependsOn), link(t.Dependents)
	return p
}

func eventOf(ev ledger.Event) Event {
	return Event{Seq: ev.Seq, Kind: ev.Kind, Env: ev.Env, At: ev.At.UTC(), Actor: ev.Actor, Commit: ev.Commit, Data: ev.Data, Signed: len(ev.Envelope) > 0}
}
