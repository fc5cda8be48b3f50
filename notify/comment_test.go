package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/audit"
)

func TestMarkdown(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
		max            int
	}{
		{"plain text stays", "Promote payments 1.4.2", "Promote payments 1.4.2", 200},
		{"html is inert", `<img src=x onerror="alert(1)">`, "&#60;img src=x onerror=&#34;alert&#40;1&#41;&#34;&#62;", 200},
		{"emphasis and code", "**bold** _it_ `code`", "&#42;&#42;bold&#42;&#42; &#95;it&#95; &#96;code&#96;", 200},
		{"links and images", "![x](javascript:alert(1)) [a](b)", "&#33;&#91;x&#93;&#40;javascript&#58;alert&#40;1&#41;&#41; &#91;a&#93;&#40;b&#41;", 200},
		{"table cells and lines", "a | b\n| c |", "a &#124; b &#124; c &#124;", 200},
		{"mentions and references", "@org/team #12 !3", "&#64;org/team &#35;12 &#33;3", 200},
		{"control characters go", "a\x00b\x1bc", "abc", 200},
		{"long text is cut", strings.Repeat("x", 10), "xxxx…", 5},
		{"unicode stays", "Prüfung ✓", "Prüfung ✓", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Markdown(tt.in, tt.max))
		})
	}
}

func TestOutcomeComment(t *testing.T) {
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	body := OutcomeComment([]*audit.Change{{ID: "CHG-2026-0042", Title: "x | y", Environments: []audit.EnvOutcome{
		{Env: "staging", Outcome: "verified", At: at}, {Env: "prod", Outcome: "pending"}}}})
	assert.True(t, strings.HasPrefix(body, CommentMarker+"\n"), "the marker finds the comment again")
	assert.Contains(t, body, "| CHG-2026-0042 | x &#124; y | staging | verified | 2026-12-02 12:00:00 UTC |\n")
	assert.Contains(t, body, "| CHG-2026-0042 | x &#124; y | prod | pending | — |\n")
}

// A ticket title goes into a pull request comment as text, whatever
// Markdown or HTML it holds.
func ExampleMarkdown() {
	fmt.Println(Markdown("Promote <b>now</b> | @oncall", 200))
	// Output: Promote &#60;b&#62;now&#60;/b&#62; &#124; &#64;oncall
}
