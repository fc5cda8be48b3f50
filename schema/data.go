package schema

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"

	"github.com/cabhq/cab/internal/diag"
)

// maxDepth bounds the nesting of a ticket: tickets are shallow, and a
// deeply nested file is an attack on the evaluator, not a change.
const maxDepth = 32

// index records, by field path ("window.end", "actions.0"), where each
// value of a ticket file is and of which CUE kind it is, for diagnostics.
type index struct {
	pos   map[string]token.Pos
	kinds map[string]string
}

// position returns the line and column of the value at path, or of its
// nearest enclosing field, or 1:1.
func (x *index) position(path string) (line, col int) {
	for path != "" {
		if pos, ok := x.pos[path]; ok && pos.IsValid() {
			return pos.Line(), pos.Column()
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1, 1
}

// dataChecker proves that a parsed file is plain data and indexes it.
type dataChecker struct {
	file  string
	diags diag.List
	index
}

// checkData walks f and reports every node that is not plain data.
func checkData(f *ast.File) (diag.List, *index) {
	c := &dataChecker{file: f.Filename, index: index{pos: map[string]token.Pos{}, kinds: map[string]string{}}}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.Package:
			c.reject(d.Pos(), "", "package clause", "a ticket is plain data: remove the package line")
		case *ast.ImportDecl:
			c.reject(d.Pos(), "", "import", "a ticket is plain data and cannot import packages; write the values out")
		case *ast.Field:
			c.field(d, "", 1)
		case *ast.CommentGroup, *ast.Attribute:
		default:
			c.notData(d, "")
		}
	}
	return c.diags, &c.index
}

func (c *dataChecker) reject(p token.Pos, path, what, hint string) {
	d := diag.Diagnostic{
		File:     c.file,
		Path:     path,
		Severity: diag.Error,
		Code:     "data-only",
		Message:  what + " is not allowed in a ticket",
		Hint:     hint,
	}
	if p.IsValid() {
		d.Line, d.Column = p.Line(), p.Column()
	}
	c.diags = append(c.diags, d)
}

func (c *dataChecker) field(f *ast.Field, parent string, depth int) {
	name, ok := c.label(f.Label, parent)
	if !ok {
		return
	}
	path := join(parent, name)
	c.pos[path] = f.Pos()
	switch {
	case f.Alias != nil:
		c.reject(f.Alias.Pos(), path, "an alias", "remove the alias")
	case f.Constraint == token.OPTION:
		c.reject(f.Pos(), path, "an optional field marker (?)", "write the field as `name: value`")
	case f.Constraint == token.NOT:
		c.reject(f.Pos(), path, "a required field marker (!)", "write the field as `name: value`")
	}
	if len(f.Attrs) > 0 {
		c.reject(f.Attrs[0].Pos(), path, "an attribute", "remove the @attribute")
	}
	c.value(f.Value, path, depth)
}

// label returns the field name a label denotes, or reports it.
func (c *dataChecker) label(l ast.Label, parent string) (string, bool) {
	switch l := l.(type) {
	case *ast.Ident:
		switch {
		case strings.HasPrefix(l.Name, "#"):
			c.reject(l.Pos(), join(parent, l.Name), "a definition", "tickets hold data only; remove the definition")
			return "", false
		case strings.HasPrefix(l.Name, "_"):
			c.reject(l.Pos(), join(parent, l.Name), "a hidden field", "remove the field; names starting with _ are hidden in CUE")
			return "", false
		}
		return l.Name, true
	case *ast.BasicLit:
		if l.Kind == token.STRING {
			s, err := literal.Unquote(l.Value)
			if err == nil {
				return s, true
			}
		}
		c.reject(l.Pos(), parent, "this label", "use a plain field name")
		return "", false
	default:
		c.reject(l.Pos(), parent, "a computed or pattern label", "use a plain field name")
		return "", false
	}
}

func (c *dataChecker) value(x ast.Expr, path string, depth int) {
	if depth > maxDepth {
		c.reject(x.Pos(), path, fmt.Sprintf("nesting deeper than %d levels", maxDepth), "flatten the value")
		return
	}
	switch x := x.(type) {
	case *ast.BasicLit:
		c.kinds[path] = litKind(x.Kind)
		return
	case *ast.UnaryExpr:
		if lit, ok := x.X.(*ast.BasicLit); ok && x.Op == token.SUB && (lit.Kind == token.INT || lit.Kind == token.FLOAT) {
			c.kinds[path] = litKind(lit.Kind)
			return
		}
		c.notData(x, path)
	case *ast.StructLit:
		c.kinds[path] = "struct"
		for _, d := range x.Elts {
			switch d := d.(type) {
			case *ast.Field:
				c.field(d, path, depth+1)
			case *ast.CommentGroup:
			default:
				c.notData(d, path)
			}
		}
	case *ast.ListLit:
		c.kinds[path] = "list"
		for i, e := range x.Elts {
			if _, ok := e.(*ast.Ellipsis); ok {
				c.notData(e, path)
				continue
			}
			p := join(path, strconv.Itoa(i))
			c.pos[p] = e.Pos()
			c.value(e, p, depth+1)
		}
	default:
		c.notData(x, path)
	}
}

// notData reports a node that makes a file code rather than data.
func (c *dataChecker) notData(n ast.Node, path string) {
	what, hint := "this expression", "write a literal value: a string, number, boolean, null, struct or list"
	switch n := n.(type) {
	case *ast.Ident:
		what, hint = "a reference ("+n.Name+")", "write the value itself; quote it if it is a string: \""+n.Name+"\""
	case *ast.SelectorExpr, *ast.IndexExpr, *ast.SliceExpr:
		what, hint = "a reference", "write the value itself"
	case *ast.Interpolation:
		what, hint = "string interpolation", "write the string out in full, without \\(...)"
	case *ast.Comprehension:
		what, hint = "a comprehension", "write each value out"
	case *ast.BinaryExpr:
		switch n.Op {
		case token.OR:
			what, hint = "a disjunction (|)", "choose one value"
		case token.AND:
			what, hint = "a unification (&)", "write one concrete value"
		default:
			what, hint = "an expression ("+n.Op.String()+")", "write the computed value"
		}
	case *ast.UnaryExpr:
		if n.Op == token.MUL {
			what, hint = "a default (*)", "write the value without the default marker"
		} else {
			what = "a constraint (" + n.Op.String() + ")"
			hint = "write one concrete value"
		}
	case *ast.CallExpr:
		what, hint = "a function call", "write the resulting value"
	case *ast.Ellipsis:
		what, hint = "an open list or struct (...)", "remove the ..."
	case *ast.LetClause:
		what, hint = "a let clause", "write the value in place"
	case *ast.EmbedDecl:
		what, hint = "an embedded value", "write fields as `name: value`"
	case *ast.BottomLit:
		what, hint = "bottom (_|_)", "write a concrete value"
	case *ast.ParenExpr:
		what, hint = "a parenthesized expression", "write the value without parentheses"
	case *ast.Attribute:
		what, hint = "an attribute", "remove the @attribute"
	case *ast.BadExpr, *ast.BadDecl:
		what, hint = "malformed syntax", "fix the syntax"
	}
	c.reject(n.Pos(), path, what, hint)
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func litKind(t token.Token) string {
	switch t {
	case token.INT:
		return "int"
	case token.FLOAT:
		return "float"
	case token.STRING:
		return "string"
	case token.TRUE, token.FALSE:
		return "bool"
	case token.NULL:
		return "null"
	}
	return t.String()
}
