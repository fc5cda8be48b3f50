package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
)

const validTicket = `// a valid ticket
apiVersion: "cab.dev/v1"
id:         "CHG-2026-0042"
title:      "Promote payments 1.4.2 to prod"
kind:       "normal"
risk:       "high"
owner:      "team-payments"
service:    "payments"
environments: ["staging", "prod"]
window: {
	start: "2026-12-01T22:00:00Z"
	end:   "2026-12-02T00:00:00+01:00"
}
actions: [{
	type:   "oci"
	target: "images"
	image:  "ghcr.io/acme/payments@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tag:    "payments"
}]
prechecks: [{type: "http", url: "https://payments.example.com/healthz", expectStatus: 200}]
postchecks: [{type: "prometheus", query: "sum(rate(errors[5m]))", op: "<", threshold: 0.01}]
rollback: auto: true
`

const file = "changes/payments/CHG-2026-0042.cue"

func compileT(t testing.TB) *Schema {
	t.Helper()
	s, err := Compile(nil)
	require.NoError(t, err)
	return s
}

func TestParseTicketValid(t *testing.T) {
	s := compileT(t)
	p, ds := s.ParseTicket(file, []byte(validTicket))
	require.Empty(t, ds, "diagnostics: %v", ds)
	require.NotNil(t, p)
	assert.Equal(t, "CHG-2026-0042", p.Ticket.ID)
	assert.Equal(t, []string{"staging", "prod"}, p.Ticket.Environments)
	require.NotNil(t, p.Ticket.Postchecks[0].Threshold)
	assert.InDelta(t, 0.01, *p.Ticket.Postchecks[0].Threshold, 1e-12)

	// Canonical JSON: sorted keys, compact, and stable.
	var m map[string]any
	require.NoError(t, json.Unmarshal(p.JSON, &m))
	again, err := Canonical(p.JSON)
	require.NoError(t, err)
	assert.Equal(t, string(p.JSON), string(again), "canonical JSON must be a fixed point")
	assert.True(t, bytes.HasPrefix(p.JSON, []byte(`{"actions":`)), "keys sorted: got %s", p.JSON[:20])

	line, col := p.Position("window.end")
	assert.Equal(t, [2]int{12, 2}, [2]int{line, col})
}

// mutate returns validTicket with old replaced by new (which must occur).
func mutate(t *testing.T, old, new string) string {
	t.Helper()
	require.Contains(t, validTicket, old)
	return strings.Replace(validTicket, old, new, 1)
}

