package audit_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
)

// A ticket on main is judged from its canonical JSON whether that comes
// from schema.ExportData or, when it refuses or the signature fails
// against it, from ParseTicket: an edit that keeps the data verifies
// either way, one that changes it or leaves the schema breaks with the
// words ParseTicket's verdict has always had.
func TestVerifyJudgesTheDataWhicheverWayItIsRead(t *testing.T) {
	tests := []struct {
		name string
		// re and repl edit the first ticket whose file re matches.
		re, repl string
		// what is the break (""; verified), message how its message
		// starts.
		what, message string
	}{
		{name: "reformatted", re: `(?m)^(risk:)\s+`, repl: "// a comment\n$1\t"},
		{name: "a raw string", re: `"cab.dev/v1"`, repl: `#"cab.dev/v1"#`},
		{name: "a number CUE writes otherwise", re: `expectStatus:\s+200`, repl: "expectStatus: 2_00"},
		{name: "a label twice", re: `(?m)^(risk:\s+"\w+")`, repl: "$1\n$1"},
		{name: "a value changed", re: `(?m)^title:.*$`, repl: `title: "Something else entirely"`,
			what: "changed", message: "the ticket on main differs from what was signed at merge "},
		{name: "a field the schema does not know", re: `(?m)^(risk:.*)$`, repl: "$1\nunknown: 1",
			what: "changed", message: "the ticket on main no longer parses: "},
		{name: "not data", re: `(?m)^owner:.*$`, repl: "owner: service",
			what: "changed", message: "the ticket on main no longer parses: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newSignedWorld(t)
			re := regexp.MustCompile(tc.re)
			var edited string
			for _, p := range w.tickets {
				b, err := os.ReadFile(filepath.Join(w.dir, p))
				require.NoError(t, err)
				if re.Match(b) {
					edited = p
					w.commit(t, "edit "+p, func(dir string) {
						require.NoError(t, os.WriteFile(filepath.Join(dir, p), re.ReplaceAll(b, []byte(tc.repl)), 0o644))
					})
					break
				}
			}
			require.NotEmpty(t, edited, "a ticket matching %s", tc.re)
			for _, noCache := range []bool{true, false, false} { // the last with the cache the one before left
				rep := w.verify(t, audit.VerifyOptions{NoCache: noCache})
				assert.Equal(t, len(w.tickets), rep.Tickets)
				if tc.what == "" {
					assert.Empty(t, rep.Breaks)
					assert.Equal(t, len(w.tickets), rep.Signed)
					continue
				}
				require.Len(t, rep.Breaks, 1)
				assert.Equal(t, edited, rep.Breaks[0].Path)
				assert.Equal(t, tc.what, rep.Breaks[0].What)
				assert.Regexp(t, "^"+regexp.QuoteMeta(tc.message), rep.Breaks[0].Message)
				assert.Equal(t, len(w.tickets)-1, rep.Signed)
			}
		})
	}
}
