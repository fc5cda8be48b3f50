package validate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/model"
)

func TestPostReviewOf(t *testing.T) {
	signed := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	due := signed.AddDate(0, 0, 5)
	none := func(string) bool { return false }
	for _, tt := range []struct {
		name        string
		kind        string
		signedAt    time.Time
		reviewed    func(string) bool
		now         time.Time
		owes, late  bool
		wantDueTime time.Time
	}{
		{"a normal change owes none", "normal", signed, none, due.Add(time.Hour), false, false, time.Time{}},
		{"an unsigned emergency owes none yet", "emergency", time.Time{}, none, due.Add(time.Hour), false, false, time.Time{}},
		{"due, not late", "emergency", signed, none, due, true, false, due},
		{"late after its due time", "emergency", signed, none, due.Add(time.Second), true, true, due},
		{"reviewed is never late", "emergency", signed, func(id string) bool { return id == "CHG-2026-0001" }, due.Add(time.Hour), true, false, due},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, ok := PostReviewOf("CHG-2026-0001", tt.kind, tt.signedAt, 5, tt.reviewed)
			assert.Equal(t, tt.owes, ok)
			assert.Equal(t, tt.late, pr.Overdue(tt.now))
			assert.Equal(t, tt.wantDueTime, pr.Due)
		})
	}
	days := 3
	assert.Equal(t, 3, PostReviewDays(&model.Config{Emergency: &model.EmergencyPolicy{PostReviewDays: &days}}))
	assert.Equal(t, DefaultPostReviewDays, PostReviewDays(nil))
	assert.Equal(t, DefaultPostReviewDays, PostReviewDays(&model.Config{}))
}
