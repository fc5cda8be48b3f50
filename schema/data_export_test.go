package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportCases are tickets ExportData must convert exactly (ok) or refuse,
// each a change of validTicket: the seeds of FuzzExportData.
var exportCases = []struct {
	name, old, new string
	ok             bool
}{
	{"valid", "", "", true},
	{"escapes", `"Promote payments 1.4.2 to prod"`, `"Promote \"pay\\ments\"\t<&> \u00e9 \U0001F680 1.4.2"`, true},
	{"unicode", `"team-payments"`, `"équipe-paiements ✓ 🚀 ＜"`, true},
	{"multi-line string", `title:      "Promote payments 1.4.2 to prod"`, "title: \"Promote\"\ndescription: \"\"\"\n\tline one\n\t  line \\\"two\\\"\n\t\"\"\"", true},
	{"raw string", `"team-payments"`, `#"team "payments" \n"#`, true},
	{"quoted labels", `risk:       "high"`, `"risk": "high"`, true},
	{"float", `threshold: 0.01`, `threshold: 0.25`, true},
	{"float with a trailing zero", `threshold: 0.01`, `threshold: 1.0`, true},
	{"negative float", `threshold: 0.01`, `threshold: -1.5`, true},
	{"exponent as CUE writes it", `threshold: 0.01`, `threshold: 1E+3`, true},
	{"tiny float", `threshold: 0.01`, `threshold: 0.0000001`, false},
	{"int", `threshold: 0.01`, `threshold: 1000`, true},
	{"separators", `threshold: 0.01`, `threshold: 1_000`, false},
	{"hex", `threshold: 0.01`, `threshold: 0x10`, false},
	{"lower-case exponent", `threshold: 0.01`, `threshold: 1e3`, false},
	{"leading zeros", `threshold: 0.01`, `threshold: 007`, false},
	{"multiplier", `threshold: 0.01`, `threshold: 1Ki`, false},
	{"trailing dot", `threshold: 0.01`, `threshold: 1.`, false},
	{"leading dot", `threshold: 0.01`, `threshold: .5`, false},
	{"negative zero", `threshold: 0.01`, `threshold: -0`, false},
	{"negative zero float", `threshold: 0.01`, `threshold: -0.0`, false},
	{"a label twice, the same", `risk:       "high"`, "risk: \"high\"\nrisk: \"high\"", false},
	{"a label twice, quoted", `risk:       "high"`, "risk: \"high\"\n\"risk\": \"high\"", false},
	{"nested merge", `rollback: auto: true`, "rollback: auto: true\nrollback: actions: [{type: \"http\", target: \"hooks\"}]", false},
	{"nested merge in a struct", `end:   "2026-12-02T00:00:00+01:00"`, "end: \"2026-12-02T00:00:00+01:00\"\n\tend: \"2026-12-02T00:00:00+01:00\"", false},
	{"body data", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", path: "/undo", body: {n: -1.5, ok: true, none: null, l: [1, "a", {}], "a b": []}}]}`, true},
	{"a quoted label CUE normalizes (NFC)", `rollback: auto: true`, "rollback: {actions: [{type: \"http\", target: \"hooks\", body: {\"e\u0301\": 1}}]}", false},
	{"a quoted label CUE normalizes, escaped", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {"\u212B": 1}}]}`, false},
	{"two labels CUE normalizes alike", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {"e\u0301": 1, "\u00e9": 2}}]}`, false},
	{"a quoted label already NFC", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {"\u00e9": 1, "Å": 2}}]}`, true},
	{"a surrogate pair escaped", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: "\ud83d\ude80"}}]}`, true},
	{"a lone surrogate", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: "\ud800"}}]}`, false},
	{"a hex escape in a string", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: "\x41"}}]}`, false},
	{"a huge exponent", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: 1E+400}}]}`, true},
	{"an int beyond int64", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: 9223372036854775808}}]}`, true},
	{"a float of many digits", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: 0.12345678901234567890123456789012345678901234567890}}]}`, true},
	{"an identifier label NFC would change (CUE keeps it)", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {v: {Å: 1}}}]}`, true},
	{"bytes", `rollback: auto: true`, `rollback: {actions: [{type: "http", target: "hooks", body: {b: 'abc'}}]}`, false},
	{"bytes label", `risk:       "high"`, `'risk': "high"`, false},
	{"file attribute", "// a valid ticket\n", "@if(prod)\n", false},
	{"reference", `"team-payments"`, `service`, false},
	{"interpolation", `"team-payments"`, `"team-\(service)"`, false},
	{"default", `"high"`, `*"high" | "low"`, false},
	{"package", "// a valid ticket\n", "package x\n", false},
	{"syntax error", "// a valid ticket\n", "{{\n", false},
}

