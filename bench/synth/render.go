package synth

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// A tiny tree of plain CUE data, written the way `cue fmt` writes it.
type (
	// obj is a struct with fields in order.
	obj []kv
	kv  struct {
		k string
		v any // string, bool, int, number, multiline, []string, []any, obj
	}
	// multiline is a string written as a """ block, one line each.
	multiline []string
	// number is a CUE number written in its shortest form.
	number float64
	// inline is a struct written on one line: {a: 1, b: 2}.
	inline []kv
)

// writeFile writes o as the top level of a CUE file.
func writeFile(b *bytes.Buffer, comment string, o obj) {
	if comment != "" {
		b.WriteString(comment)
		b.WriteByte('\n')
	}
	writeFields(b, o, 0)
}

func writeFields(b *bytes.Buffer, o obj, indent int) {
	for i := 0; i < len(o); {
		// A run of fields with scalar values is aligned, as cue fmt does.
		j := i
		width := 0
		for j < len(o) && scalar(o[j].v) {
			width = max(width, len(label(o[j].k)))
			j++
		}
		if j == i {
			tabs(b, indent)
			b.WriteString(label(o[i].k))
			b.WriteString(": ")
			writeValue(b, o[i].v, indent)
			b.WriteByte('\n')
			i++
			continue
		}
		for ; i < j; i++ {
			tabs(b, indent)
			l := label(o[i].k)
			b.WriteString(l)
			b.WriteByte(':')
			b.WriteString(strings.Repeat(" ", width-len(l)+1))
			writeValue(b, o[i].v, indent)
			b.WriteByte('\n')
		}
	}
}

func scalar(v any) bool {
	switch v.(type) {
	case string, bool, int, number:
		return true
	}
	return false
}

func writeValue(b *bytes.Buffer, v any, indent int) {
	switch v := v.(type) {
	case string:
		b.WriteString(quote(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case number:
		b.WriteString(strconv.FormatFloat(float64(v), 'f', -1, 64))
	case multiline:
		b.WriteString(`"""`)
		b.WriteByte('\n')
		for _, l := range v {
			tabs(b, indent+1)
			b.WriteString(strings.ReplaceAll(l, `\`, `\\`))
			b.WriteByte('\n')
		}
		tabs(b, indent+1)
		b.WriteString(`"""`)
	case []string:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(s))
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e, indent)
		}
		b.WriteByte(']')
	case inline:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(label(f.k))
			b.WriteString(": ")
			writeValue(b, f.v, indent)
		}
		b.WriteByte('}')
	case obj:
		b.WriteString("{\n")
		writeFields(b, v, indent+1)
		tabs(b, indent)
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("synth: cannot write %T", v))
	}
}

func tabs(b *bytes.Buffer, n int) {
	for range n {
		b.WriteByte('\t')
	}
}

// quote writes s as a CUE string. The generator's strings are printable
// ASCII, for which Go and CUE escapes agree.
func quote(s string) string { return strconv.Quote(s) }

func label(k string) string {
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return quote(k)
		}
	}
	return k
}
