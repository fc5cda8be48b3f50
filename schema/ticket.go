package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/model"
)

// MaxTicketBytes is the largest ticket file cab reads. Tickets are about a
// kilobyte; anything near this size is a mistake or an attack.
const MaxTicketBytes = 256 << 10

// maxRounds bounds how often a ticket is re-validated with its unknown
// fields removed, to uncover errors the first round hid.
const maxRounds = 5

// Parsed is a ticket that passed the schema: the concrete value, its
// canonical JSON and the Go view of it.
type Parsed struct {
	// File is the name the ticket was read from.
	File string
	// JSON is the canonical JSON export (sorted keys, no insignificant
	// space): the only form of the ticket policies and signatures see.
	JSON   []byte
	Ticket model.Ticket
	index  *index
}

// Position returns the line and column of the field at path in the ticket
// file, or of its nearest enclosing field, or 1:1.
func (p *Parsed) Position(path string) (line, col int) {
	return p.index.position(path)
}

// ParseTicket checks that src is a plain-data ticket, validates it against
// #Ticket and exports it. The file name (base without .cue) must equal the
// ticket id. Every problem found is returned as a diagnostic; Parsed is nil
// when there is any error.
func (s *Schema) ParseTicket(file string, src []byte) (*Parsed, diag.List) {
	if d, ok := checkBytes(file, src); !ok {
		return nil, diag.List{d}
	}
	f, err := parser.ParseFile(file, src, parser.ParseComments, parser.AllErrors)
	if err != nil {
		return nil, fromCUE(err, file, nil, "syntax", "fix the CUE syntax at this position")
	}
	ds, idx := checkData(f)
	if len(ds) > 0 {
		return nil, ds
	}
	return s.validate(file, f, idx)
}

func (s *Schema) validate(file string, f *ast.File, idx *index) (*Parsed, diag.List) {
	var all diag.List
	var unified cue.Value
	var removed []string
	for round := 0; ; round++ {
		v := s.ctx.BuildFile(f, cue.Filename(file))
		if err := v.Err(); err != nil {
			return nil, append(all, fromCUE(err, file, idx, "schema", "")...)
		}
		unified = s.ticket.Unify(v)
		err := unified.Validate(cue.Concrete(true), cue.All())
		if err == nil {
			break
		}
		ds := fromCUE(err, file, idx, "schema", "")
		for _, d := range ds {
			if !under(d.Path, removed) {
				all = append(all, d)
			}
		}
		// CUE reports errors in rounds: one error can hide others (an
		// unknown field hides the rest of its struct; a bad value can
		// hide an unknown field). Drop every field in error and look
		// again, ignoring what the removal itself causes.
		var bad []string
		for _, d := range ds {
			if _, ok := idx.pos[d.Path]; ok && !under(d.Path, removed) {
				bad = append(bad, d.Path)
			}
		}
		if len(bad) == 0 {
			return nil, all.Sort()
		}
		removed = append(removed, bad...)
		if !removeFields(f, bad) {
			return nil, all.Sort()
		}
		if round+1 >= maxRounds {
			all = append(all, diag.Diagnostic{
				File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "schema",
				Message: "more errors may follow once the ones above are fixed",
				Hint:    "CUE reports some errors only after others are fixed; run cab check again",
			})
			return nil, all.Sort()
		}
	}
	if len(all) > 0 {
		return nil, all.Sort()
	}
	p := &Parsed{File: file, index: idx}
	raw, err := unified.MarshalJSON()
	if err != nil {
		return nil, fromCUE(err, file, idx, "schema", "")
	}
	if p.JSON, err = Canonical(raw); err != nil {
		return nil, diag.List{{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "schema", Message: err.Error()}}
	}
	// The Go view is decoded from the export, the one form of the ticket
	// everything downstream sees (TestSchemaAgreesWithGoTypes proves the
	// types mirror the schema).
	if err := json.Unmarshal(p.JSON, &p.Ticket); err != nil {
		return nil, diag.List{{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "schema", Message: "decoding ticket: " + err.Error()}}
	}
	if want := strings.TrimSuffix(path.Base(strings.ReplaceAll(file, "\\", "/")), ".cue"); p.Ticket.ID != want {
		line, col := p.Position("id")
		return nil, diag.List{{
			File: file, Line: line, Column: col, Path: "id", Severity: diag.Error, Code: "schema",
			Message: fmt.Sprintf("id %q does not match the file name %q", p.Ticket.ID, want+".cue"),
			Hint:    fmt.Sprintf("rename the file to %s.cue or set id: %q", p.Ticket.ID, want),
		}}
	}
	return p, nil
}

