package calendar

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

// weekend is every Friday 16:00 to Monday 08:00 in Berlin, from Friday
// 2027-01-01 (a Friday).
var weekend = model.Freeze{Name: "weekend", Start: "2027-01-01T16:00", RRule: "FREQ=WEEKLY;BYDAY=FR",
	Duration: "P2DT16H", Timezone: "Europe/Berlin", ExDate: []string{"2027-12-24T16:00"}}

func spans(t *testing.T, c Calendar, start, end string, envs ...string) [][2]string {
	t.Helper()
	var out [][2]string
	for _, s := range c.Overlapping(utc(start), utc(end), envs) {
		out = append(out, [2]string{s.Start.UTC().Format(time.RFC3339), s.End.UTC().Format(time.RFC3339)})
	}
	return out
}

func TestRecurringAcrossDST(t *testing.T) {
	cal, err := New([]model.Freeze{weekend})
	require.NoError(t, err)
	tests := []struct {
		name       string
		start, end string
		want       [][2]string
	}{
		// Winter (UTC+1): Fri 16:00 = 15:00Z, Mon 08:00 = 07:00Z.
		{"winter weekend", "2027-01-13T00:00:00Z", "2027-01-16T00:00:00Z",
			[][2]string{{"2027-01-15T15:00:00Z", "2027-01-18T07:00:00Z"}}},
		// Clocks go forward Sun 2027-03-28 02:00: Friday is UTC+1, Monday UTC+2.
		// The freeze is 63 hours long and still ends at 08:00 on the wall clock.
		{"spring forward inside the freeze", "2027-03-27T00:00:00Z", "2027-03-27T01:00:00Z",
			[][2]string{{"2027-03-26T15:00:00Z", "2027-03-29T06:00:00Z"}}},
		// Clocks go back Sun 2027-10-31 03:00: Friday UTC+2, Monday UTC+1 (65 hours).
		{"fall back inside the freeze", "2027-10-31T12:00:00Z", "2027-10-31T13:00:00Z",
			[][2]string{{"2027-10-29T14:00:00Z", "2027-11-01T07:00:00Z"}}},
		{"summer weekend", "2027-07-05T05:59:00Z", "2027-07-05T06:00:00Z",
			[][2]string{{"2027-07-02T14:00:00Z", "2027-07-05T06:00:00Z"}}},
		{"monday 08:00 in summer is free (exclusive end)", "2027-07-05T06:00:00Z", "2027-07-05T07:00:00Z", nil},
		{"a window over two weekends sees both", "2027-06-01T00:00:00Z", "2027-06-10T00:00:00Z",
			[][2]string{{"2027-06-04T14:00:00Z", "2027-06-07T06:00:00Z"}}},
		{"a window over two weekends sees both (wider)", "2027-06-01T00:00:00Z", "2027-06-12T00:00:00Z",
			[][2]string{{"2027-06-04T14:00:00Z", "2027-06-07T06:00:00Z"}, {"2027-06-11T14:00:00Z", "2027-06-14T06:00:00Z"}}},
		{"an excluded occurrence does not freeze", "2027-12-25T12:00:00Z", "2027-12-25T13:00:00Z", nil},
		{"the next one does", "2028-01-01T12:00:00Z", "2028-01-01T13:00:00Z",
			[][2]string{{"2027-12-31T15:00:00Z", "2028-01-03T07:00:00Z"}}},
		{"before the first occurrence", "2026-12-30T00:00:00Z", "2027-01-01T15:00:00Z", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, spans(t, cal, tc.start, tc.end))
		})
	}
}

