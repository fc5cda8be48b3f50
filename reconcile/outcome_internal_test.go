package reconcile

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The words older reconcilers recorded when they set a ticket aside for a
// missing merge commit stand for that cause; no other words do.
func TestLegacyMergeMissing(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name, reason string
		want         cause
	}{
		{"as recorded", "the merge commit " + sha + " is not in the repository (fetch main): object not found", "merge-commit-missing:" + sha},
		{"bad signature", "signature: not made by a trusted key", ""},
		{"budget", "evaluation blew its budget: 2s", ""},
		{"path not in the merge", "changes/payments/CHG-2026-0001.cue is not in the merge commit " + sha + ": file not found", ""},
		{"another sentence", "the merge commit " + sha + " was rewritten", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := legacyMergeMissing(tt.reason)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want != "", got.retryable())
		})
	}
	assert.True(t, newCause(causeTargetUnreadable, "prod", "images").retryable())
	assert.False(t, newCause(causeReadmitted, "merge-commit-missing:"+sha).retryable(), "a readmission is no set-aside")
	assert.Equal(t, cause("dependency:CHG-2026-0001/staging"), newCause(causeDependency, "CHG-2026-0001", "staging"))
}
