package calendar

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // freezes must resolve the same on every host

	"github.com/cabhq/cab/schema"
)

// Span is a freeze resolved to absolute instants.
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
	// Field is "timezone", "start" or "end".
	Field string
	Err   error
}

func (e *FreezeError) Error() string { return e.Err.Error() }
func (e *FreezeError) Unwrap() error { return e.Err }

// Resolve converts a freeze to a Span.
func Resolve(f schema.Freeze) (Span, error) {
	fail := func(field string, err error) (Span, error) {
		return Span{}, &FreezeError{Field: field, Err: err}
	}
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		return fail("timezone", fmt.Errorf("freeze %q: unknown time zone %q (use an IANA name such as \"Europe/Berlin\")", f.Name, f.Timezone))
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

// parseLocal reads a wall-clock time in loc. A wall time that occurs twice
// (the repeated hour in autumn) resolves to its earliest instant, or to its
// latest when latest is set, so that a freeze never shrinks.
func parseLocal(s string, loc *time.Location, latest bool) (time.Time, error) {
	var firstErr error
	for _, l := range layouts {
		w, err := time.Parse(l, s)
		if err == nil {
			// time.Date moves wall times in a DST gap forward.
			t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
			for k := -8; k <= 8; k++ {
				c := t.Add(time.Duration(k) * 15 * time.Minute)
				if sameWall(c.In(loc), w) && (latest && c.After(t) || !latest && c.Before(t)) {
					t = c
				}
			}
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return time.Time{}, fmt.Errorf("want local time like 2026-12-20T00:00: %w", firstErr)
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
	if len(s.Environments) == 0 {
		return true
	}
	for _, e := range envs {
		for _, f := range s.Environments {
			if e == f {
				return true
			}
		}
	}
	return false
}

// Calendar is a resolved freeze calendar.
type Calendar []Span

// New resolves every freeze of a configuration.
func New(freezes []schema.Freeze) (Calendar, error) {
	var c Calendar
	for i, f := range freezes {
		s, err := Resolve(f)
		if err != nil {
			var fe *FreezeError
			if errors.As(err, &fe) {
				fe.Index = i
			}
			return nil, err
		}
		c = append(c, s)
	}
	return c, nil
}

// Overlapping returns the freezes that cover any instant of [start, end)
// in any of envs.
func (c Calendar) Overlapping(start, end time.Time, envs []string) []Span {
	var out []Span
	for _, s := range c {
		if s.Applies(envs) && s.Overlaps(start, end) {
			out = append(out, s)
		}
	}
	return out
}

func sameWall(t, w time.Time) bool {
	return t.Year() == w.Year() && t.YearDay() == w.YearDay() && t.Hour() == w.Hour() && t.Minute() == w.Minute() && t.Second() == w.Second()
}
