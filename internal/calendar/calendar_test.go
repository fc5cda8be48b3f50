package calendar

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestResolve(t *testing.T) {
	yes := true
	tests := []struct {
		name       string
		freeze     model.Freeze
		start, end string
		inclusive  bool
	}{
		{name: "winter time", freeze: model.Freeze{Name: "ye", Start: "2026-12-20T00:00", End: "2027-01-04T00:00", Timezone: "Europe/Berlin"},
			start: "2026-12-19T23:00:00Z", end: "2027-01-03T23:00:00Z"},
		{name: "summer time, seconds", freeze: model.Freeze{Name: "s", Start: "2027-07-01T09:30:15", End: "2027-07-01T18:00", Timezone: "Europe/Berlin"},
			start: "2027-07-01T07:30:15Z", end: "2027-07-01T16:00:00Z"},
		{name: "across spring forward", freeze: model.Freeze{Name: "dst", Start: "2027-03-28T00:00", End: "2027-03-29T00:00", Timezone: "Europe/Berlin"},
			start: "2027-03-27T23:00:00Z", end: "2027-03-28T22:00:00Z"}, // a 23-hour day
		{name: "across fall back", freeze: model.Freeze{Name: "dst", Start: "2027-10-31T00:00", End: "2027-11-01T00:00", Timezone: "Europe/Berlin"},
			start: "2027-10-30T22:00:00Z", end: "2027-10-31T23:00:00Z"}, // a 25-hour day
		{name: "start in the spring gap moves forward", freeze: model.Freeze{Name: "gap", Start: "2027-03-28T02:30", End: "2027-03-28T04:00", Timezone: "Europe/Berlin"},
			start: "2027-03-28T01:30:00Z", end: "2027-03-28T02:00:00Z"},
		{name: "ambiguous autumn start is the earlier instant", freeze: model.Freeze{Name: "amb", Start: "2027-10-31T02:30", End: "2027-10-31T05:00", Timezone: "Europe/Berlin"},
			start: "2027-10-31T00:30:00Z", end: "2027-10-31T04:00:00Z"},
		{name: "ambiguous autumn end is the later instant", freeze: model.Freeze{Name: "amb", Start: "2027-10-31T00:00", End: "2027-10-31T02:30", Timezone: "Europe/Berlin"},
			start: "2027-10-30T22:00:00Z", end: "2027-10-31T01:30:00Z"},
		{name: "US zone", freeze: model.Freeze{Name: "bf", Start: "2026-11-27T00:00", End: "2026-11-30T23:59", Timezone: "America/New_York", EndInclusive: &yes},
			start: "2026-11-27T05:00:00Z", end: "2026-12-01T04:59:00Z", inclusive: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Resolve(tc.freeze)
			require.NoError(t, err)
			assert.Equal(t, utc(tc.start), s.Start.UTC(), "start")
			assert.Equal(t, utc(tc.end), s.End.UTC(), "end")
			assert.Equal(t, tc.inclusive, s.EndInclusive)
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name   string
		freeze model.Freeze
		msg    string
	}{
		{"unknown zone", model.Freeze{Name: "x", Start: "2026-12-20T00:00", End: "2026-12-21T00:00", Timezone: "Mars/Olympus"}, `unknown time zone "Mars/Olympus"`},
		{"abbreviation is not a zone", model.Freeze{Name: "x", Start: "2026-12-20T00:00", End: "2026-12-21T00:00", Timezone: "CEST"}, "unknown time zone"},
		{"end before start", model.Freeze{Name: "x", Start: "2026-12-21T00:00", End: "2026-12-20T00:00", Timezone: "UTC"}, "is not after start"},
		{"bad time", model.Freeze{Name: "x", Start: "20 Dec", End: "2026-12-20T00:00", Timezone: "UTC"}, "start: want local time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(tc.freeze)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestContainsAndOverlaps(t *testing.T) {
	excl := Span{Start: utc("2026-12-20T00:00:00Z"), End: utc("2026-12-21T00:00:00Z")}
	incl := excl
	incl.EndInclusive = true
	tests := []struct {
		name       string
		span       Span
		at         string
		contains   bool
		start, end string
		overlaps   bool
	}{
		{"start is frozen", excl, "2026-12-20T00:00:00Z", true, "2026-12-19T23:00:00Z", "2026-12-20T00:00:00Z", false},
		{"exclusive end is free", excl, "2026-12-21T00:00:00Z", false, "2026-12-21T00:00:00Z", "2026-12-21T01:00:00Z", false},
		{"inclusive end is frozen", incl, "2026-12-21T00:00:00Z", true, "2026-12-21T00:00:00Z", "2026-12-21T01:00:00Z", true},
		{"inside", excl, "2026-12-20T12:00:00Z", true, "2026-12-20T11:00:00Z", "2026-12-20T12:00:00Z", true},
		{"window spanning the freeze", excl, "2026-12-19T12:00:00Z", false, "2026-12-19T00:00:00Z", "2026-12-22T00:00:00Z", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.contains, tc.span.Contains(utc(tc.at)), "Contains(%s)", tc.at)
			assert.Equal(t, tc.overlaps, tc.span.Overlaps(utc(tc.start), utc(tc.end)), "Overlaps(%s, %s)", tc.start, tc.end)
		})
	}
}

func TestOverlappingByEnvironment(t *testing.T) {
	cal, err := New([]model.Freeze{
		{Name: "all", Start: "2026-12-20T00:00", End: "2026-12-21T00:00", Timezone: "UTC"},
		{Name: "prod-only", Start: "2026-12-20T00:00", End: "2026-12-21T00:00", Timezone: "UTC", Environments: []string{"prod"}},
	})
	require.NoError(t, err)
	names := func(spans []Span) []string {
		var out []string
		for _, s := range spans {
			out = append(out, s.Name)
		}
		return out
	}
	start, end := utc("2026-12-20T10:00:00Z"), utc("2026-12-20T11:00:00Z")
	assert.Equal(t, []string{"all"}, names(cal.Overlapping(start, end, []string{"staging"})))
	assert.Equal(t, []string{"all", "prod-only"}, names(cal.Overlapping(start, end, []string{"staging", "prod"})))
}
