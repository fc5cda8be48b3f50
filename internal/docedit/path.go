package docedit

import (
	"fmt"
	"strconv"
	"strings"
)

// maxPathSteps bounds the number of steps of a path expression.
const maxPathSteps = 64

// maxIndex bounds a list index in a path expression.
const maxIndex = 1 << 20

// step is one element of a path expression: a map key or a list index.
type step struct {
	key   string
	index int
	isIdx bool
}

// String is the step as written in a path: .key or [index].
func (s step) String() string {
	if s.isIdx {
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return "." + s.key
}

// Path is a parsed path expression such as .spec.containers[0].image.
type Path []step

// String is the path expression p was parsed from.
func (p Path) String() string {
	var b strings.Builder
	for _, s := range p {
		b.WriteString(s.String())
	}
	return b.String()
}

// KeyPath is the path of keys, one step each.
func KeyPath(keys ...string) Path {
	p := make(Path, len(keys))
	for i, k := range keys {
		p[i] = step{key: k}
	}
	return p
}

// Key is p followed by the map key k.
func (p Path) Key(k string) Path {
	return append(append(Path(nil), p...), step{key: k})
}

// Index is p followed by the list index i.
func (p Path) Index(i int) Path {
	return append(append(Path(nil), p...), step{index: i, isIdx: true})
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// ParsePath parses a path expression: one or more steps, each a key
// (".name", letters, digits, '_' and '-') or a list index ("[0]"), as the
// ticket schema allows, e.g. ".spec.template.spec.containers[0].image".
func ParsePath(s string) (Path, error) {
	if s == "" {
		return nil, fmt.Errorf("empty path: write it like .spec.template.spec.containers[0].image")
	}
	var p Path
	for i := 0; i < len(s); {
		if len(p) == maxPathSteps {
			return nil, fmt.Errorf("path %q: more than %d steps", s, maxPathSteps)
		}
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && isKeyByte(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("path %q: empty or invalid key at offset %d: keys are letters, digits, '_' and '-'", s, i+1)
			}
			p = append(p, step{key: s[i+1 : j]})
			i = j
		case '[':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 || j >= len(s) || s[j] != ']' {
				return nil, fmt.Errorf("path %q: invalid index at offset %d: write [0], [1], …", s, i)
			}
			digits := s[i+1 : j]
			if len(digits) > 1 && digits[0] == '0' {
				return nil, fmt.Errorf("path %q: index %s has a leading zero", s, digits)
			}
			n, err := strconv.Atoi(digits)
			if err != nil || n > maxIndex {
				return nil, fmt.Errorf("path %q: index %s is too large (at most %d)", s, digits, maxIndex)
			}
			p = append(p, step{index: n, isIdx: true})
			i = j + 1
		default:
			return nil, fmt.Errorf("path %q: unexpected %q at offset %d: a path is .key and [index] steps, starting with '.' or '['", s, s[i], i)
		}
	}
	return p, nil
}
