package policy

import (
	"testing"

	"cuelang.org/go/cue/cuecontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
)

const input = `{"mode": "pr", "ticket": {"id": "CHG-2026-0001", "risk": "high"}, "review": {"author": "github:1", "approvals": [{"id": "github:1"}]}}`

func evaluate(t *testing.T, src string) ([]Finding, diag.List) {
	t.Helper()
	set, ds := Compile(cuecontext.New(), []File{{Name: "policy/p.cue", Source: []byte(src)}}, nil)
	if len(ds) > 0 {
		return nil, ds
	}
	fs, err := set.Evaluate([]byte(input))
	require.NoError(t, err)
	return fs, nil
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Finding
	}{
		{
			name: "string deny with rule position",
			src: `package policy
deny: [
	if input.ticket.risk == "high" {"high risk"},
]`,
			want: []Finding{{Severity: diag.Error, Message: "high risk", Rule: "policy/p.cue:3:33"}},
		},
		{
			name: "structured deny and warn",
			src: `package policy
deny: [{msg: "m", path: "risk", hint: "h"}]
warn: ["careful"]`,
			want: []Finding{
				{Severity: diag.Error, Message: "m", Path: "risk", Hint: "h", Rule: "policy/p.cue:2:8"},
				{Severity: diag.Warning, Message: "careful", Rule: "policy/p.cue:3:8"},
			},
		},
		{
			name: "a finding with a stable id",
			src: `package policy
warn: [{msg: "late", id: "approval-sla"}]`,
			want: []Finding{{Severity: diag.Warning, Message: "late", ID: "approval-sla", Rule: "policy/p.cue:2:8"}},
		},
		{
			name: "no verdict lists",
			src:  "package policy\nx: 1",
			want: nil,
		},
		{
			name: "standard library import",
			src: `package policy
import "strings"
deny: [if strings.HasPrefix(input.ticket.id, "CHG") {"x"}]`,
			want: []Finding{{Severity: diag.Error, Message: "x", Rule: "policy/p.cue:3:53"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ds := evaluate(t, tc.src)
			require.Empty(t, ds)
			assert.Equal(t, tc.want, got)
		})
	}
}

// An evaluation error is never "no violations".
func TestEvaluationErrorsFail(t *testing.T) {
	tests := []struct {
		name, src, msg string
	}{
		{"missing input field", "package policy\ndeny: [if input.ticket.rollback.auto {\"x\"}]", "could not be evaluated"},
		{"open value", "package policy\ndeny: [string]", "could not be evaluated"},
		{"wrong element type", "package policy\ndeny: [1]", "must be a string or {msg"},
		{"empty msg", "package policy\ndeny: [{msg: \"\"}]", "non-empty msg"},
		{"bad id", "package policy\nwarn: [{msg: \"m\", id: \"Approval SLA\"}]", "a finding's id must match"},
		{"not a list", "package policy\ndeny: \"x\"", "could not be evaluated"},
		{"cycle", "package policy\na: a + 1\ndeny: [if a > 0 {\"x\"}]", "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ds := evaluate(t, tc.src)
			require.Empty(t, ds)
			require.NotEmpty(t, got, "an evaluation error must produce a finding")
			assert.Equal(t, diag.Error, got[0].Severity)
			assert.Contains(t, got[0].Message, tc.msg)
			assert.Contains(t, got[0].Rule, "policy/p.cue")
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, src, msg string
		line           int
	}{
		{"syntax", "package policy\ndeny: [", "expected", 2},
		{"foreign import", "package policy\nimport \"example.com/evil\"\ndeny: []", `import "example.com/evil" is not allowed`, 2},
		{"tool import", "package policy\nimport \"tool/exec\"\ndeny: []", `import "tool/exec" is not allowed`, 2},
		{"undefined reference", "package policy\ndeny: [nope]", "reference \"nope\" not found", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := evaluate(t, tc.src)
			require.NotEmpty(t, ds)
			assert.Equal(t, "policy/p.cue", ds[0].File)
			assert.Equal(t, tc.line, ds[0].Line)
			assert.Contains(t, ds[0].Message, tc.msg)
		})
	}
}

// One broken policy does not hide another's verdict.
func TestPoliciesAreIndependent(t *testing.T) {
	set, ds := Compile(cuecontext.New(), []File{
		{Name: "policy/a.cue", Source: []byte("package policy\ndeny: [\"from a\"]")},
		{Name: "policy/b.cue", Source: []byte("package policy\ndeny: [")},
		{Name: "policy/c.cue", Source: []byte("package policy\n_x: 1\ndeny: [\"from c\"]")},
	}, nil)
	require.Len(t, ds, 1)
	assert.Equal(t, "policy/b.cue", ds[0].File)
	assert.Equal(t, 2, set.Len())
	got, err := set.Evaluate([]byte(input))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "from a", got[0].Message)
	assert.Equal(t, "from c", got[1].Message)

	// One by one, each traced, the same verdict.
	var steps []string
	each, err := set.EvaluateEach([]byte(input), func(p string) { steps = append(steps, p) })
	require.NoError(t, err)
	assert.Equal(t, got, each)
	assert.Equal(t, []string{"policy/a.cue", "policy/c.cue"}, steps)
}

func TestBind(t *testing.T) {
	set, ds := Compile(cuecontext.New(), []File{{Name: "policy/p.cue", Source: []byte(`package policy
deny: [if input.mode == "pr" && input.ticket.risk == "high" {"pr high"}]`)}}, nil)
	require.Empty(t, ds)
	bound, err := set.Bind([]byte(`{"mode": "pr"}`))
	require.NoError(t, err)
	got, err := bound.Evaluate([]byte(`{"ticket": {"risk": "high"}}`))
	require.NoError(t, err)
	require.Len(t, got, 1)
	got, err = bound.Evaluate([]byte(`{"ticket": {"risk": "low"}}`))
	require.NoError(t, err)
	assert.Empty(t, got, "a bound set is reusable across tickets")
	_, err = bound.Evaluate([]byte(`{"mode": "local"}`))
	require.NoError(t, err)
}

func TestDefaultsCompile(t *testing.T) {
	files := Defaults()
	require.NotEmpty(t, files)
	set, ds := Compile(cuecontext.New(), files, nil)
	require.Empty(t, ds)
	assert.Equal(t, len(files), set.Len())
}

func FuzzPolicy(f *testing.F) {
	f.Add("package policy\ndeny: [if input.ticket.risk == \"high\" {\"x\"}]")
	f.Add("package policy\nwarn: [{msg: \"m\", path: \"p\"}]")
	f.Add("deny: [input]")
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 512 {
			return // CUE has no memory bound; the fuzzer explores shapes, not sizes
		}
		set, ds := Compile(cuecontext.New(), []File{{Name: "policy/f.cue", Source: []byte(src)}}, nil)
		for _, d := range ds {
			require.Equal(t, "policy/f.cue", d.File)
		}
		if set.Len() == 0 {
			return
		}
		got, err := set.Evaluate([]byte(input))
		require.NoError(t, err)
		for _, f := range got {
			require.NotEmpty(t, f.Message)
		}
	})
}
