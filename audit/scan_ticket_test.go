package audit

import (
	"testing"
	"unicode/utf8"

	"cuelang.org/go/cue/literal"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/forge"
)

func TestParseTicketMeta(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want ticketMeta
	}{
		{"plain", `apiVersion: "cab.dev/v1"
id: "CHG-2026-0001"
title: "Promote payments"
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["staging", "prod"]
window: {start: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z"}
`, ticketMeta{Title: "Promote payments", Kind: "normal", Risk: "high", Owner: "team-payments", Environments: []string{"staging", "prod"}}},
		{"comments, quoted labels, escapes and a multi-line list", `// a comment
"title": "a \"quoted\" title, with \u00e9" // trailing comment
kind: "emergency"
environments: [
	"staging",
	"prod",
]
`, ticketMeta{Title: "a \"quoted\" title, with é", Kind: "emergency", Environments: []string{"staging", "prod"}}},
		{"multi-line string", "title: \"\"\"\n\tline one\n\tline two\n\t\"\"\"\nrisk: \"low\"\n",
			ticketMeta{Title: "line one\nline two", Risk: "low"}},
		{"nested fields of the same name are not the ticket's", `links: {title: "no", kind: "no"}
actions: [{risk: "no"}]
title: "yes"
`, ticketMeta{Title: "yes"}},
		{"not plain data", `title: "a" + "b"
kind: normal
risk: "\(x)"
environments: ["a", b]
`, ticketMeta{Problem: "title is not a plain string; kind is not a plain string; risk is not a plain string; environments is not a list of strings"}},
		{"empty list", "environments: []\n", ticketMeta{Environments: []string{}}},
		{"does not scan", "title: \"unterminated\n", ticketMeta{Problem: "does not scan as CUE; title is not a plain string"}},
		{"empty file", "", ticketMeta{}},
		// literal.Unquote panics on this escape (cue v0.17.1).
		{"an escape out of range", "title: \"\\U80000000\"\nrisk: \"low\"\n", ticketMeta{Risk: "low", Problem: "does not scan as CUE; title is not a plain string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, parseTicketMeta([]byte(tc.src)))
		})
	}
}

func TestPathRules(t *testing.T) {
	assert.True(t, ticketPath("changes/payments/CHG-2026-0001.cue"))
	assert.True(t, ticketPath("changes/a/b/CHG-2026-0001.cue"))
	assert.False(t, ticketPath("changes/payments/README.md"))
	assert.False(t, ticketPath("policy/x.cue"))
	assert.Equal(t, "CHG-2026-0001", ticketIDOf("changes/payments/CHG-2026-0001.cue"))
	assert.Equal(t, "payments", serviceOf("changes/payments/CHG-2026-0001.cue"))
	assert.Equal(t, "", serviceOf("changes/CHG-2026-0001.cue"))
	for msg, want := range map[string]int64{
		"Merge pull request #5099 from kturing/chg-2026-1657\n\nRelease":      5099,
		"Add CHG-2026-0005 (#7)\n":                                            7,
		"Merge branch 'x' into 'main'\n\nSee merge request acme/changes!42\n": 42,
		"Direct push\n":              0,
		"Fix #12 in the middle\n":    0,
		"Merge pull request #x from": 0,
	} {
		assert.Equal(t, want, forge.NumberHint(msg), "%q", msg)
	}
}

func FuzzParseTicketMeta(f *testing.F) {
	f.Add([]byte("title: \"x\"\nenvironments: [\"a\"]\n"), "a title")
	f.Add([]byte("title: \"\"\"\n\ta\n\t\"\"\"\n{[(\n"), "\"quoted\"\n\\(x)")
	f.Fuzz(func(t *testing.T, src []byte, title string) {
		_ = parseTicketMeta(src) // never panics, whatever the file
		if !utf8.ValidString(title) {
			return
		}
		// A title written as CUE reads back as it was.
		m := parseTicketMeta([]byte("id: \"CHG-2026-0001\"\ntitle: " + literal.String.Quote(title) + "\nrisk: \"low\"\n"))
		assert.Equal(t, ticketMeta{Title: title, Risk: "low"}, m)
	})
}

// The fast reader answers as CUE's scanner does whenever it answers.
func TestFastTicketMeta(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		fast bool // whether the fast reader takes it
	}{
		{"the layout of tickets", ticketSource("CHG-2026-0001", `a "quoted", title \u00e9`, "normal", "high", "payments", "staging", "prod") +
			"actions: [{\n\ttype: \"oci\"\n\ttarget: \"images\"\n}, {\n\tthreshold: 0.25 // comment\n}]\nrollback: {auto: true}\n", true},
		{"comments, commas, CRLF and a quoted label", "// head\n\"title\": \"t\", // c\r\nkind: \"k\"\r\nenvironments: [\n\t\"a\", // first\n\t\"b\"\n]\n", true},
		{"nested fields of the same name", "links: {title: \"no\"}\ntitle: \"yes\"\n", true},
		{"empty", "", true},
		{"a multi-line string", "description: \"\"\"\n\tx\n\t\"\"\"\ntitle: \"t\"\n", false},
		{"a multi-line title", "title: \"\"\"\n\tx\n\t\"\"\"\n", false},
		{"an interpolation", "title: \"a\\(b)\"\n", false},
		{"two fields on a line", "title: \"a\", kind: \"b\"\n", false},
		{"a value going on", "title: \"a\" +\n\t\"b\"\n", false},
		{"a value going on elsewhere", "x: 1 +\n\t2\ntitle: \"a\"\n", false},
		{"a field twice", "title: \"a\"\ntitle: \"a\"\n", false},
		{"a package clause", "package tickets\ntitle: \"a\"\n", false},
		{"a raw string", "x: #\"a\"#\ntitle: \"a\"\n", false},
		{"not a string", "kind: normal\n", false},
		{"unbalanced", "x: {\ntitle: \"a\"\n", false},
		{"not ASCII", "tïtle: \"a\"\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fastTicketMeta([]byte(tc.src))
			assert.Equal(t, tc.fast, ok)
			if ok {
				assert.Equal(t, scanTicketMeta([]byte(tc.src)), got)
			}
		})
	}
}

func FuzzFastTicketMeta(f *testing.F) {
	f.Add([]byte(ticketSource("CHG-2026-0001", "t", "normal", "high", "payments", "staging", "prod")))
	f.Add([]byte("\"title\": \"t\", // c\r\nkind: \"k\\u00e9\"\nenvironments: [\n\t\"a\", // first\n\t\"b\"\n]\nx: {a: [1, \"}\"]}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if got, ok := fastTicketMeta(src); ok {
			require.Equal(t, scanTicketMeta(src), got, "%q", src)
		}
	})
}
