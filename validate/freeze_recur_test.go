package validate

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// weekendFreeze replaces the one-off freeze of testConfig with every
// Friday 16:00 to Monday 08:00 in Berlin.
const weekendFreeze = `freezes: [{
	name:     "weekend"
	start:    "2026-01-02T16:00"
	rrule:    "FREQ=WEEKLY;BYDAY=FR"
	duration: "P2DT16H"
	timezone: "Europe/Berlin"
	exdate: ["2027-03-26T16:00", "2027-10-29T16:00"]
}]`

func recurringConfig(freeze string) string {
	i := strings.Index(testConfig, "freezes:")
	j := i + strings.Index(testConfig[i:], "\n")
	return testConfig[:i] + freeze + testConfig[j:]
}

// The gate refuses a window that overlaps an occurrence, on both sides of
// the March and October switches: Monday 08:00 Berlin is 07:00Z in winter
// and 06:00Z in summer.
func TestCheckRecurringFreeze(t *testing.T) {
	tests := []struct {
		name, start, end string
		frozen           bool
	}{
		{"winter Monday 06:30Z is frozen (07:30 CET)", "2026-12-07T06:30:00Z", "2026-12-07T06:45:00Z", true},
		{"winter Monday 07:00Z is free (08:00 CET)", "2026-12-07T07:00:00Z", "2026-12-07T08:00:00Z", false},
		{"summer Monday 06:00Z is free (08:00 CEST), after spring forward", "2027-04-05T06:00:00Z", "2027-04-05T07:00:00Z", false},
		{"summer Monday 05:30Z is frozen (07:30 CEST)", "2027-04-05T05:30:00Z", "2027-04-05T05:45:00Z", true},
		{"the weekend of the March switch is excluded", "2027-03-27T12:00:00Z", "2027-03-27T13:00:00Z", false},
		{"the weekend after the October switch: Friday 15:00Z is 16:00 CET", "2027-11-05T15:00:00Z", "2027-11-05T15:30:00Z", true},
		{"the Friday before it, 14:30Z is 15:30 CET", "2027-11-05T14:30:00Z", "2027-11-05T15:00:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newRepo(t, map[string]string{
				"cab.cue": recurringConfig(weekendFreeze),
				"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", map[string]string{
					"window": `{start: "` + tc.start + `", end: "` + tc.end + `"}`}),
			})
			rep := check(t)
			var msgs []string
			for _, d := range rep.Diagnostics {
				msgs = append(msgs, d.Message)
			}
			frozen := strings.Contains(strings.Join(msgs, "\n"), `change freeze "weekend"`)
			assert.Equal(t, tc.frozen, frozen, "diagnostics: %v", msgs)
		})
	}
}

// A bad recurrence is an error at its line and column in cab.cue.
func TestCheckRecurringFreezePosition(t *testing.T) {
	tests := []struct {
		name, from, to, msg, path string
		col                       int // the line is the one holding to
	}{
		{"rrule", `rrule:    "FREQ=WEEKLY;BYDAY=FR"`, `rrule:    "FREQ=SECONDLY"`, "more often than daily", "freezes.0.rrule", 2},
		{"duration", `duration: "P2DT16H"`, `duration: "P0D"`, "more than nothing", "freezes.0.duration", 2},
		{"exdate", `"2027-10-29T16:00"`, `"2027-10-30T16:00"`, "not an occurrence", "freezes.0.exdate[1]", 31},
		{"start", `start:    "2026-01-02T16:00"`, `start:    "2026-01-03T16:00"`, "start is the first occurrence", "freezes.0.start", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := recurringConfig(strings.Replace(weekendFreeze, tc.from, tc.to, 1))
			require.NotEqual(t, recurringConfig(weekendFreeze), cfg)
			newRepo(t, map[string]string{
				"cab.cue":                            cfg,
				"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
			})
			rep := check(t)
			d := findDiag(t, rep, "cab.cue", tc.msg)
			assert.Equal(t, [2]int{lineOf(t, cfg, tc.to), tc.col}, [2]int{d.Line, d.Column})
			assert.Equal(t, tc.path, d.Path)
			assert.Positive(t, rep.Errors())
		})
	}
}

// lineOf is the 1-based line of s that holds the first occurrence of sub.
func lineOf(t *testing.T, s, sub string) int {
	t.Helper()
	i := strings.Index(s, sub)
	require.GreaterOrEqual(t, i, 0, "%q is not in the text", sub)
	return strings.Count(s[:i], "\n") + 1
}
