package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogProgress(t *testing.T) {
	var buf bytes.Buffer
	p := &logProgress{w: &buf, start: time.Now()}
	p.update(256)
	assert.Empty(t, buf.String(), "nothing during the first moment of a scan")
	p.clear()
	assert.Empty(t, buf.String(), "nothing to clear")

	p.start = time.Now().Add(-time.Second)
	p.update(512)
	assert.Equal(t, "\r\033[Kscanning main: 512 commits", buf.String())
	p.update(768)
	assert.Equal(t, "\r\033[Kscanning main: 512 commits", buf.String(), "at most ten times a second")
	p.clear()
	assert.Equal(t, "\r\033[Kscanning main: 512 commits\r\033[K", buf.String(), "rows clear the line first")
	var none *logProgress
	none.clear() // not a terminal: no progress, nothing to clear
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in       string
		endOfDay bool
		want     time.Time
		err      string
	}{
		{"", false, time.Time{}, ""},
		{"2026-01-02", false, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), ""},
		{"2026-01-02", true, time.Date(2026, 1, 2, 23, 59, 59, 999999999, time.UTC), ""},
		{"2026-12-31", true, time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC), ""},
		{"2026-01-02T15:04:05Z", true, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), ""},
		{"2026-01-02T16:04:05+01:00", false, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), ""},
		{"2026-01-02T15:04:05", false, time.Time{}, "not a time"},
		{"yesterday", false, time.Time{}, "not a time"},
		{"02/01/2026", false, time.Time{}, "not a time"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTime("since", tc.in, tc.endOfDay)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}
