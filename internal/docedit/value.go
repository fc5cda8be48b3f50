package docedit

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Class is the kind of a scalar as a reader of the file sees it.
type Class string

// The classes of scalars.
const (
	ClassString Class = "string"
	ClassNumber Class = "number"
	ClassBool   Class = "bool"
	ClassNull   Class = "null"
)

// Scalar is a typed scalar value: what an edit writes and what a path
// holds.
type Scalar struct {
	Class Class  `json:"class"`
	Text  string `json:"text"`
}

// String is the scalar in words a human can compare.
func (s Scalar) String() string {
	if s.Class == ClassNull {
		return "null"
	}
	return s.Text
}

// Equal reports whether two scalars are the same value: same class, same
// text (numbers compared by value, booleans case-insensitively).
func (s Scalar) Equal(o Scalar) bool {
	if s.Class != o.Class {
		return false
	}
	switch s.Class {
	case ClassNull:
		return true
	case ClassBool:
		return strings.EqualFold(s.Text, o.Text)
	case ClassNumber:
		if s.Text == o.Text {
			return true
		}
		a, ok1 := new(big.Float).SetString(s.Text)
		b, ok2 := new(big.Float).SetString(o.Text)
		return ok1 && ok2 && a.Cmp(b) == 0
	}
	return s.Text == o.Text
}

// ScalarOf converts a ticket's set.value (string, number or bool, as JSON
// decoding gives it) into a scalar.
func ScalarOf(v any) (Scalar, error) {
	switch v := v.(type) {
	case string:
		return Scalar{ClassString, v}, nil
	case bool:
		return Scalar{ClassBool, strconv.FormatBool(v)}, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Scalar{}, fmt.Errorf("set.value %v is not a finite number", v)
		}
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return Scalar{ClassNumber, strconv.FormatInt(int64(v), 10)}, nil
		}
		return Scalar{ClassNumber, strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case float32:
		return ScalarOf(float64(v))
	case int:
		return Scalar{ClassNumber, strconv.Itoa(v)}, nil
	case int64:
		return Scalar{ClassNumber, strconv.FormatInt(v, 10)}, nil
	case json.Number:
		if !json.Valid([]byte(v)) {
			return Scalar{}, fmt.Errorf("set.value %q is not a number", string(v))
		}
		return Scalar{ClassNumber, string(v)}, nil
	case nil:
		return Scalar{}, fmt.Errorf("set.value is missing: give a string, number or bool")
	default:
		return Scalar{}, fmt.Errorf("set.value of type %T: give a string, number or bool", v)
	}
}

// Value is what an edit writes: a scalar, or for structure cab creates
// (a missing map key, a new kustomize images entry) an ordered mapping or
// a sequence.
type Value struct {
	sc    *Scalar
	keys  []string
	vals  []*Value
	items []*Value
	isSeq bool
}

// ScalarValue is the Value s.
func ScalarValue(s Scalar) *Value { return &Value{sc: &s} }

// StringValue is the string scalar text.
func StringValue(text string) *Value { return ScalarValue(Scalar{ClassString, text}) }

// Mapping is the mapping of keys[i] to vals[i], in that order; keys and
// vals have the same length.
func Mapping(keys []string, vals []*Value) *Value {
	return &Value{keys: keys, vals: vals}
}

// Sequence is the list of items.
func Sequence(items ...*Value) *Value { return &Value{isSeq: true, items: items} }

// nest wraps v in one mapping per key: nest(["a","b"], v) is {a: {b: v}}.
func nest(keys []string, v *Value) *Value {
	for i := len(keys) - 1; i >= 0; i-- {
		v = &Value{keys: []string{keys[i]}, vals: []*Value{v}}
	}
	return v
}

// keysOf returns the keys of p when every step is a key.
func keysOf(p Path) ([]string, bool) {
	keys := make([]string, len(p))
	for i, s := range p {
		if s.isIdx {
			return nil, false
		}
		keys[i] = s.key
	}
	return keys, true
}

// Op is one edit of a document, made by Set or Delete.
type Op struct {
	del  bool
	path Path
	val  *Value
}

// Set is the edit that writes v at p, creating missing map keys, and
// appending when the last index of p equals the list's length.
func Set(p Path, v *Value) Op { return Op{path: p, val: v} }

// Delete is the edit that removes what p names (nothing when it does not
// exist).
func Delete(p Path) Op { return Op{del: true, path: p} }

// Kind is what a path names in a document.
type Kind int

// The kinds of things a path can name.
const (
	KindMissing Kind = iota
	KindScalar
	KindMap
	KindSeq
)

// String names k in words.
func (k Kind) String() string {
	switch k {
	case KindScalar:
		return "scalar"
	case KindMap:
		return "mapping"
	case KindSeq:
		return "list"
	}
	return "nothing"
}

// Found is what Lookup found at a path.
type Found struct {
	Kind Kind
	// Scalar is the value, for KindScalar.
	Scalar Scalar
	// Len is the number of items (KindSeq) or keys (KindMap).
	Len int
}

// Codec reads and edits one file format. Edits keep the rest of the file
// byte for byte where they can, and verify it: every edit is checked by
// parsing the result again and comparing it with the intended document.
type Codec interface {
	// Parse reads src for lookups.
	Parse(src []byte) (Document, error)
	// Edit returns src with o applied.
	Edit(src []byte, o Op) ([]byte, error)
}

// Document is a parsed file.
type Document interface {
	// Lookup returns what p names in the (first) document.
	Lookup(p Path) (Found, error)
}

// MismatchKindError reports a path that names something else than the
// edit can write.
func MismatchKindError(p Path, got Kind, want string) error {
	return fmt.Errorf("%s holds a %s, not %s: cab sets scalar values only; point the path at a scalar", p, got, want)
}

var (
	_ Codec = YAML{}
	_ Codec = JSON{}
)
