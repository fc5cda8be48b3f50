package policy

import (
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

// MayReadNow reports whether any of files may read input.now, the time of
// the check. It is conservative: it returns false only when every
// reference to input in every file selects a named field other than now
// (input.ticket, input."repo"), nothing else names input (no alias, let,
// comprehension over it, index, builtin argument or field of that name)
// and no file uses self, a double-underscore identifier or an
// @experiment attribute (ways to reach input without naming it). A file
// that does not parse may read anything.
//
// A verdict made by policies that cannot read now depends on the time only
// through the Go-computed facts in input.calendar; callers that reuse
// verdicts across times (validate's verdict cache) rely on that.
func MayReadNow(files []File) bool {
	for _, f := range files {
		if mayReadNow(f.Source) {
			return true
		}
	}
	return false
}

func mayReadNow(src []byte) bool {
	file, err := parser.ParseFile("policy.cue", src, parser.ParseComments)
	if err != nil {
		return true
	}
	reads := false
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		if reads {
			return false
		}
		switch n := n.(type) {
		case *ast.Attribute:
			if strings.HasPrefix(n.Text, "@experiment") {
				reads = true
			}
		case *ast.Field:
			name, _, err := ast.LabelName(n.Label)
			if err == nil && name == "input" {
				reads = true // a field named input may alias it
			}
			if err != nil {
				walkNode(n.Label, walk) // a pattern or computed label holds expressions
			}
			walkNode(n.Value, walk)
			for _, a := range n.Attrs {
				walkNode(a, walk)
			}
			return false
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && id.Name == "input" {
				if name, _, err := ast.LabelName(n.Sel); err != nil || name == "now" {
					reads = true
				}
				return false
			}
			walkNode(n.X, walk) // n.Sel is a name, not a reference
			return false
		case *ast.Ident:
			if n.Name == "input" || n.Name == "self" || strings.HasPrefix(n.Name, "__") {
				reads = true
			}
		}
		return true
	}
	ast.Walk(file, walk, nil)
	return reads
}

func walkNode(n ast.Node, before func(ast.Node) bool) {
	if n != nil {
		ast.Walk(n, before, nil)
	}
}
