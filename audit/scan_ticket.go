package audit

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/scanner"
	"cuelang.org/go/cue/token"
)

// ticketMeta is what cab log shows of a ticket file.
type ticketMeta struct {
	Title, Kind, Risk, Owner string
	Environments             []string
	// Fixes are the changes whose incident the ticket fixes.
	Fixes []string
	// PostReviewOf names the emergency ticket this one reviews.
	PostReviewOf string
	// Problem says why the file could not be read as plain ticket data
	// ("" when it could).
	Problem string
}

// metaFields are the top-level ticket fields parseTicketMeta reads.
var metaFields = map[string]bool{
	"title": true, "kind": true, "risk": true, "owner": true, "environments": true,
	"fixes": true, "postReviewOf": true,
}

// parseTicketMeta reads the top-level title, kind, risk, owner and
// environments of a ticket file: through fastTicketMeta when the file is
// laid out as tickets are (nearly always), else with CUE's scanner.
func parseTicketMeta(src []byte) ticketMeta {
	if m, ok := fastTicketMeta(src); ok {
		return m
	}
	return scanTicketMeta(src)
}

// scanTicketMeta reads the top-level title, kind, risk, owner and
// environments of a ticket file with CUE's own scanner, without
// evaluating anything: a merged ticket is plain CUE data (cab check
// refuses anything else), and evaluating ten thousand of them with the
// schema would cost seconds where tokenizing costs milliseconds. The
// result is display data for cab log, never evidence: cab verify checks
// tickets against their signatures. A field that is not a plain string
// (or list of strings) is left empty and named in Problem.
func scanTicketMeta(src []byte) ticketMeta {
	var m ticketMeta
	var problems []string
	var s scanner.Scanner
	f := token.NewFile("ticket.cue", -1, len(src))
	s.Init(f, src, func(pos token.Pos, msg string, args []any) {
		if len(problems) == 0 {
			problems = append(problems, "does not scan as CUE")
		}
	}, 0)

	depth := 0
	var label string // the top-level field being read, when inField
	inField := false
	var value []token.Token
	var lits []string
	finish := func() {
		if !inField {
			return
		}
		l := label
		inField = false
		if !metaFields[l] {
			return
		}
		if l == "environments" || l == "fixes" {
			list, ok := stringList(value, lits)
			if !ok {
				problems = append(problems, l+" is not a list of strings")
				return
			}
			if l == "fixes" {
				m.Fixes = list
			} else {
				m.Environments = list
			}
			return
		}
		if len(value) != 1 || value[0] != token.STRING {
			problems = append(problems, l+" is not a plain string")
			return
		}
		v, err := unquote(lits[0])
		if err != nil {
			problems = append(problems, l+" is not a plain string")
			return
		}
		switch l {
		case "title":
			m.Title = v
		case "kind":
			m.Kind = v
		case "risk":
			m.Risk = v
		case "owner":
			m.Owner = v
		case "postReviewOf":
			m.PostReviewOf = v
		}
	}
	var prev token.Token
	var prevLit string
	for i := 0; i < 1_000_000; i++ {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		switch {
		case depth == 0 && !inField && tok == token.COLON && (prev == token.IDENT || prev == token.STRING):
			label, inField = prevLit, true
			if prev == token.STRING {
				if v, err := unquote(prevLit); err == nil {
					label = v
				}
			}
			value, lits = value[:0], lits[:0]
			prev, prevLit = tok, lit
			continue
		case depth == 0 && tok == token.COMMA:
			finish()
		default:
			if inField {
				value = append(value, tok)
				lits = append(lits, lit)
			}
		}
		switch tok {
		case token.LBRACE, token.LBRACK, token.LPAREN:
			depth++
		case token.RBRACE, token.RBRACK, token.RPAREN:
			depth--
		}
		prev, prevLit = tok, lit
	}
	finish()
	if len(problems) > 0 {
		m.Problem = strings.Join(problems, "; ")
	}
	return m
}

