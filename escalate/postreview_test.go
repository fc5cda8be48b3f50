package escalate

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/notify"
)

// An emergency's post-incident review is told due once, then overdue
// once, through a real webhook sink; one whose review a ticket records is
// never told.
func TestPostReviewsDueThenOverdueOnce(t *testing.T) {
	m := newMergedRepo(t, map[string]string{
		"CHG-2026-0050": emergencyCue("CHG-2026-0050"),
		"CHG-2026-0051": emergencyCue("CHG-2026-0051"),
		"CHG-2026-0052": ticketCue("CHG-2026-0052", "Post-incident review of CHG-2026-0051") + "postReviewOf: \"CHG-2026-0051\"\n",
	})
	n, sink := newNotifier(t, m.dir)
	at := now
	o := PostReviewOptions{Dir: m.dir, Rev: "main", Notifier: n, Now: func() time.Time { return at }}
	ctx := context.Background()
	for _, step := range []struct {
		name  string
		at    time.Time
		polls int
		want  int
	}{
		{"open: due in 2 days", now, 2, 1},
		{"still due", now.Add(24 * time.Hour), 1, 0},
		{"late: overdue", now.Add(48 * time.Hour), 2, 1},
		{"still overdue", now.Add(30 * 24 * time.Hour), 1, 0},
	} {
		at = step.at
		for i := range step.polls {
			got, err := PostReviews(ctx, o)
			require.NoError(t, err, step.name)
			want := step.want
			if i > 0 {
				want = 0
			}
			assert.Equal(t, want, got, "%s, poll %d", step.name, i+1)
		}
	}
	require.Zero(t, n.Flush(ctx))
	evs := sink.got()
	require.Len(t, evs, 2)
	assert.Equal(t, PostReviewEventID(notify.KindPostReviewDue, "CHG-2026-0050"), evs[0].ID)
	assert.Equal(t, notify.KindPostReviewDue, evs[0].Kind)
	assert.Contains(t, evs[0].Reason, "due by 2026-12-04T11:00:00Z", "signed 1h before now, due 2 days later (cab.cue)")
	assert.Equal(t, PostReviewEventID(notify.KindPostReviewOverdue, "CHG-2026-0050"), evs[1].ID)
	assert.Equal(t, notify.KindPostReviewOverdue, evs[1].Kind)
	assert.Equal(t, "CHG-2026-0050", evs[1].Ticket)
	assert.Equal(t, "payments", evs[1].Service)
}
