package docedit

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDelete(t *testing.T) {
	tests := []struct {
		name, in, path string
		json           bool
		want           string
	}{
		{"yaml key", "a: 1\nb:\n  c: 2\n  d: [1]\ne: 3\n", ".b", false, "a: 1\ne: 3\n"},
		{"yaml last key", "a: 1\nb:\n  c: 2\n# tail\n", ".b", false, "a: 1\n# tail\n"},
		{"yaml nested key", "a:\n  b: 1\n  c: 2\n", ".a.b", false, "a:\n  c: 2\n"},
		{"yaml only key", "a:\n  b: 1\nz: 0\n", ".a.b", false, "a: {}\nz: 0\n"},
		{"yaml item", "l:\n- name: a\n  v: 1\n- name: b\n  v: 2\n", ".l[0]", false, "l:\n- name: b\n  v: 2\n"},
		{"yaml last item", "l:\n  - a\n  - b\nm: 1\n", ".l[1]", false, "l:\n  - a\nm: 1\n"},
		{"yaml missing", "a: 1\n", ".b.c", false, "a: 1\n"},
		{"json member", "{\n  \"a\": 1,\n  \"b\": 2\n}\n", ".b", true, "{\n  \"a\": 1\n}\n"},
		{"json first member", "{\n  \"a\": 1,\n  \"b\": 2\n}\n", ".a", true, "{\n  \"b\": 2\n}\n"},
		{"json only member", "{\"a\": {\"b\": 1}}", ".a.b", true, "{\"a\": {}}"},
		{"json item", "[1, 2, 3]", "[1]", true, "[1, 3]"},
		{"json missing", "{\"a\": 1}", ".b", true, "{\"a\": 1}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Codec = YAML{}
			if tt.json {
				c = JSON{}
			}
			p, err := ParsePath(tt.path)
			require.NoError(t, err)
			out, err := c.Edit([]byte(tt.in), Delete(p))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(out))
		})
	}
}
