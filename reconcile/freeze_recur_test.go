package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile"
)

// A recurring freeze holds at apply on the wall clock of its zone, on both
// sides of a daylight-saving switch: every Tuesday 23:00 to Wednesday 01:00
// Berlin is 22:00Z-00:00Z in winter and 21:00Z-23:00Z in summer.
func TestRecurringFreezeAcrossDST(t *testing.T) {
	const freeze = `freezes: [{name: "tuesday-night", start: "2026-11-03T23:00", rrule: "FREQ=WEEKLY;BYDAY=TU", duration: "PT2H", timezone: "Europe/Berlin", environments: ["prod"]}]`
	summer := time.Date(2027, 6, 1, 23, 30, 0, 0, time.UTC) // Wed 01:30 CEST: free
	tests := []struct {
		name   string
		at     time.Time
		frozen bool
	}{
		{"winter Tuesday 22:30Z is 23:30 CET", now, true},
		{"summer Tuesday 23:30Z is 01:30 CEST", summer, false},
		{"summer Tuesday 22:30Z is 00:30 CEST", summer.Add(-time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, freeze, nil)
			img := f.reg.push(t, "build/payments")
			f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, envs: []string{"prod"},
				start: tc.at.Add(-time.Hour), end: tc.at.Add(time.Hour)})
			o := f.options(f.clone())
			o.Now = func() time.Time { return tc.at }
			_, err := reconcile.Run(context.Background(), o)
			require.NoError(t, err)
			if tc.frozen {
				assert.Equal(t, []string{"signed", "prod:scheduled"}, f.events()["CHG-2026-0001"])
				assert.Contains(t, f.reason("CHG-2026-0001", "prod"), `freeze \"tuesday-night\"`)
				return
			}
			assert.Equal(t, []string{"signed", "prod:applying", "prod:applied", "prod:verified"}, f.events()["CHG-2026-0001"])
		})
	}
}
