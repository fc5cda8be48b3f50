package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMayReadNow(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{"named fields only", `deny: [if input.ticket.risk == "high" && input.calendar.windowClosed {"x"}]`, false},
		{"quoted field", `deny: [if input."mode" == "pr" {"x"}]`, false},
		{"a ticket field called now", `deny: [if input.ticket.now != _|_ {"x"}]`, false},
		{"pattern constraint", `x: [string]: int`, false},
		{"input.now", `deny: [if input.now > "2030" {"x"}]`, true},
		{"input quoted now", `deny: [if input."now" > "2030" {"x"}]`, true},
		{"index", `deny: [if input["now"] > "2030" {"x"}]`, true},
		{"dynamic index", `k: "no" + "w"
deny: [if input[k] > "2030" {"x"}]`, true},
		{"let", `let I = input
deny: [if I.now > "2030" {"x"}]`, true},
		{"field holding input", `_i: input
deny: [if _i.now > "2030" {"x"}]`, true},
		{"comprehension", `deny: [for k, v in input if k == "now" {v}]`, true},
		{"builtin argument", `import "encoding/json"
deny: [if json.Marshal(input) != "" {"x"}]`, true},
		{"self", `deny: [if self.input.now > "2030" {"x"}]`, true},
		{"__self", `deny: [if __self.input.now > "2030" {"x"}]`, true},
		{"field named input", `input: now: string
deny: []`, true},
		{"aliased input field", `I=input: _
deny: [if I.now > "2030" {"x"}]`, true},
		{"experiment", `@experiment(aliasv2)
deny: []`, true},
		{"computed label", `("\(input.now)"): 1`, true},
		{"syntax error", `deny: [`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MayReadNow([]File{{Name: "policy/p.cue", Source: []byte("package policy\n" + tt.src)}})
			assert.Equal(t, tt.want, got, "MayReadNow of %s", tt.src)
		})
	}
	assert.False(t, MayReadNow(Defaults()), "the default policies read the time only through input.calendar")
}