func TestParseTicketBadInput(t *testing.T) {
	s := compileT(t)
	tests := []struct {
		name string
		src  string
		file string
		// want holds one expected diagnostic: position, path and a
		// fragment of the message.
		line, col int
		path      string
		msg       string
		code      string
	}{
		{name: "malformed", src: mutate(t, `risk:       "high"`, `risk: "high`), line: 6, col: 7, msg: "string literal not terminated", code: "syntax"},
		{name: "unknown field", src: mutate(t, `owner:`, "colour: \"red\"\nowner:"), line: 7, col: 1, path: "colour", msg: "field not allowed", code: "schema"},
		{name: "unknown nested field", src: mutate(t, `tag:    "payments"`, `tag: "payments", tags: "x"`), line: 18, col: 19, path: "actions.0.tags", msg: "field not allowed", code: "schema"},
		{name: "wrong type", src: mutate(t, `risk:       "high"`, `risk: 3`), line: 6, col: 7, path: "risk", msg: "must be one of", code: "schema"},
		{name: "enum", src: mutate(t, `kind:       "normal"`, `kind: "urgent"`), line: 5, col: 7, path: "kind", msg: `"urgent" is not allowed: must be one of "emergency", "normal", "standard"`, code: "schema"},
		{name: "missing required field", src: mutate(t, "title:      \"Promote payments 1.4.2 to prod\"\n", ""), line: 1, col: 1, path: "title", msg: "field is required but not present", code: "schema"},
		{name: "missing nested required field", src: mutate(t, `op: "<", `, ``), line: 21, col: 14, path: "postchecks.0.op", msg: "required", code: "schema"},
		{name: "id mismatch", src: mutate(t, `"CHG-2026-0042"`, `"CHG-2026-0043"`), line: 3, col: 1, path: "id", msg: `does not match the file name "CHG-2026-0042.cue"`, code: "schema"},
		{name: "bad id", src: mutate(t, `"CHG-2026-0042"`, `"change-42"`), line: 3, col: 13, path: "id", msg: `"change-42" does not have the required format`, code: "schema"},
		{name: "window end before start", src: mutate(t, `end:   "2026-12-02T00:00:00+01:00"`, `end: "2026-12-01T21:00:00Z"`), line: 12, col: 2, path: "window.end", msg: "window.end must be after window.start", code: "schema"},
		{name: "window not RFC 3339", src: mutate(t, `start: "2026-12-01T22:00:00Z"`, `start: "2026-12-01 22:00"`), line: 11, col: 9, path: "window.start", msg: `"2026-12-01 22:00" is not an RFC 3339 time with an offset`, code: "schema"},
		{name: "emergency without incident", src: mutate(t, `kind:       "normal"`, `kind: "emergency"`), line: 5, col: 1, path: "incident", msg: "required", code: "schema"},
		{name: "fixes is not a ticket id", src: mutate(t, `rollback: auto: true`, "rollback: auto: true\nincident: {id: \"INC-7\", url: \"https://status.example.com/INC-7\"}\nfixes: [\"CHG-2026-0041\", \"chg-41\"]"), line: 24, col: 26, path: "fixes.1", msg: "does not have the required format", code: "schema"},
		{name: "fixes without incident", src: mutate(t, `rollback: auto: true`, "rollback: auto: true\nfixes: [\"CHG-2026-0041\"]"), line: 5, col: 1, path: "incident", msg: "required", code: "schema"},
		{name: "digest missing", src: mutate(t, `@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`, `:latest`), line: 17, col: 10, path: "actions.0.image", msg: "does not have the required format", code: "schema"},
		{name: "list expected", src: mutate(t, `environments: ["staging", "prod"]`, `environments: "prod"`), line: 9, col: 15, path: "environments", msg: "must be a list, not a string", code: "schema"},
		{name: "duplicate environments", src: mutate(t, `environments: ["staging", "prod"]`, `environments: ["prod", "prod"]`), line: 9, col: 15, path: "environments", msg: "items must be unique", code: "schema"},
		{name: "title too short", src: mutate(t, `"Promote payments 1.4.2 to prod"`, `"x"`), line: 4, col: 13, path: "title", msg: `"x" is too short (at least 3 characters)`, code: "schema"},
		{name: "empty actions", src: mutate(t, `actions: [{`, `actions: [], x: [{`), line: 14, col: 10, path: "actions", msg: "must not be empty", code: "schema"},
		{name: "package clause", src: "package tickets\n" + validTicket, line: 1, col: 1, msg: "package clause", code: "data-only"},
		{name: "import", src: "import \"strings\"\n" + validTicket, line: 1, col: 1, msg: "import", code: "data-only"},
		{name: "reference", src: mutate(t, `owner:      "team-payments"`, `owner: service`), line: 7, col: 8, path: "owner", msg: "a reference (service)", code: "data-only"},
		{name: "selector", src: mutate(t, `owner:      "team-payments"`, `owner: window.start`), line: 7, col: 8, path: "owner", msg: "a reference", code: "data-only"},
		{name: "interpolation", src: mutate(t, `owner:      "team-payments"`, `owner: "team-\(service)"`), line: 7, col: 8, path: "owner", msg: "interpolation", code: "data-only"},
		{name: "comprehension", src: mutate(t, `environments: ["staging", "prod"]`, `environments: [for e in ["prod"] {e}]`), line: 9, col: 16, path: "environments.0", msg: "comprehension", code: "data-only"},
		{name: "disjunction", src: mutate(t, `risk:       "high"`, `risk: "high" | "low"`), line: 6, col: 7, path: "risk", msg: "disjunction", code: "data-only"},
		{name: "default", src: mutate(t, `risk:       "high"`, `risk: *"high" | "low"`), line: 6, col: 7, path: "risk", msg: "disjunction", code: "data-only"},
		{name: "unification", src: mutate(t, `risk:       "high"`, `risk: string & "high"`), line: 6, col: 7, path: "risk", msg: "unification", code: "data-only"},
		{name: "definition", src: validTicket + "#Foo: {a: 1}\n", line: 23, col: 1, path: "#Foo", msg: "definition", code: "data-only"},
		{name: "hidden field", src: validTicket + "_x: 1\n", line: 23, col: 1, path: "_x", msg: "hidden field", code: "data-only"},
		{name: "optional marker", src: mutate(t, `owner:      "team-payments"`, `owner?: "team-payments"`), line: 7, col: 1, path: "owner", msg: "optional field marker", code: "data-only"},
		{name: "pattern label", src: validTicket + "[string]: int\n", line: 23, col: 1, msg: "pattern label", code: "data-only"},
		{name: "ellipsis", src: mutate(t, `environments: ["staging", "prod"]`, `environments: ["staging", ...]`), line: 9, col: 27, path: "environments", msg: "open list", code: "data-only"},
		{name: "bound", src: mutate(t, `expectStatus: 200`, `expectStatus: >=200`), line: 20, col: 87, path: "prechecks.0.expectStatus", msg: "constraint", code: "data-only"},
		{name: "let", src: "let x = 1\n" + validTicket, line: 1, col: 1, msg: "let", code: "data-only"},
		{name: "binary", src: "apiVersion: \"cab.dev/v1\"\n\x00\x01", line: 2, col: 1, msg: "binary", code: "file"},
		{name: "invalid UTF-8", src: "title: \"caf\xe9\"\n", line: 1, col: 12, msg: "not valid UTF-8", code: "file"},
		{name: "oversized", src: validTicket + "// " + strings.Repeat("x", MaxTicketBytes) + "\n", line: 1, col: 1, msg: "more than", code: "file"},
		{name: "deep nesting", src: mutate(t, `rollback: auto: true`, `rollback: auto: `+strings.Repeat("[", 40)+strings.Repeat("]", 40)), line: 22, col: 48, path: "rollback.auto" + strings.Repeat(".0", 31), msg: "nesting deeper than 32 levels", code: "data-only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.file
			if name == "" {
				name = file
			}
			p, ds := s.ParseTicket(name, []byte(tc.src))
			require.Nil(t, p, "a bad ticket must not parse")
			require.NotEmpty(t, ds)
			var found *diag.Diagnostic
			for i := range ds {
				if strings.Contains(ds[i].Message, tc.msg) && ds[i].Path == tc.path {
					found = &ds[i]
				}
				assert.Equal(t, name, ds[i].File, "every diagnostic names the file")
				assert.Equal(t, diag.Error, ds[i].Severity)
				assert.NotEmpty(t, ds[i].Hint, "every diagnostic has a hint: %v", ds[i])
			}
			require.NotNil(t, found, "want a diagnostic at path %q containing %q, got:\n%s", tc.path, tc.msg, text(ds))
			assert.Equal(t, tc.code, found.Code)
			if tc.line > 0 {
				assert.Equal(t, [2]int{tc.line, tc.col}, [2]int{found.Line, found.Column}, "position of %v", found)
			} else {
				assert.Positive(t, found.Line, "a line is always given")
			}
		})
	}
}

