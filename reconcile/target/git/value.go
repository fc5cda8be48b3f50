package gittarget

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// class is the kind of a scalar as a reader of the file sees it.
type class string

const (
	classString class = "string"
	classNumber class = "number"
	classBool   class = "bool"
	classNull   class = "null"
)

// scalar is a typed scalar value: what Set writes and what a path holds.
type scalar struct {
	Class class  `json:"class"`
	Text  string `json:"text"`
}

// String is the scalar in words a human can compare.
func (s scalar) String() string {
	if s.Class == classNull {
		return "null"
	}
	return s.Text
}

// equal reports whether two scalars are the same value: same class, same
// text (numbers compared by value, booleans case-insensitively).
func (s scalar) equal(o scalar) bool {
	if s.Class != o.Class {
		return false
	}
	switch s.Class {
	case classNull:
		return true
	case classBool:
		return strings.EqualFold(s.Text, o.Text)
	case classNumber:
		if s.Text == o.Text {
			return true
		}
		a, ok1 := new(big.Float).SetString(s.Text)
		b, ok2 := new(big.Float).SetString(o.Text)
		return ok1 && ok2 && a.Cmp(b) == 0
	}
	return s.Text == o.Text
}

// scalarOf converts a ticket's set.value (string, number or bool, as JSON
// decoding gives it) into a scalar.
func scalarOf(v any) (scalar, error) {
	switch v := v.(type) {
	case string:
		return scalar{classString, v}, nil
	case bool:
		return scalar{classBool, strconv.FormatBool(v)}, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return scalar{}, fmt.Errorf("set.value %v is not a finite number", v)
		}
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return scalar{classNumber, strconv.FormatInt(int64(v), 10)}, nil
		}
		return scalar{classNumber, strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case float32:
		return scalarOf(float64(v))
	case int:
		return scalar{classNumber, strconv.Itoa(v)}, nil
	case int64:
		return scalar{classNumber, strconv.FormatInt(v, 10)}, nil
	case json.Number:
		if !json.Valid([]byte(v)) {
			return scalar{}, fmt.Errorf("set.value %q is not a number", string(v))
		}
		return scalar{classNumber, string(v)}, nil
	case nil:
		return scalar{}, fmt.Errorf("set.value is missing: give a string, number or bool")
	default:
		return scalar{}, fmt.Errorf("set.value of type %T: give a string, number or bool", v)
	}
}

// value is what an edit writes: a scalar, or for structure cab creates
// (a missing map key, a new kustomize images entry) an ordered mapping or
// a sequence.
type value struct {
	sc    *scalar
	keys  []string
	vals  []*value
	items []*value
	isSeq bool
}

func scalarValue(s scalar) *value { return &value{sc: &s} }

// nest wraps v in one mapping per key: nest(["a","b"], v) is {a: {b: v}}.
func nest(keys []string, v *value) *value {
	for i := len(keys) - 1; i >= 0; i-- {
		v = &value{keys: []string{keys[i]}, vals: []*value{v}}
	}
	return v
}

// keysOf returns the keys of p when every step is a key.
func keysOf(p exprPath) ([]string, bool) {
	keys := make([]string, len(p))
	for i, s := range p {
		if s.isIdx {
			return nil, false
		}
		keys[i] = s.key
	}
	return keys, true
}

// op is one edit of a document: set writes val at path (creating missing
// map keys, appending when the last index equals the list's length);
// del removes what path names (nothing when it does not exist).
type op struct {
	del  bool
	path exprPath
	val  *value
}

// nodeKind is what a path names in a document.
type nodeKind int

const (
	kindMissing nodeKind = iota
	kindScalar
	kindMap
	kindSeq
)

func (k nodeKind) String() string {
	switch k {
	case kindScalar:
		return "scalar"
	case kindMap:
		return "mapping"
	case kindSeq:
		return "list"
	}
	return "nothing"
}

// found is what lookup found at a path.
type found struct {
	kind nodeKind
	sc   scalar // kindScalar
	n    int    // kindSeq: number of items; kindMap: number of keys
}

// codec reads and edits one file format. Edits keep the rest of the file
// byte for byte where they can, and verify it: every edit is checked by
// parsing the result again and comparing it with the intended document.
type codec interface {
	// parse reads src for lookups.
	parse(src []byte) (document, error)
	// edit returns src with o applied.
	edit(src []byte, o op) ([]byte, error)
}

// document is a parsed file.
type document interface {
	// lookup returns what p names in the (first) document.
	lookup(p exprPath) (found, error)
}

// mismatchKindError reports a path that names something else than the
// edit can write.
func mismatchKindError(p exprPath, got nodeKind, want string) error {
	return fmt.Errorf("%s holds a %s, not %s: cab sets scalar values only; point the path at a scalar", p, got, want)
}
