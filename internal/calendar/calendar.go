package calendar

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // freezes must resolve the same on every host

	"github.com/cabhq/cab/model"
)

// Span is a freeze, or one occurrence of a recurring freeze, resolved to
// absolute instants.
type Span struct {
	Name         string    `json:"name"`
	Reason       string    `json:"reason,omitempty"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	EndInclusive bool      `json:"endInclusive"`
	Timezone     string    `json:"timezone"`
	// Environments the freeze applies to; empty means all.
	Environments []string `json:"environments,omitempty"`
}

var layouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04"}

// FreezeError says which freeze, and which of its fields, is wrong.
type FreezeError struct {
	// Index is the freeze's position in the calendar (set by New).
	Index int
	// Field is the CUE path of the wrong field inside the freeze:
	// "timezone", "start", "end", "rrule", "duration" or "exdate[2]".
	Field string
	Err   error
}

func (e *FreezeError) Error() string { return e.Err.Error() }
func (e *FreezeError) Unwrap() error { return e.Err }

// Resolve converts a one-off freeze to a Span. A recurring freeze (one
// with an rrule) has no single span: use New and ask the Calendar.
func Resolve(f model.Freeze) (Span, error) {
	fail := func(field string, err error) (Span, error) {
		return Span{}, &FreezeError{Field: field, Err: err}
	}
	if f.RRule != "" {
		return fail("rrule", fmt.Errorf("freeze %q recurs: it has occurrences, not one span", f.Name))
	}
	loc, err := location(f)
	if err != nil {
		return Span{}, err
	}
	if f.End == "" {
		return fail("start", fmt.Errorf("freeze %q has neither end nor rrule", f.Name))
	}
	if f.Duration != "" || len(f.ExDate) > 0 {
		field := "duration"
		if f.Duration == "" {
			field = "exdate"
		}
		return fail(field, fmt.Errorf("freeze %q: %s needs an rrule (a one-off freeze has start and end)", f.Name, field))
	}
	start, err := parseLocal(f.Start, loc, false)
	if err != nil {
		return fail("start", fmt.Errorf("freeze %q: start: %w", f.Name, err))
	}
	end, err := parseLocal(f.End, loc, true)
	if err != nil {
		return fail("end", fmt.Errorf("freeze %q: end: %w", f.Name, err))
	}
	if !end.After(start) {
		return fail("end", fmt.Errorf("freeze %q: end %s is not after start %s", f.Name, f.End, f.Start))
	}
	return Span{
		Name: f.Name, Reason: f.Reason, Start: start, End: end,
		EndInclusive: f.EndInclusive != nil && *f.EndInclusive,
		Timezone:     f.Timezone, Environments: f.Environments,
	}, nil
}

func location(f model.Freeze) (*time.Location, error) {
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil || f.Timezone == "" || f.Timezone == "Local" {
		return nil, &FreezeError{Field: "timezone",
			Err: fmt.Errorf("freeze %q: unknown time zone %q (use an IANA name such as \"Europe/Berlin\")", f.Name, f.Timezone)}
	}
	return loc, nil
}

// parseWall reads a local wall-clock time as a floating time: its fields
// are the wall clock, its location is UTC.
func parseWall(s string) (time.Time, error) {
	var firstErr error
	for _, l := range layouts {
		w, err := time.Parse(l, s)
		if err == nil {
			return w, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return time.Time{}, fmt.Errorf("want local time like 2026-12-20T00:00: %w", firstErr)
}

// parseLocal reads a wall-clock time in loc (see instant).
func parseLocal(s string, loc *time.Location, latest bool) (time.Time, error) {
	w, err := parseWall(s)
	if err != nil {
		return time.Time{}, err
	}
	return instant(w, loc, latest), nil
}

// instant resolves the floating wall time w in loc. A wall time that
// occurs twice (the repeated hour in autumn) resolves to its earliest
// instant, or to its latest when latest is set, so that a freeze never
// shrinks; one in a gap moves forward by the gap, as time.Date does.
func instant(w time.Time, loc *time.Location, latest bool) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	for k := -8; k <= 8; k++ {
		c := t.Add(time.Duration(k) * 15 * time.Minute)
		if sameWall(c.In(loc), w) && (latest && c.After(t) || !latest && c.Before(t)) {
			t = c
		}
	}
	return t
}

// wall is the floating wall time of instant t in loc.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// Contains reports whether instant t is frozen by s.
func (s Span) Contains(t time.Time) bool {
	if t.Before(s.Start) {
		return false
	}
	return t.Before(s.End) || (s.EndInclusive && t.Equal(s.End))
}

// Overlaps reports whether the half-open window [start, end) shares an
// instant with s.
func (s Span) Overlaps(start, end time.Time) bool {
	if !end.After(s.Start) {
		return false
	}
	return start.Before(s.End) || (s.EndInclusive && start.Equal(s.End))
}

// Applies reports whether s freezes any of envs.
func (s Span) Applies(envs []string) bool {
	return applies(s.Environments, envs)
}

func applies(freeze, envs []string) bool {
	if len(freeze) == 0 {
		return true
	}
	for _, e := range envs {
		for _, f := range freeze {
			if e == f {
				return true
			}
		}
	}
	return false
}

// entry is one freeze of a calendar: a span or a recurrence.
type entry struct {
	span *Span
	rec  *recurrence
}

// Calendar is a resolved freeze calendar: one-off freezes as spans,
// recurring ones as rules expanded only over the window a query asks
// about. The zero Calendar has no freezes.
type Calendar struct {
	entries []entry
}

// New resolves every freeze of a configuration.
func New(freezes []model.Freeze) (Calendar, error) {
	var c Calendar
	for i, f := range freezes {
		var e entry
		var err error
		if f.RRule != "" {
			e.rec, err = newRecurrence(f)
		} else {
			var s Span
			s, err = Resolve(f)
			e.span = &s
		}
		if err != nil {
			var fe *FreezeError
			if errors.As(err, &fe) {
				fe.Index = i
			}
			return Calendar{}, err
		}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

// Len is the number of freezes in the calendar (a recurring freeze counts
// once).
func (c Calendar) Len() int { return len(c.entries) }

// Overlapping returns the freezes, and the occurrences of recurring
// freezes, that cover any instant of [start, end) in any of envs, in
// calendar order and, within a recurring freeze, by start. A recurring
// freeze contributes at most MaxOccurrences spans to one answer.
func (c Calendar) Overlapping(start, end time.Time, envs []string) []Span {
	var out []Span
	for _, e := range c.entries {
		switch {
		case e.span != nil:
			if e.span.Applies(envs) && e.span.Overlaps(start, end) {
				out = append(out, *e.span)
			}
		case applies(e.rec.span.Environments, envs):
			out = append(out, e.rec.overlapping(start, end)...)
		}
	}
	return out
}

// Active returns the freezes that hold at instant t in any of envs.
func (c Calendar) Active(t time.Time, envs []string) []Span {
	return c.Overlapping(t, t.Add(time.Nanosecond), envs)
}

// Listing returns every one-off freeze, whatever its environments, and
// the occurrences of each recurring freeze that overlap [from, to): the
// calendar as a person (or a policy) reads it.
func (c Calendar) Listing(from, to time.Time) []Span {
	var out []Span
	for _, e := range c.entries {
		if e.span != nil {
			out = append(out, *e.span)
			continue
		}
		out = append(out, e.rec.overlapping(from, to)...)
	}
	return out
}

func sameWall(t, w time.Time) bool {
	return t.Year() == w.Year() && t.YearDay() == w.YearDay() && t.Hour() == w.Hour() && t.Minute() == w.Minute() && t.Second() == w.Second()
}