// ExportData is exact or refuses: what it converts is byte for byte what
// ParseTicket exports, and what CUE exports of the file without the
// schema.
func TestExportDataAgrees(t *testing.T) {
	s := compileT(t)
	for _, tc := range exportCases {
		t.Run(tc.name, func(t *testing.T) {
			src := validTicket
			if tc.old != "" {
				src = mutate(t, tc.old, tc.new)
			}
			got, ok := ExportData(file, []byte(src))
			require.Equal(t, tc.ok, ok, "%s", src)
			if !ok {
				assert.Nil(t, got)
				return
			}
			p, ds := s.ParseTicket(file, []byte(src))
			require.Empty(t, ds, "every case ExportData converts is a valid ticket")
			assert.Equal(t, string(p.JSON), string(got))
			agreesWithCUE(t, s, src, got)
		})
	}
	_, ok := ExportData(file, []byte("\xff"))
	assert.False(t, ok, "not UTF-8")
	got, ok := ExportData(file, []byte(`id: "x"`))
	assert.True(t, ok, "ok says nothing of validity")
	assert.Equal(t, `{"id":"x"}`, string(got))
}

// The example repository's tickets, as people write them, convert exactly.
func TestExportDataAgreesOnTheExamples(t *testing.T) {
	s := compileT(t)
	files, err := filepath.Glob(filepath.Join("..", "examples", "repo", "changes", "*", "*.cue"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	compared := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		name := strings.TrimPrefix(filepath.ToSlash(f), "../examples/repo/")
		p, ds := s.ParseTicket(name, src)
		if len(ds) > 0 {
			continue // an example of a refused ticket
		}
		got, ok := ExportData(name, src)
		require.True(t, ok, name)
		assert.Equal(t, string(p.JSON), string(got), name)
		compared++
	}
	assert.Positive(t, compared, "valid examples")
}

// agreesWithCUE checks that want, which ExportData converted, is CUE's
// canonical export of src alone: plain data that ExportData converts
// always exports (a failure is two labels CUE found in conflict).
func agreesWithCUE(t *testing.T, s *Schema, src string, want []byte) {
	t.Helper()
	f, err := parser.ParseFile(file, src, parser.ParseComments, parser.AllErrors)
	require.NoError(t, err)
	raw, err := s.Context().BuildFile(f).MarshalJSON()
	require.NoError(t, err, "CUE exports what ExportData converts")
	c, err := Canonical(raw)
	require.NoError(t, err)
	require.Equal(t, string(c), string(want), "CUE exports the data as ExportData does")
}

// FuzzExportData holds ExportData to ParseTicket and to CUE: whenever it
// says ok and they accept the file, the bytes are the same.
func FuzzExportData(f *testing.F) {
	for _, tc := range exportCases {
		f.Add(strings.Replace(validTicket, tc.old, tc.new, 1))
	}
	f.Add("a: 1\nb: -2.50\nc: [1.0, 0.5, 1E+3, 12345678901234567890123456789012345678901]\nd: {e: null, f: false}\n")
	f.Add("a: \"\\u00e9\\ud83d\\ude80\\x41\"\n")
	f.Add("a: 1, a: 1\n")
	s := compileT(f)
	f.Fuzz(func(t *testing.T, src string) {
		got, ok := ExportData(file, []byte(src))
		if !ok {
			require.Nil(t, got)
			return
		}
		if p, ds := s.ParseTicket(file, []byte(src)); len(ds) == 0 {
			require.Equal(t, string(p.JSON), string(got), "ParseTicket exports what ExportData does")
		}
		agreesWithCUE(t, s, src, got)
	})
}

func BenchmarkExportData(b *testing.B) {
	src := []byte(validTicket)
	for b.Loop() {
		if _, ok := ExportData(file, src); !ok {
			b.Fatal("refused")
		}
	}
}
