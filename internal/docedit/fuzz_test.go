package docedit

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schemaPathRE is the ticket schema's pattern for set.path.
var schemaPathRE = regexp.MustCompile(`^(\.[A-Za-z0-9_-]+|\[[0-9]+\])+$`)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
		err  string
	}{
		{".a", Path{{key: "a"}}, ""},
		{".spec.template.spec.containers[0].image", Path{{key: "spec"}, {key: "template"}, {key: "spec"}, {key: "containers"}, {index: 0, isIdx: true}, {key: "image"}}, ""},
		{"[2][10]", Path{{index: 2, isIdx: true}, {index: 10, isIdx: true}}, ""},
		{".a-b_C9", Path{{key: "a-b_C9"}}, ""},
		{"", nil, "empty path"},
		{"a", nil, "unexpected 'a'"},
		{".", nil, "empty or invalid key"},
		{"..a", nil, "empty or invalid key"},
		{".a.", nil, "empty or invalid key"},
		{".a[", nil, "invalid index"},
		{".a[x]", nil, "invalid index"},
		{".a[]", nil, "invalid index"},
		{".a[01]", nil, "leading zero"},
		{".a[99999999999999999999]", nil, "too large"},
		{".a/b", nil, "unexpected '/'"},
		{".a b", nil, "unexpected ' '"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.in, got.String(), "round trip")
		})
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{".a.b[0].c", ".spec.replicas", "[0]", ".a[01]", "..", ".a[", ".ä", ".a[1048577]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		// Whatever parses prints back as itself and is a path the schema
		// allows.
		if p.String() != s {
			t.Fatalf("parsePath(%q).String() = %q", s, p.String())
		}
		if !schemaPathRE.MatchString(s) {
			t.Fatalf("parsePath accepted %q, which the schema refuses", s)
		}
		if len(p) == 0 || len(p) > maxPathSteps {
			t.Fatalf("parsePath(%q) has %d steps", s, len(p))
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5e3, "x\"y", true, null]}`, `[]`, `{}`, `"\u00e9"`, `{"a":1,"a":2}`, `[1,]`, `01`, `-`, `{"a" 1}`, "\"\x01\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseJSON([]byte(s))
		valid := json.Valid([]byte(s))
		if err == nil && !valid {
			t.Fatalf("parseJSON accepted invalid JSON %q", s)
		}
		if err != nil {
			return
		}
		if n.start < 0 || n.end > len(s) || n.start > n.end {
			t.Fatalf("span %d:%d out of %d", n.start, n.end, len(s))
		}
		// Every scalar's span decodes on its own.
		var walk func(*jsonNode)
		walk = func(n *jsonNode) {
			if !json.Valid([]byte(s[n.start:n.end])) {
				t.Fatalf("span %q of %q is not JSON", s[n.start:n.end], s)
			}
			for _, c := range n.vals {
				walk(c)
			}
		}
		walk(n)
	})
}

// FuzzEdit edits arbitrary documents: an edit either fails cleanly or
// gives a document that parses and holds the value (or, for a delete,
// no longer holds the path).
func FuzzEdit(f *testing.F) {
	f.Add("a:\n  b: 1\n", ".a.c", "x", false, false)
	f.Add("- a\n- b\n", "[1]", "y", false, true)
	f.Add("a: {b: [1, 2]}\n", ".a.b[2]", "3", false, false)
	f.Add("k: |\n  text\n  # not a comment\n", ".z", "v", false, false)
	f.Add("a:\n  - x: 1\n    y: 2\n  - x: 3\nb: 1\n", ".a[0].x", "", false, true)
	f.Add(`{"a": {"b": 1}}`, ".a.c", "x", true, false)
	f.Add(`{"a": [], "b": {}}`, ".a[0]", "x", true, false)
	f.Add(`{"a": [1, 2], "b": {"c": 1}}`, ".b.c", "", true, true)
	f.Fuzz(func(t *testing.T, src, path, val string, isJSON, del bool) {
		p, err := ParsePath(path)
		if err != nil || len(src) > 4096 {
			return
		}
		var c Codec = YAML{}
		if isJSON {
			c = JSON{}
		}
		want := Scalar{ClassString, val}
		o := Op{path: p, val: ScalarValue(want)}
		if del {
			o = Op{path: p, del: true}
		}
		out, err := c.Edit([]byte(src), o)
		if err != nil {
			return
		}
		if del && string(out) == src {
			return // nothing to delete (or nothing a path can reach)
		}
		doc, err := c.Parse(out)
		if err != nil {
			t.Fatalf("edited document does not parse: %v\n%s", err, out)
		}
		got, err := doc.Lookup(p)
		if err != nil {
			t.Fatalf("edited document does not read back: %v\n%s", err, out)
		}
		switch {
		case del && got.Kind != KindMissing && !lastIsIndex(p):
			t.Fatalf("after deleting %s the document holds a %v:\n%s", path, got.Kind, out)
		case !del && (got.Kind != KindScalar || !got.Scalar.Equal(want)):
			t.Fatalf("after setting %s to %q the document holds %v %v:\n%s", path, val, got.Kind, got.Scalar, out)
		}
	})
}

// lastIsIndex: deleting a list item shifts the next one into its place.
func lastIsIndex(p Path) bool { return p[len(p)-1].isIdx }
