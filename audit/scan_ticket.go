package audit

import (
	"path"
	"strings"

	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/scanner"
	"cuelang.org/go/cue/token"
)

// ticketMeta is what cab log shows of a ticket file.
type ticketMeta struct {
	Title, Kind, Risk, Owner string
	Environments             []string
	// Problem says why the file could not be read as plain ticket data
	// ("" when it could).
	Problem string
}

// metaFields are the top-level ticket fields parseTicketMeta reads.
var metaFields = map[string]bool{
	"title": true, "kind": true, "risk": true, "owner": true, "environments": true,
}

// parseTicketMeta reads the top-level title, kind, risk, owner and
// environments of a ticket file with CUE's own scanner, without
// evaluating anything: a merged ticket is plain CUE data (cab check
// refuses anything else), and evaluating ten thousand of them with the
// schema would cost seconds where tokenizing costs milliseconds. The
// result is display data for cab log, never evidence: cab verify checks
// tickets against their signatures. A field that is not a plain string
// (or list of strings) is left empty and named in Problem.
func parseTicketMeta(src []byte) ticketMeta {
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
	var label string // the top-level field being read ("" outside one)
	var value []token.Token
	var lits []string
	finish := func() {
		if label == "" {
			return
		}
		l := label
		label = ""
		if !metaFields[l] {
			return
		}
		if l == "environments" {
			envs, ok := stringList(value, lits)
			if !ok {
				problems = append(problems, "environments is not a list of strings")
				return
			}
			m.Environments = envs
			return
		}
		if len(value) != 1 || value[0] != token.STRING {
			problems = append(problems, l+" is not a plain string")
			return
		}
		v, err := literal.Unquote(lits[0])
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
		case depth == 0 && label == "" && tok == token.COLON && (prev == token.IDENT || prev == token.STRING):
			label = prevLit
			if prev == token.STRING {
				if v, err := literal.Unquote(prevLit); err == nil {
					label = v
				}
			}
			value, lits = value[:0], lits[:0]
			prev, prevLit = tok, lit
			continue
		case depth == 0 && tok == token.COMMA:
			finish()
		default:
			if label != "" {
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
			v, err := literal.Unquote(lits[i])
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
