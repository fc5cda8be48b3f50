package diag

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestString(t *testing.T) {
	tests := []struct {
		name string
		d    Diagnostic
		want string
	}{
		{"full", Diagnostic{File: "a.cue", Line: 3, Column: 7, Path: "risk", Severity: Error, Message: "bad"}, "a.cue:3:7: risk: bad"},
		{"warning with rule", Diagnostic{File: "a.cue", Line: 1, Column: 1, Severity: Warning, Message: "m", Rule: "policy/p.cue:2:3"}, "a.cue:1:1: warning: m (rule policy/p.cue:2:3)"},
		{"no column", Diagnostic{File: "a.cue", Line: 2, Severity: Error, Message: "m"}, "a.cue:2: m"},
		{"no position", Diagnostic{File: "policy", Severity: Error, Message: "m"}, "policy: m"},
		{"path already in message", Diagnostic{File: "a.cue", Line: 1, Column: 1, Path: "id", Severity: Error, Message: "id: x"}, "a.cue:1:1: id: x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.d.String())
		})
	}
}

func TestSortDedupes(t *testing.T) {
	a := Diagnostic{File: "b.cue", Line: 2, Column: 1, Severity: Error, Message: "x"}
	b := Diagnostic{File: "a.cue", Line: 9, Column: 1, Severity: Warning, Message: "y"}
	c := Diagnostic{File: "b.cue", Line: 1, Column: 5, Severity: Error, Message: "z"}
	got := List{a, b, c, a}.Sort()
	assert.Equal(t, List{b, c, a}, got)
	assert.Equal(t, 2, got.Errors())
}

func TestWriteText(t *testing.T) {
	var b strings.Builder
	require.NoError(t, WriteText(&b, List{{File: "a.cue", Line: 1, Column: 2, Severity: Error, Message: "m", Hint: "h"}}))
	assert.Equal(t, "a.cue:1:2: m\n    hint: h\n", b.String())
}
