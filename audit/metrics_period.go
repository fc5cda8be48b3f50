package audit

import (
	"fmt"
	"strings"
	"time"
)

// Period is how metrics are bucketed in time.
type Period string

// Periods.
const (
	// PeriodAll is one bucket for the whole range, labelled "all".
	PeriodAll Period = "all"
	// PeriodWeek buckets by ISO 8601 week (Monday 00:00 to the next
	// Monday), labelled like "2026-W02" with the ISO week-numbering year.
	PeriodWeek Period = "week"
	// PeriodMonth buckets by calendar month, labelled like "2026-01".
	PeriodMonth Period = "month"
	// PeriodQuarter buckets by calendar quarter, labelled like "2026-Q1".
	PeriodQuarter Period = "quarter"
)

// ParsePeriod parses a --period value: all, week, month or quarter.
func ParsePeriod(s string) (Period, error) {
	switch p := Period(s); p {
	case PeriodAll, PeriodWeek, PeriodMonth, PeriodQuarter:
		return p, nil
	}
	return "", fmt.Errorf("period %q: want all, week, month or quarter", s)
}

// start returns the start of the period holding t, in loc (zero for
// PeriodAll).
func (p Period) start(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	switch p {
	case PeriodWeek:
		// Monday is day 0 of an ISO week.
		back := (int(t.Weekday()) + 6) % 7
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	case PeriodMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	case PeriodQuarter:
		return time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}

// next returns the start of the period after the one starting at start.
func (p Period) next(start time.Time, loc *time.Location) time.Time {
	y, m, d := start.In(loc).Date()
	switch p {
	case PeriodWeek:
		return time.Date(y, m, d+7, 0, 0, 0, 0, loc)
	case PeriodMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case PeriodQuarter:
		return time.Date(y, m+3, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}

// label names the period starting at start.
func (p Period) label(start time.Time) string {
	switch p {
	case PeriodWeek:
		y, w := start.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case PeriodMonth:
		return start.Format("2006-01")
	case PeriodQuarter:
		return fmt.Sprintf("%04d-Q%d", start.Year(), (int(start.Month())-1)/3+1)
	}
	return "all"
}

// ParseInstant parses a --since or --until value: an RFC 3339 time
// ("2026-01-02T15:04:05+01:00"), or a date ("2026-01-02"), which means
// midnight at the start of that day in loc; with endOfDay, a date means
// the midnight that ends it, so that an exclusive bound includes the day.
func ParseInstant(s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		if endOfDay {
			y, m, day := d.Date()
			d = time.Date(y, m, day+1, 0, 0, 0, 0, loc)
		}
		return d, nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)", s)
}