func text(ds diag.List) string {
	var b strings.Builder
	_ = diag.WriteText(&b, ds)
	return b.String()
}

// Errors come in rounds: an unknown field hides other errors in its
// struct. The parser looks again without it.
func TestParseTicketReportsHiddenErrors(t *testing.T) {
	s := compileT(t)
	src := mutate(t, `op: "<", `, `bogus: 1, `)
	src = strings.Replace(src, `owner:`, "extra: 1\nowner:", 1)
	_, ds := s.ParseTicket(file, []byte(src))
	var paths []string
	for _, d := range ds {
		paths = append(paths, d.Path)
	}
	assert.Contains(t, paths, "extra")
	assert.Contains(t, paths, "postchecks.0.bogus")
	assert.Contains(t, paths, "postchecks.0.op", "the required field hidden by the unknown one is found in a later round")
}

// An unknown field is reported even when other errors would hide it.
func TestParseTicketUnknownFieldBesideOtherErrors(t *testing.T) {
	s := compileT(t)
	src := mutate(t, `risk:       "high"`, "risk: \"high\"\nrisc: \"low\"")
	src = strings.Replace(src, `image:  "ghcr.io/acme/payments@sha256:`, `image:  "ghcr.io/acme/payments:1.0", x: "`, 1)
	_, ds := s.ParseTicket(file, []byte(src))
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%d:%d %s: %s", d.Line, d.Column, d.Path, d.Message))
	}
	assert.Contains(t, got, "7:1 risc: field not allowed")
	assert.Contains(t, got, "18:39 actions.0.x: field not allowed")
	assert.Len(t, ds, 3, "and the bad image, each once: %v", got)
}

func TestParseTicketStandardNeedsTemplate(t *testing.T) {
	s := compileT(t)
	_, ds := s.ParseTicket(file, []byte(mutate(t, `kind:       "normal"`, `kind: "standard"`)))
	require.Len(t, ds, 1, text(ds))
	assert.Equal(t, "template", ds[0].Path)
}

