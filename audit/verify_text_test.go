package audit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBreakReadable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		msg      string
		sentence string
		details  []string
	}{
		{"plain", "the ticket on main differs from what was signed", "the ticket on main differs from what was signed", nil},
		{"event data", "reached main without passing the gate: {\n  \"path\": \"changes/p/CHG-2026-0001.cue\",\n  \"reasons\": [\"added by a root commit\", \"no approvals\"]\n}",
			"reached main without passing the gate",
			[]string{"path: changes/p/CHG-2026-0001.cue", "reasons: added by a root commit; no approvals"}},
		{"braces in text, not JSON", "window {start} is odd", "window {start} is odd", nil},
		{"nested object", `bad: {"a": {"y": 2, "x": 1}}`, "bad", []string{"a: x=1, y=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d := Break{Message: tc.msg}.Readable()
			assert.Equal(t, tc.sentence, s)
			assert.Equal(t, tc.details, d)
		})
	}
}
