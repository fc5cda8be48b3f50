package diag

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Severity says whether a diagnostic fails a check.
type Severity string

const (
	// Error fails the check.
	Error Severity = "error"
	// Warning is reported but does not fail the check.
	Warning Severity = "warning"
)

// Diagnostic is one problem found in a file.
type Diagnostic struct {
	// File is the path of the file the problem is in, as given to cab.
	File string `json:"file"`
	// Line and Column are 1-based; zero when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Path is the CUE field path the problem concerns, e.g. "window.end".
	Path     string   `json:"path,omitempty"`
	Severity Severity `json:"severity"`
	// Code classifies the problem (schema, policy, data-only, file, ...).
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Rule is the position of the policy rule that produced the problem.
	Rule string `json:"rule,omitempty"`
	// ID is the stable name a policy rule gave its finding, if any.
	ID string `json:"id,omitempty"`
}

// Pos returns "file:line:col", leaving out what is unknown.
func (d Diagnostic) Pos() string {
	switch {
	case d.Line > 0 && d.Column > 0:
		return fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column)
	case d.Line > 0:
		return fmt.Sprintf("%s:%d", d.File, d.Line)
	default:
		return d.File
	}
}

// String formats d as one line "file:line:col: path: message".
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos())
	b.WriteString(": ")
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	if d.Path != "" && !strings.HasPrefix(d.Message, d.Path+":") {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Rule != "" {
		fmt.Fprintf(&b, " (rule %s)", d.Rule)
	}
	return b.String()
}

// List is a set of diagnostics.
type List []Diagnostic

// Errors counts the diagnostics with Error severity.
func (l List) Errors() int {
	n := 0
	for _, d := range l {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// Sort orders l by file, line, column, severity and message, and removes
// exact duplicates.
func (l List) Sort() List {
	slices.SortStableFunc(l, compare)
	return slices.CompactFunc(l, func(a, b Diagnostic) bool { return a == b })
}

func compare(a, b Diagnostic) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		cmp.Compare(a.Severity, b.Severity),
		cmp.Compare(a.Message, b.Message),
	)
}

// WriteText prints l in the compiler style, one problem per line, each
// followed by its hint indented on the next line.
func WriteText(w io.Writer, l List) error {
	for _, d := range l {
		if _, err := fmt.Fprintln(w, d.String()); err != nil {
			return err
		}
		if d.Hint != "" {
			if _, err := fmt.Fprintf(w, "    hint: %s\n", d.Hint); err != nil {
				return err
			}
		}
	}
	return nil
}