func TestRecurringShapes(t *testing.T) {
	tests := []struct {
		name       string
		freeze     model.Freeze
		start, end string
		want       [][2]string
	}{
		{"month-end close: last two days of each month",
			model.Freeze{Name: "close", Start: "2027-01-30T00:00", RRule: "FREQ=MONTHLY;BYMONTHDAY=-2", Duration: "P2D", Timezone: "America/New_York"},
			"2027-02-01T00:00:00Z", "2027-03-31T00:00:00Z",
			// Feb 27 00:00 EST = 05:00Z to Mar 1 00:00 EST; Mar 30 00:00 EDT = 04:00Z.
			[][2]string{{"2027-01-30T05:00:00Z", "2027-02-01T05:00:00Z"}, {"2027-02-27T05:00:00Z", "2027-03-01T05:00:00Z"}, {"2027-03-30T04:00:00Z", "2027-04-01T04:00:00Z"}}},
		{"yearly holiday freeze with UNTIL in UTC",
			model.Freeze{Name: "xmas", Start: "2026-12-20T00:00", RRule: "FREQ=YEARLY;UNTIL=20271231T000000Z", Duration: "P15D", Timezone: "Europe/Berlin"},
			"2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z",
			[][2]string{{"2026-12-19T23:00:00Z", "2027-01-03T23:00:00Z"}, {"2027-12-19T23:00:00Z", "2028-01-03T23:00:00Z"}}},
		{"COUNT ends the rule",
			model.Freeze{Name: "three", Start: "2027-01-04T09:00", RRule: "FREQ=DAILY;COUNT=3", Duration: "PT1H", Timezone: "UTC"},
			"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z",
			[][2]string{{"2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z"}, {"2027-01-05T09:00:00Z", "2027-01-05T10:00:00Z"}, {"2027-01-06T09:00:00Z", "2027-01-06T10:00:00Z"}}},
		{"an occurrence starting in the spring gap moves forward",
			model.Freeze{Name: "night", Start: "2027-03-27T02:30", RRule: "FREQ=DAILY;COUNT=2", Duration: "PT2H", Timezone: "Europe/Berlin"},
			"2027-03-28T00:00:00Z", "2027-03-29T00:00:00Z",
			// 2027-03-28 02:30 does not exist: like a one-off start it moves
			// forward by the gap, to 03:30 CEST = 01:30Z; 04:30 CEST = 02:30Z.
			[][2]string{{"2027-03-28T01:30:00Z", "2027-03-28T02:30:00Z"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cal, err := New([]model.Freeze{tc.freeze})
			require.NoError(t, err)
			assert.Equal(t, tc.want, spans(t, cal, tc.start, tc.end))
		})
	}
}

func TestRecurringErrors(t *testing.T) {
	base := func(mod func(*model.Freeze)) model.Freeze {
		f := model.Freeze{Name: "w", Start: "2027-01-01T16:00", RRule: "FREQ=WEEKLY;BYDAY=FR", Duration: "P2DT16H", Timezone: "Europe/Berlin"}
		mod(&f)
		return f
	}
	tests := []struct {
		name   string
		freeze model.Freeze
		field  string
		msg    string
	}{
		{"secondly is refused", base(func(f *model.Freeze) { f.RRule = "FREQ=SECONDLY" }), "rrule", "more often than daily"},
		{"minutely is refused", base(func(f *model.Freeze) { f.RRule = "FREQ=MINUTELY;INTERVAL=5" }), "rrule", "more often than daily"},
		{"hourly is refused", base(func(f *model.Freeze) { f.RRule = "FREQ=HOURLY" }), "rrule", "BYHOUR"},
		{"unknown property", base(func(f *model.Freeze) { f.RRule = "FREQ=WEEKLY;BYDAYS=FR" }), "rrule", "unknown RRULE property"},
		{"bad weekday", base(func(f *model.Freeze) { f.RRule = "FREQ=WEEKLY;BYDAY=XX" }), "rrule", "XX"},
		{"out of range", base(func(f *model.Freeze) { f.RRule = "FREQ=MONTHLY;BYMONTHDAY=32" }), "rrule", "bymonthday"},
		{"count and until", base(func(f *model.Freeze) { f.RRule = "FREQ=WEEKLY;COUNT=3;UNTIL=20270601T000000Z" }), "rrule", "COUNT and UNTIL"},
		{"dtstart inside the rule", base(func(f *model.Freeze) { f.RRule = "FREQ=WEEKLY;DTSTART=20270101T160000" }), "rrule", "DTSTART"},
		{"no duration", base(func(f *model.Freeze) { f.Duration = "" }), "rrule", "needs a duration"},
		{"end and rrule", base(func(f *model.Freeze) { f.End = "2027-01-04T08:00" }), "end", "not an end"},
		{"bad duration", base(func(f *model.Freeze) { f.Duration = "2 days" }), "duration", "ISO 8601"},
		{"empty duration", base(func(f *model.Freeze) { f.Duration = "PT" }), "duration", "ISO 8601"},
		{"zero duration", base(func(f *model.Freeze) { f.Duration = "P0D" }), "duration", "more than nothing"},
		{"too long", base(func(f *model.Freeze) { f.Duration = "P400D" }), "duration", "366 days"},
		{"start is not an occurrence", base(func(f *model.Freeze) { f.Start = "2027-01-02T16:00" }), "start", "not an occurrence"},
		{"a rule that never occurs", base(func(f *model.Freeze) { f.RRule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30" }), "start", "not an occurrence"},
		{"exdate not an occurrence", base(func(f *model.Freeze) { f.ExDate = []string{"2027-01-08T16:00", "2027-01-09T16:00"} }), "exdate[1]", "not an occurrence"},
		{"exdate not a time", base(func(f *model.Freeze) { f.ExDate = []string{"Christmas"} }), "exdate[0]", "want local time"},
		{"unknown zone", base(func(f *model.Freeze) { f.Timezone = "Europe/Atlantis" }), "timezone", "unknown time zone"},
		{"host zone", base(func(f *model.Freeze) { f.Timezone = "Local" }), "timezone", "unknown time zone"},
		{"one-off with a duration", model.Freeze{Name: "x", Start: "2027-01-01T00:00", End: "2027-01-02T00:00", Duration: "P1D", Timezone: "UTC"}, "duration", "needs an rrule"},
		{"one-off with an exdate", model.Freeze{Name: "x", Start: "2027-01-01T00:00", End: "2027-01-02T00:00", ExDate: []string{"2027-01-01T00:00"}, Timezone: "UTC"}, "exdate", "needs an rrule"},
		{"neither end nor rrule", model.Freeze{Name: "x", Start: "2027-01-01T00:00", Timezone: "UTC"}, "start", "neither end nor rrule"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]model.Freeze{{Name: "ok", Start: "2027-01-01T00:00", End: "2027-01-02T00:00", Timezone: "UTC"}, tc.freeze})
			require.Error(t, err)
			var fe *FreezeError
			require.True(t, errors.As(err, &fe), "want a FreezeError, got %T", err)
			assert.Equal(t, 1, fe.Index)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestRecurringBounds(t *testing.T) {
	t.Run("a window far from the start answers, frozen, past MaxSteps", func(t *testing.T) {
		// BYHOUR makes 24 daily occurrences: MaxSteps is about 11 years.
		cal, err := New([]model.Freeze{{Name: "dense", Start: "2027-01-01T00:00", RRule: "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
			Duration: "PT30M", Timezone: "UTC"}})
		require.NoError(t, err)
		got := cal.Overlapping(utc("2090-01-01T00:40:00Z"), utc("2090-01-01T00:50:00Z"), nil)
		require.Len(t, got, 1)
		assert.Contains(t, got[0].Reason, ErrTooDense.Error())
		assert.Equal(t, utc("2090-01-01T00:40:00Z"), got[0].Start, "the whole window is frozen")
		near := cal.Overlapping(utc("2027-01-01T00:40:00Z"), utc("2027-01-01T00:50:00Z"), nil)
		assert.Empty(t, near, "between two occurrences nothing is frozen")
	})
	t.Run("a long window returns at most MaxOccurrences", func(t *testing.T) {
		cal, err := New([]model.Freeze{{Name: "daily", Start: "2027-01-01T00:00", RRule: "FREQ=DAILY", Duration: "PT1H", Timezone: "UTC"}})
		require.NoError(t, err)
		got := cal.Overlapping(utc("2027-01-01T00:00:00Z"), utc("2037-01-01T00:00:00Z"), nil)
		assert.Len(t, got, MaxOccurrences)
	})
	t.Run("no COUNT or UNTIL is fine, far in the future", func(t *testing.T) {
		cal, err := New([]model.Freeze{weekend})
		require.NoError(t, err)
		got := cal.Active(utc("2100-01-02T12:00:00Z"), []string{"prod"}) // a Saturday
		require.Len(t, got, 1)
		assert.Equal(t, utc("2100-01-01T15:00:00Z"), got[0].Start.UTC())
	})
}

func TestCalendarMixed(t *testing.T) {
	prodWeekend := weekend
	prodWeekend.Environments = []string{"prod"}
	cal, err := New([]model.Freeze{
		{Name: "ye", Start: "2027-12-20T00:00", End: "2028-01-04T00:00", Timezone: "Europe/Berlin"},
		prodWeekend,
	})
	require.NoError(t, err)
	assert.Equal(t, 2, cal.Len())
	sat := utc("2027-06-05T12:00:00Z")
	assert.Empty(t, cal.Active(sat, []string{"staging"}), "the weekend freeze is for prod only")
	require.Len(t, cal.Active(sat, []string{"staging", "prod"}), 1)
	listing := cal.Listing(utc("2027-06-01T00:00:00Z"), utc("2027-06-15T00:00:00Z"))
	var names []string
	for _, s := range listing {
		names = append(names, s.Name+"@"+s.Start.UTC().Format("01-02"))
	}
	assert.Equal(t, []string{"ye@12-19", "weekend@06-04", "weekend@06-11"}, names)
}
