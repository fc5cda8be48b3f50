package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"golang.org/x/text/unicode/norm"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/cabhq/cab/model"
)

// DecodeMerged reads a ticket that was validated when it was merged,
// without the schema: the file is parsed, proved to be plain data and
// converted to the Go view directly, about twenty times faster than
// ParseTicket. What the converter cannot convert exactly (a label given
// twice, which CUE unifies; a label CUE normalises; a number written
// unusually) is evaluated by CUE instead, so the view is the data CUE
// sees, never a part of it. Use it only for tickets the gate already
// accepted (for summaries of history); new tickets go through
// ParseTicket.
func DecodeMerged(file string, src []byte) (model.Ticket, error) {
	var t model.Ticket
	if d, ok := checkBytes(file, src); !ok {
		return t, fmt.Errorf("%s: %s", d.Pos(), d.Message)
	}
	f, err := parser.ParseFile(file, src)
	if err != nil {
		return t, err
	}
	if ds, _ := checkData(f); len(ds) > 0 {
		return t, fmt.Errorf("%s", ds[0])
	}
	var b []byte
	m, err := dataConv{}.fields(f.Decls)
	switch {
	case errors.Is(err, errNotExact):
		v := cuecontext.New().BuildFile(f)
		if err := v.Validate(cue.Concrete(true)); err != nil {
			return t, err
		}
		b, err = v.MarshalJSON()
	case err == nil:
		b, err = json.Marshal(m)
	}
	if err != nil {
		return t, err
	}
	return t, json.Unmarshal(b, &t)
}

// dataConv converts plain data (see checkData) to Go: strings,
// json.Number, bools, nil, []any and map[string]any; the one converter of
// data ASTs (DecodeMerged, ExportData). It refuses (errNotExact) whatever
// it cannot convert to exactly the value CUE's export of it decodes to:
// numbers are written as CUE writes them, and only where that is the
// literal itself; a label given twice is refused (CUE unifies the values).
type dataConv struct{}

// errNotExact is the refusal of an exact conversion: the data may be
// valid, but only CUE can say what it exports to.
var errNotExact = errors.New("not convertible exactly without CUE")

func (c dataConv) value(x ast.Expr) (any, error) {
	switch x := x.(type) {
	case *ast.StructLit:
		return c.fields(x.Elts)
	case *ast.ListLit:
		l := make([]any, 0, len(x.Elts))
		for _, e := range x.Elts {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case *ast.UnaryExpr:
		return c.negative(x)
	case *ast.BasicLit:
		switch x.Kind {
		case token.STRING:
			return exactString(x.Value)
		case token.INT, token.FLOAT:
			n, _, err := exactNumber(x.Value)
			return n, err
		case token.TRUE:
			return true, nil
		case token.FALSE:
			return false, nil
		case token.NULL:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("not data at %s", x.Pos())
}

// fields converts the fields of a struct (or of a file). A label given
// twice is refused: CUE unifies the two values, which only CUE may do.
func (c dataConv) fields(decls []ast.Decl) (map[string]any, error) {
	m := map[string]any{}
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.Field:
			name, err := c.label(d.Label)
			if err != nil {
				return nil, err
			}
			if _, dup := m[name]; dup {
				return nil, errNotExact
			}
			if m[name], err = c.value(d.Value); err != nil {
				return nil, err
			}
		case *ast.CommentGroup:
		default:
			// checkData admits a file attribute (@if, @extern): only CUE
			// knows what it does.
			return nil, errNotExact
		}
	}
	return m, nil
}

// label returns the field name a label of plain data (see checkData)
// denotes.
func (c dataConv) label(l ast.Label) (string, error) {
	if lit, ok := l.(*ast.BasicLit); ok {
		if lit.Kind != token.STRING {
			return "", errNotExact
		}
		s, err := exactString(lit.Value)
		// CUE's compiler names a quoted label by the NFC form of its
		// string (an identifier as written): "e\u0301" and "\u00e9" are
		// one field, exported as "\u00e9". Refuse what it would rewrite.
		if err != nil || !norm.NFC.IsNormalString(s) {
			return "", errNotExact
		}
		return s, nil
	}
	name, _, err := ast.LabelName(l)
	return name, err
}

// exactString unquotes a string literal as CUE's compiler does, and
// refuses bytes ('...') and a string that is not valid UTF-8 (which JSON
// cannot hold as it is).
func exactString(lit string) (string, error) {
	q, n, _, err := literal.ParseQuotes(lit, lit)
	if err != nil || !q.IsDouble() {
		return "", errNotExact
	}
	s, err := q.Unquote(lit[n:])
	if err != nil || !utf8.ValidString(s) {
		return "", errNotExact
	}
	return s, nil
}

// exactNumber returns a number literal as CUE exports it (its decimal,
// formatted 'G'), refused unless that is the literal as written: 1_000,
// 0x10, 1e3, 1Ki or 1. are refused, 1000, 0.25, 1.0 and 1E+3 kept. zero
// reports whether it is a zero.
func exactNumber(lit string) (n json.Number, zero bool, err error) {
	var info literal.NumInfo
	if err := literal.ParseNum(lit, &info); err != nil {
		return "", false, errNotExact
	}
	var d apd.Decimal
	if err := info.Decimal(&d); err != nil || d.Negative || string(d.Append(nil, 'G')) != lit {
		return "", false, errNotExact
	}
	return json.Number(lit), d.IsZero(), nil
}

// negative converts -<number> as CUE negates it (apd's Neg: the same
// digits, signed), refusing the negation of a zero (CUE exports it
// unsigned).
func (c dataConv) negative(x *ast.UnaryExpr) (any, error) {
	lit, ok := x.X.(*ast.BasicLit)
	if !ok || x.Op != token.SUB || (lit.Kind != token.INT && lit.Kind != token.FLOAT) {
		return nil, errNotExact
	}
	n, zero, err := exactNumber(lit.Value)
	if err != nil || zero {
		return nil, errNotExact
	}
	return "-" + n, nil
}