// stringList reads `[ "a", "b" ]` from the tokens of a value.
func stringList(toks []token.Token, lits []string) ([]string, bool) {
	if len(toks) < 2 || toks[0] != token.LBRACK || toks[len(toks)-1] != token.RBRACK {
		return nil, false
	}
	out := []string{}
	want := token.STRING
	for i := 1; i < len(toks)-1; i++ {
		switch {
		case toks[i] == token.STRING && want == token.STRING:
			v, err := unquote(lits[i])
			if err != nil {
				return nil, false
			}
			out = append(out, v)
			want = token.COMMA
		case toks[i] == token.COMMA && want == token.COMMA:
			want = token.STRING
		case toks[i] == token.COMMA && want == token.STRING && i == len(toks)-2:
			// the comma the scanner inserts at a newline before "]"
		default:
			return nil, false
		}
	}
	return out, true
}

// ticketPath reports whether p (slash-separated, from the repository
// root) is a ticket file as the main line counts them, validate.Mainline's
// rule: a .cue file under changes/.
func ticketPath(p string) bool {
	return strings.HasPrefix(p, "changes/") && path.Ext(p) == ".cue"
}

// ticketIDOf is the ticket id a path names: its file name without .cue.
func ticketIDOf(p string) string {
	return strings.TrimSuffix(path.Base(p), ".cue")
}

// serviceOf is the service a path names: the directory under changes/.
func serviceOf(p string) string {
	rest := strings.TrimPrefix(p, "changes/")
	if i := strings.IndexByte(rest, '/'); i > 0 {
		return rest[:i]
	}
	return ""
}