func TestParseTicketGitAndHTTPActions(t *testing.T) {
	s := compileT(t)
	src := mutate(t, `actions: [{`, `actions: [{
	type: "git", target: "deploy", file: "apps/payments/values.yaml"
	set: {path: ".image.tag", value: "1.4.2"}
}, {
	type: "http", target: "migrations", method: "POST", path: "/run", body: {script: "0042_add_index.sql"}
}, {`)
	p, ds := s.ParseTicket(file, []byte(src))
	require.Empty(t, ds, text(ds))
	require.Len(t, p.Ticket.Actions, 3)
	assert.Equal(t, "1.4.2", p.Ticket.Actions[0].Set.Value)
	assert.JSONEq(t, `{"script":"0042_add_index.sql"}`, string(p.Ticket.Actions[1].Body))

	_, ds = s.ParseTicket(file, []byte(strings.Replace(src, `file: "apps/payments/values.yaml"`, `file: "../../etc/passwd"`, 1)))
	require.NotEmpty(t, ds)
	assert.Equal(t, "actions.0.file", ds[0].Path, "path traversal in a git file is refused: %s", text(ds))
}

func TestParseConfig(t *testing.T) {
	s := compileT(t)
	src := `apiVersion: "cab.dev/v1"
_members: ["github:1", "github:2"]
environments: prod: {protected: true, targets: images: {type: "oci", registry: "registry.example.com/apps"}}
approvers: payments: members: _members
services: payments: approvers: "payments"
freezes: [{name: "ye", start: "2026-12-20T00:00", end: "2027-01-04T00:00", timezone: "Europe/Berlin"}]
`
	c, ds := s.ParseConfig("cab.cue", []byte(src))
	require.Empty(t, ds, text(ds))
	assert.Equal(t, []string{"github:1", "github:2"}, c.Config.Approvers["payments"].Members, "config may use references")
	assert.Equal(t, "oci", c.Config.Environments["prod"].Targets["images"].Type)

	_, ds = s.ParseConfig("cab.cue", []byte(strings.Replace(src, `"github:1"`, `"alice"`, 1)))
	require.NotEmpty(t, ds, "display names are not identities")
	assert.Equal(t, "cab.cue", ds[0].File)
	assert.Equal(t, 2, ds[0].Line)

	_, ds = s.ParseConfig("cab.cue", []byte("import \"tool/exec\"\n"+src))
	require.NotEmpty(t, ds)
	assert.Contains(t, ds[0].Message, `import "tool/exec" is not allowed`)
}

func FuzzParseTicket(f *testing.F) {
	f.Add([]byte(validTicket))
	f.Add([]byte(`apiVersion: "cab.dev/v1", id: "CHG-2026-0042"`))
	f.Add([]byte("a: [[[[[[[[1]]]]]]]]"))
	f.Add([]byte("x: \"\\(y)\""))
	f.Add([]byte("\xff\xfe"))
	s := compileT(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		p, ds := s.ParseTicket(file, src)
		if p == nil {
			require.NotEmpty(t, ds, "a refused ticket has diagnostics")
			for _, d := range ds {
				require.Equal(t, file, d.File)
				require.NotEmpty(t, d.Message)
			}
			return
		}
		require.Empty(t, ds)
		require.True(t, json.Valid(p.JSON))
		require.Equal(t, "CHG-2026-0042", p.Ticket.ID)
	})
}

// DecodeMerged, the fast path for merged tickets, sees what ParseTicket sees.
func TestDecodeMergedAgrees(t *testing.T) {
	s := compileT(t)
	for _, src := range []string{
		validTicket,
		mutate(t, `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", path: "/undo", body: {n: -1.5, ok: true, none: null}}]}`),
		// What the converter cannot take exactly is CUE's to read: a
		// label given twice is one field of both values (a view that kept
		// the last window would have no start, and conflict detection
		// would skip the ticket), and numbers written unusually.
		validTicket + "\nwindow: {start: \"2026-12-01T22:00:00Z\"}\n",
		mutate(t, `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", path: "/undo", body: {n: 1_000, m: 0x10}}]}`),
	} {
		p, ds := s.ParseTicket(file, []byte(src))
		require.Empty(t, ds)
		got, err := DecodeMerged(file, []byte(src))
		require.NoError(t, err)
		want, _ := json.Marshal(p.Ticket)
		have, _ := json.Marshal(got)
		assert.JSONEq(t, string(want), string(have))
	}
	_, err := DecodeMerged(file, []byte("owner: service\n"))
	require.ErrorContains(t, err, "reference")
}