// checkBytes refuses what is not a text file of sane size.
func checkBytes(file string, src []byte) (diag.Diagnostic, bool) {
	d := diag.Diagnostic{File: file, Line: 1, Column: 1, Severity: diag.Error, Code: "file"}
	switch {
	case len(src) > MaxTicketBytes:
		d.Message = fmt.Sprintf("file is %d bytes, more than the %d a ticket may have", len(src), MaxTicketBytes)
		d.Hint = "a ticket describes one change; move large content (scripts, manifests) to the repository it changes"
		return d, false
	case bytes.IndexByte(src, 0) >= 0:
		d.Line, d.Column = lineCol(src, bytes.IndexByte(src, 0))
		d.Message = "file is binary (contains a NUL byte)"
		d.Hint = "tickets are UTF-8 CUE text"
		return d, false
	case !utf8.Valid(src):
		d.Line, d.Column = lineCol(src, invalidUTF8(src))
		d.Message = "file is not valid UTF-8"
		d.Hint = "save the file as UTF-8"
		return d, false
	}
	return d, true
}

func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func lineCol(b []byte, off int) (int, int) {
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// Canonical re-encodes JSON with sorted object keys and no insignificant
// space, keeping numbers exactly as written.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalizing JSON: %w", err)
	}
	return canonicalEncode(v)
}

// canonicalEncode encodes v, decoded JSON (numbers as json.Number), as
// Canonical does: sorted object keys, no insignificant space, no HTML
// escaping.
func canonicalEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonicalizing JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

const fieldNotAllowed = "field not allowed"

// under reports whether path is one of paths or inside one of them.
func under(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// removeFields deletes the fields at the given paths from f. It reports
// whether anything was removed.
func removeFields(f *ast.File, paths []string) bool {
	drop := map[string]bool{}
	for _, p := range paths {
		drop[p] = true
	}
	removed := false
	var walk func(decls []ast.Decl, parent string) []ast.Decl
	walk = func(decls []ast.Decl, parent string) []ast.Decl {
		out := decls[:0]
		for _, d := range decls {
			fd, ok := d.(*ast.Field)
			if !ok {
				out = append(out, d)
				continue
			}
			name, _, _ := ast.LabelName(fd.Label)
			p := join(parent, name)
			if drop[p] {
				removed = true
				continue
			}
			walkValue(fd.Value, p, walk)
			out = append(out, d)
		}
		return out
	}
	f.Decls = walk(f.Decls, "")
	return removed
}

func walkValue(x ast.Expr, p string, walk func([]ast.Decl, string) []ast.Decl) {
	switch x := x.(type) {
	case *ast.StructLit:
		x.Elts = walk(x.Elts, p)
	case *ast.ListLit:
		for i, e := range x.Elts {
			walkValue(e, join(p, fmt.Sprint(i)), walk)
		}
	}
}

// fromCUE converts CUE errors to diagnostics in file. Positions inside
// file win; otherwise the position of the nearest enclosing field of the
// ticket is used, so that every diagnostic points into the user's file.
func fromCUE(err error, file string, idx *index, code, hint string) diag.List {
	var out diag.List
	byPath := map[string][]errors.Error{}
	var order []string
	for _, e := range errors.Errors(err) {
		p := cuePath(e.Path())
		// A reference to a missing required field (from a comprehension
		// of the schema) is the same problem as the missing field.
		if format, args := e.Msg(); format == "required field missing: %s" && len(args) == 1 {
			p = join(p, fmt.Sprint(args[0]))
			e = errors.Newf(token.NoPos, "field is required but not present")
		}
		if _, seen := byPath[p]; !seen {
			order = append(order, p)
		}
		byPath[p] = append(byPath[p], e)
	}
	for _, p := range order {
		d := diag.Diagnostic{File: file, Path: p, Severity: diag.Error, Code: code, Hint: hint}
		var pattern string
		d.Message, pattern, d.Line, d.Column = describe(byPath[p], file, idx.kindOf(p))
		if d.Line == 0 && idx != nil {
			d.Line, d.Column = idx.position(related(p))
		}
		if d.Hint == "" {
			d.Hint = hintFor(code, p, d.Message)
			if d.Hint == "" && pattern != "" {
				d.Hint = "the value must match the pattern " + pattern
			}
			if d.Hint == "" {
				d.Hint = "`cab schema` shows what this field accepts"
			}
		}
		out = append(out, d)
	}
	return out.Sort()
}

// describe turns the errors at one path into one message, in the user's
// terms: a failed disjunction (one error per arm plus a summary) becomes
// "must be one of ...", a type mismatch says which type is wanted, and
// validator jargon becomes plain words. got is the kind of the user's value
// ("" if unknown). It also returns a regular expression the value failed,
// if any.
func describe(errs []errors.Error, file, got string) (msg, pattern string, line, col int) {
	var pairs [][2]string
	var msgs []string
	for _, e := range errs {
		for _, p := range errors.Positions(e) {
			if line == 0 && p.Filename() == file {
				line, col = p.Line(), p.Column()
			}
		}
		format, args := e.Msg()
		if strings.HasSuffix(format, "errors in empty disjunction:") {
			continue
		}
		if strings.HasPrefix(format, "incompatible list lengths") && len(args) == 2 && (fmt.Sprint(args[0]) == "0" || fmt.Sprint(args[1]) == "0") {
			msgs = append(msgs, "must not be empty")
			continue
		}
		if strings.HasPrefix(format, "conflicting values %s and %s") && len(args) >= 2 {
			pairs = append(pairs, [2]string{fmt.Sprint(args[0]), fmt.Sprint(args[1])})
		}
		m, pat := plain(fmt.Sprintf(format, args...), got)
		if pat != "" {
			pattern = pat
		}
		msgs = append(msgs, m)
	}
	if v, allowed, ok := disjunction(pairs); ok {
		msgs = append([]string{fmt.Sprintf("%s is not allowed: must be one of %s", v, strings.Join(allowed, ", "))}, withoutSubstring(msgs, "conflicting values ")...)
	}
	// Errors that merely propagate another (an operand that is already
	// bottom) add nothing.
	if kept := withoutSubstring(msgs, "_|_"); len(kept) > 0 {
		msgs = kept
	}
	if len(msgs) == 0 {
		msgs = []string{"invalid value"}
	}
	return strings.Join(dedupe(msgs), "; "), pattern, line, col
}

var (
	outOfBound   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^invalid value (.*) \(out of bound (=~|!~)(.*)\)$`) })
	notSatisfied = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^invalid value (.*) \(does not satisfy ([\w.]+)\(?([^)]*)\)?\)$`)
	})
	mismatched = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^conflicting values (.*) and (.*) \(mismatched types (\w+) and (\w+)\)$`)
	})
)

// plain rewrites one CUE error message in plain words.
func plain(m, got string) (msg, pattern string) {
	if g := outOfBound().FindStringSubmatch(m); g != nil {
		return g[1] + " does not have the required format", g[2] + g[3]
	}
	if g := notSatisfied().FindStringSubmatch(m); g != nil {
		switch g[2] {
		case "time.Time":
			return g[1] + " is not an RFC 3339 time with an offset", ""
		case "time.Duration":
			return g[1] + " is not a duration", ""
		case "strings.MinRunes":
			return fmt.Sprintf("%s is too short (at least %s characters)", g[1], g[3]), ""
		case "strings.MaxRunes":
			return fmt.Sprintf("%s is too long (at most %s characters)", g[1], g[3]), ""
		case "list.UniqueItems":
			return "items must be unique", ""
		case "list.MaxItems":
			return "at most " + g[3] + " items are allowed", ""
		}
	}
	if g := mismatched().FindStringSubmatch(m); g != nil && got == "" {
		// Without an index of the user's file, the user's side is the
		// one that reads as a literal.
		switch {
		case isLiteral(g[2]) && !isLiteral(g[1]):
			got = g[4]
		case isLiteral(g[1]) && !isLiteral(g[2]):
			got = g[3]
		}
	}
	if g := mismatched().FindStringSubmatch(m); g != nil && got != "" {
		switch got {
		case g[3]:
			return fmt.Sprintf("must be %s, not %s", article(g[4]), article(got)), ""
		case g[4]:
			return fmt.Sprintf("must be %s, not %s", article(g[3]), article(got)), ""
		}
	}
	return m, ""
}

// article puts "a" or "an" before a kind name.
func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// isLiteral reports whether a value as CUE prints it in an error is a
// plain literal (as a user writes) rather than a type or constraint.
func isLiteral(s string) bool {
	if s == "true" || s == "false" || s == "null" || strings.HasPrefix(s, `"`) {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// kindOf returns the kind of the user's value at path, or "".