// fastTicketMeta reads what scanTicketMeta reads, several times faster,
// from a file made of top-level fields one per line, whose ticket fields
// are plain double-quoted strings (environments a list of them) and whose
// other values are balanced brackets, strings and literals. At the first
// thing it is not sure to read as CUE would (a multi-line or raw string,
// an interpolation, a field on the same line as another, a value going on
// after an operator, a name outside ASCII, a field given twice), it
// reports false and the caller asks CUE's scanner: a test holds the two to
// the same answers.
func fastTicketMeta(src []byte) (ticketMeta, bool) {
	var m ticketMeta
	if !utf8.Valid(src) || bytes.IndexByte(src, 0) >= 0 {
		return m, false
	}
	seen := map[string]bool{}
	i, n := 0, len(src)
	space := func() {
		for i < n && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
	}
	// comment skips a // comment to the end of the line.
	comment := func() bool {
		if i+1 < n && src[i] == '/' && src[i+1] == '/' {
			for i < n && src[i] != '\n' {
				i++
			}
			return true
		}
		return false
	}
	// str reads a plain double-quoted string at i.
	str := func() (string, bool) {
		if i >= n || src[i] != '"' || (i+2 < n && src[i+1] == '"' && src[i+2] == '"') {
			return "", false
		}
		start := i
		i++
		escaped := false
		for i < n && src[i] != '"' {
			switch c := src[i]; {
			case (c < 0x20 && c != '\t') || c == 0x7f:
				return "", false // line ends and control characters
			case c == '\\':
				if i+1 < n && src[i+1] == '(' {
					return "", false // interpolation
				}
				escaped = true
				i += 2
				continue
			case c >= 0x80:
				escaped = true // let literal.Unquote check the UTF-8
			}
			i++
		}
		if i >= n {
			return "", false
		}
		i++
		if !escaped {
			return string(src[start+1 : i-1]), true
		}
		v, err := unquote(string(src[start:i]))
		return v, err == nil
	}
	// endOfField accepts the rest of a line after a value: spaces, one
	// comma, a comment.
	endOfField := func() bool {
		space()
		if i < n && src[i] == ',' {
			i++
			space()
		}
		comment()
		if i < n && src[i] == '\r' {
			i++
		}
		return i >= n || src[i] == '\n'
	}
	// skipValue passes over a value that is not a ticket field, to the
	// end of its last line.
	skipValue := func() bool {
		depth := 0
		last := byte(0)
		for i < n {
			c := src[i]
			switch {
			case c == '\n' && depth == 0:
				// CUE ends the field here unless the line ends with an
				// operator; those layouts go to CUE's scanner.
				return last != 0 && strings.IndexByte("+-*/&|=<>!(:[{.,", last) < 0
			case c == '\n' || c == ' ' || c == '\t' || c == '\r':
				i++
				continue
			case c == ',' && depth == 0:
				// The field ends; another on the same line goes to CUE's
				// scanner.
				i++
				return endOfField()
			case c == '/' && i+1 < n && src[i+1] == '/':
				comment()
				continue
			case c == '"':
				if _, ok := str(); !ok {
					return false
				}
				last = '"'
				continue
			case '0' <= c && c <= '9':
				// Plain numbers only (CUE reads 0x, 1e3, 5Ki and the
				// like, and refuses some of their neighbours, and 00).
				if c == '0' && i+1 < n && '0' <= src[i+1] && src[i+1] <= '9' {
					return false
				}
				for i < n && '0' <= src[i] && src[i] <= '9' {
					i++
				}
				if i+1 < n && src[i] == '.' && '0' <= src[i+1] && src[i+1] <= '9' {
					for i++; i < n && '0' <= src[i] && src[i] <= '9'; i++ {
					}
				}
				if i < n && (src[i] == '_' || src[i] == '.' || ('a' <= src[i] && src[i] <= 'z') || ('A' <= src[i] && src[i] <= 'Z')) {
					return false
				}
				last = '0'
				continue
			case c == '.' && !(i+1 < n && (src[i+1] == '_' || src[i+1] == '$' || ('a' <= src[i+1] && src[i+1] <= 'z') || ('A' <= src[i+1] && src[i+1] <= 'Z'))):
				return false // a selector is all it takes: '...', '.5' go to CUE's scanner
			case !(c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || strings.IndexByte(".,:+-*/&|!=<>()[]{}?~", c) >= 0):
				return false // '#', '@', raw strings, anything CUE might refuse
			case c == '{' || c == '[' || c == '(':
				depth++
			case c == '}' || c == ']' || c == ')':
				depth--
				if depth < 0 {
					return false
				}
			}
			last = c
			i++
		}
		return depth == 0 && (last == 0 || strings.IndexByte("+-*/&|=<>!(:[{.", last) < 0)
	}
	for i < n {
		c := src[i]
		switch {
		case c == '\n' || c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case comment():
			continue
		}
		// A label: an identifier or a plain string.
		var label string
		if c == '"' {
			l, ok := str()
			if !ok {
				return m, false
			}
			label = l
		} else {
			start := i
			for i < n && (src[i] == '_' || src[i] == '$' || ('a' <= src[i] && src[i] <= 'z') || ('A' <= src[i] && src[i] <= 'Z') ||
				(i > start && '0' <= src[i] && src[i] <= '9')) {
				i++
			}
			if i == start {
				return m, false
			}
			label = string(src[start:i])
		}
		space()
		if i >= n || src[i] != ':' {
			return m, false
		}
		i++
		space()
		if !metaFields[label] {
			if !skipValue() {
				return m, false
			}
			continue
		}
		if seen[label] {
			return m, false
		}
		seen[label] = true
		if label == "environments" || label == "fixes" {
			if i >= n || src[i] != '[' {
				return m, false
			}
			i++
			envs := []string{}
			for {
				for i < n && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
					i++
				}
				if comment() {
					continue
				}
				if i < n && src[i] == ']' {
					i++
					break
				}
				v, ok := str()
				if !ok {
					return m, false
				}
				envs = append(envs, v)
				for i < n && (src[i] == ' ' || src[i] == '\t') {
					i++
				}
				if i < n && src[i] == ',' {
					i++
				} else if i < n && src[i] != ']' && src[i] != '\n' && src[i] != '\r' {
					return m, false
				}
			}
			if label == "fixes" {
				m.Fixes = envs
			} else {
				m.Environments = envs
			}
		} else {
			v, ok := str()
			if !ok {
				return m, false
			}
			switch label {
			case "title":
				m.Title = v
			case "kind":
				m.Kind = v
			case "risk":
				m.Risk = v
			case "owner":
				m.Owner = v
			case "postReviewOf":
				m.PostReviewOf = v
			}
		}
		if !endOfField() {
			return m, false
		}
	}
	return m, true
}

// unquote is literal.Unquote, which panics on some escapes (cue v0.17.1:
// "\U80000000" reaches an "unreachable"): a ticket must never crash cab
// log, so a panic is an unreadable string.
func unquote(s string) (v string, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = "", fmt.Errorf("unquoting %.40q: %v", s, p)
		}
	}()
	return literal.Unquote(s)
}
