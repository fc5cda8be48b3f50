package calendar

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/cabhq/cab/model"
)

// Bounds on expanding a recurrence. They keep a query's cost independent
// of what cab.cue says, so an attacker-free but careless rule cannot stall
// the gate or the reconciler.
const (
	// MaxSteps is how many occurrences one query may walk through, from
	// the rule's start to the end of the window asked about (a daily rule
	// reaches about 270 years). Past it the query answers with a span that
	// freezes the whole window: a calendar that cannot be read is closed.
	MaxSteps = 100_000
	// MaxOccurrences is how many occurrences of one recurring freeze one
	// query returns; the window is frozen either way.
	MaxOccurrences = 1_000
	// MaxDuration is the longest occurrence.
	MaxDuration = 366 * 24 * time.Hour
	// margin widens a query, in wall-clock time, by more than any UTC
	// offset change, so that no overlapping occurrence is skipped.
	margin = 48 * time.Hour
)

// ErrTooDense is the reason of the span answered for a window that the
// rule cannot be expanded over within MaxSteps.
var ErrTooDense = errors.New("recurrence too dense to expand")

// recurrence is a recurring freeze: rule is evaluated on floating wall
// times (UTC fields standing for the wall clock of loc), each occurrence
// lasting days+clock on the wall clock, then resolved to instants.
type recurrence struct {
	span   Span // name, reason, zone, environments, inclusive end
	loc    *time.Location
	rule   *rrule.RRule
	days   int
	clock  time.Duration
	exdate map[time.Time]bool
}

// newRecurrence checks and compiles a recurring freeze.
func newRecurrence(f model.Freeze) (*recurrence, error) {
	fail := func(field, format string, a ...any) (*recurrence, error) {
		return nil, &FreezeError{Field: field, Err: fmt.Errorf("freeze %q: %s: %s", f.Name, field, fmt.Sprintf(format, a...))}
	}
	loc, err := location(f)
	if err != nil {
		return nil, err
	}
	if f.End != "" {
		return fail("end", "a recurring freeze has a duration, not an end")
	}
	if f.Duration == "" {
		return fail("rrule", "a recurring freeze needs a duration, e.g. \"P2DT16H\"")
	}
	days, clock, err := parseDuration(f.Duration)
	if err != nil {
		return fail("duration", "%v", err)
	}
	if d := time.Duration(days)*24*time.Hour + clock; d <= 0 || d > MaxDuration {
		return fail("duration", "%s must be more than nothing and at most 366 days", f.Duration)
	}
	start, err := parseWall(f.Start)
	if err != nil {
		return fail("start", "%v", err)
	}
	opt, err := parseRule(f.RRule, loc)
	if err != nil {
		return fail("rrule", "%v", err)
	}
	opt.Dtstart = start
	rule, err := rrule.NewRRule(*opt)
	if err != nil {
		return fail("rrule", "%v", err)
	}
	r := &recurrence{
		span: Span{Name: f.Name, Reason: f.Reason, Timezone: f.Timezone, Environments: f.Environments,
			EndInclusive: f.EndInclusive != nil && *f.EndInclusive},
		loc: loc, rule: rule, days: days, clock: clock, exdate: map[time.Time]bool{},
	}
	next := rule.Iterator()
	if first, ok := next(); !ok || !first.Equal(start) {
		return fail("start", "%s is not an occurrence of %q (start is the first occurrence)", f.Start, f.RRule)
	}
	for i, s := range f.ExDate {
		field := fmt.Sprintf("exdate[%d]", i)
		w, err := parseWall(s)
		if err != nil {
			return fail(field, "%v", err)
		}
		if !r.occurs(w) {
			return fail(field, "%s is not an occurrence of %q", s, f.RRule)
		}
		r.exdate[w] = true
	}
	return r, nil
}

// occurs reports whether floating wall time w is an occurrence, walking
// at most MaxSteps occurrences.
func (r *recurrence) occurs(w time.Time) bool {
	next := r.rule.Iterator()
	for i := 0; i < MaxSteps; i++ {
		o, ok := next()
		if !ok || o.After(w) {
			return false
		}
		if o.Equal(w) {
			return true
		}
	}
	return false
}

var coarse = map[rrule.Frequency]bool{rrule.YEARLY: true, rrule.MONTHLY: true, rrule.WEEKLY: true, rrule.DAILY: true}

// parseRule reads an RRULE value. DTSTART comes from the freeze's start;
// UNTIL is a local time of loc or, with Z, a UTC instant.
func parseRule(s string, loc *time.Location) (*rrule.ROption, error) {
	s = strings.TrimPrefix(s, "RRULE:")
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("one RRULE line only")
	}
	var untilUTC, hasCount, hasUntil bool
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "DTSTART":
			return nil, errors.New("DTSTART is the freeze's start, not part of the rule")
		case "UNTIL":
			hasUntil, untilUTC = true, strings.HasSuffix(v, "Z")
		case "COUNT":
			hasCount = true
		}
	}
	if hasCount && hasUntil {
		return nil, errors.New("COUNT and UNTIL must not both be set (RFC 5545 3.3.10)")
	}
	opt, err := rrule.StrToROptionInLocation(s, time.UTC)
	if err != nil {
		return nil, err
	}
	if !coarse[opt.Freq] {
		return nil, fmt.Errorf("FREQ=%s recurs more often than daily; use FREQ=DAILY with BYHOUR for several freezes a day", opt.Freq)
	}
	if untilUTC {
		opt.Until = wall(opt.Until, loc)
	}
	return opt, nil
}

var isoDuration = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)
})

// parseDuration reads an ISO 8601 duration into whole days and a clock
// part, both to be added on the wall clock.
func parseDuration(s string) (days int, clock time.Duration, err error) {
	m := isoDuration().FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, 0, fmt.Errorf("%q is not an ISO 8601 duration like \"P2DT16H\"", s)
	}
	n := make([]int, 5)
	for i := range n {
		if m[i+1] == "" {
			continue
		}
		if n[i], err = strconv.Atoi(m[i+1]); err != nil || n[i] > 100_000 {
			return 0, 0, fmt.Errorf("%q: %s is too large", s, m[i+1])
		}
	}
	days = n[0]*7 + n[1]
	clock = time.Duration(n[2])*time.Hour + time.Duration(n[3])*time.Minute + time.Duration(n[4])*time.Second
	return days, clock, nil
}

// occurrence resolves the occurrence starting at floating wall time w.
func (r *recurrence) occurrence(w time.Time) Span {
	s := r.span
	s.Start = instant(w, r.loc, false)
	s.End = instant(r.endWall(w), r.loc, true)
	return s
}

func (r *recurrence) endWall(w time.Time) time.Time {
	return w.AddDate(0, 0, r.days).Add(r.clock)
}

// overlapping expands the occurrences that overlap [start, end).
func (r *recurrence) overlapping(start, end time.Time) []Span {
	from, to := wall(start, r.loc).Add(-margin), wall(end, r.loc).Add(margin)
	var out []Span
	next := r.rule.Iterator()
	for i := 0; ; i++ {
		if i == MaxSteps {
			s := r.span
			s.Start, s.End = start, end
			s.Reason = fmt.Sprintf("%v: more than %d occurrences before this window", ErrTooDense, MaxSteps)
			return append(out, s)
		}
		w, ok := next()
		if !ok || !w.Before(to) || len(out) == MaxOccurrences {
			return out
		}
		if r.exdate[w] || r.endWall(w).Before(from) {
			continue
		}
		if s := r.occurrence(w); s.Overlaps(start, end) {
			out = append(out, s)
		}
	}
}