func (x *index) kindOf(path string) string {
	if x == nil {
		return ""
	}
	return x.kinds[path]
}

// relatedFields name the field that makes another one required: a
// missing incident is best shown at the kind that demands it.
var relatedFields = map[string]string{"incident": "kind", "template": "kind"}

func related(path string) string {
	if r, ok := relatedFields[path]; ok {
		return r
	}
	return path
}

// disjunction recognises the arms of a failed enum: several conflicts that
// share one value (the user's) against different allowed values.
func disjunction(pairs [][2]string) (got string, allowed []string, ok bool) {
	if len(pairs) < 2 {
		return "", nil, false
	}
	for _, cand := range pairs[0] {
		allowed = allowed[:0]
		for _, p := range pairs {
			switch cand {
			case p[0]:
				allowed = append(allowed, p[1])
			case p[1]:
				allowed = append(allowed, p[0])
			}
		}
		if len(allowed) == len(pairs) {
			slices.Sort(allowed)
			return cand, allowed, true
		}
	}
	return "", nil, false
}

func withoutSubstring(msgs []string, sub string) []string {
	var out []string
	for _, m := range msgs {
		if !strings.Contains(m, sub) {
			out = append(out, m)
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func cuePath(p []string) string {
	if len(p) > 0 && strings.HasPrefix(p[0], "#") {
		p = p[1:]
	}
	return strings.Join(p, ".")
}
