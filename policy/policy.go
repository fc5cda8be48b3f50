package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/cabhq/cab/internal/diag"
)

// MaxPolicyBytes is the largest policy file cab compiles.
const MaxPolicyBytes = 1 << 20

//go:embed defaults/*.cue
var defaults embed.FS

// File is one policy source file.
type File struct {
	// Name is the path reported in diagnostics, e.g. "policy/approvals.cue".
	Name   string
	Source []byte
}

// Defaults returns the built-in default policy set, named policy/<file>.
func Defaults() []File {
	entries, err := fs.ReadDir(defaults, "defaults")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var out []File
	for _, e := range entries {
		b, err := defaults.ReadFile("defaults/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, File{Name: "policy/" + e.Name(), Source: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Set is a compiled set of policies within one cue.Context. It is not safe
// for concurrent use.
type Set struct {
	ctx      *cue.Context
	policies []compiled
	// all holds every policy under its path (see combine), once bound:
	// nothing of the input is filled into it.
	all   cue.Value
	paths []cue.Path
	// shared is the input bound by Bind, filled in with each ticket's.
	shared cue.Value
	// combined is what combine makes of policies, made once and shared
	// by every set Bind derives, so that binding again (a new time, as
	// when many merges are judged in one evaluator) costs only compiling
	// the shared input.
	combined *combination
}

// combination is every policy under its path, nothing bound (see combine).
type combination struct {
	all   cue.Value
	paths []cue.Path
}

type compiled struct {
	name string
	v    cue.Value
}

// Finding is one deny or warn produced by a policy.
type Finding struct {
	Severity diag.Severity
	Message  string
	Hint     string
	// Path is the ticket field the finding concerns, if the rule said.
	Path string
	// Rule is the position of the rule: "policy/approvals.cue:12:3".
	Rule string
	// ID is the rule's stable name when it gave one ({id: "approval-sla"}),
	// for programs that act on one finding (cab serve's SLA poll) rather
	// than on its words.
	ID string
}

var inputPath = cue.MakePath(cue.Str("input"))

// Compile parses and builds each policy file in ctx. Problems (syntax,
// imports outside the standard library, build errors) are returned as
// diagnostics naming the policy file; the set holds only the policies
// that compiled. If trace is not nil it is called with each file's name
// before the file is compiled.
func Compile(ctx *cue.Context, files []File, trace func(policy string)) (*Set, diag.List) {
	s := &Set{ctx: ctx}
	var diags diag.List
	for _, f := range files {
		if trace != nil {
			trace(f.Name)
		}
		c, ds := compile(ctx, f)
		diags = append(diags, ds...)
		if len(ds) == 0 {
			s.policies = append(s.policies, c)
		}
	}
	return s, diags.Sort()
}

func compile(ctx *cue.Context, f File) (compiled, diag.List) {
	fail := func(msg, hint string) (compiled, diag.List) {
		return compiled{}, diag.List{{File: f.Name, Line: 1, Column: 1, Severity: diag.Error, Code: "policy", Message: msg, Hint: hint}}
	}
	if len(f.Source) > MaxPolicyBytes {
		return fail(fmt.Sprintf("policy file is %d bytes, more than %d", len(f.Source), MaxPolicyBytes), "split the policy into smaller files")
	}
	file, err := parser.ParseFile(f.Name, f.Source, parser.ParseComments)
	if err != nil {
		return compiled{}, cueDiags(err, f.Name, "fix the CUE syntax of the policy")
	}
	var bad diag.List
	for spec := range file.ImportSpecs() {
		p, _ := stringLit(spec.Path)
		if !isStdlib(p) {
			pos := spec.Pos()
			bad = append(bad, diag.Diagnostic{File: f.Name, Line: pos.Line(), Column: pos.Column(), Severity: diag.Error, Code: "policy",
				Message: fmt.Sprintf("import %q is not allowed", p), Hint: "policies may import only the CUE standard library"})
		}
	}
	if len(bad) > 0 {
		return compiled{}, bad
	}
	// Every policy sees input; declare it so the file compiles alone.
	file.Decls = append(file.Decls, &ast.Field{Label: ast.NewIdent("input"), Value: ast.NewIdent("_")})
	v := ctx.BuildFile(file)
	if err := v.Err(); err != nil {
		return compiled{}, cueDiags(err, f.Name, "fix the policy")
	}
	return compiled{name: f.Name, v: v}, nil
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	return strings.Trim(lit.Value, `"`), true
}

func isStdlib(p string) bool {
	if i := strings.IndexByte(p, ':'); i >= 0 {
		p = p[:i]
	}
	// Standard library import paths have no dot in their first element;
	// tool/... can run commands and is refused.
	first, _, _ := strings.Cut(p, "/")
	return p != "" && !strings.Contains(first, ".") && first != "tool"
}

// Len is the number of policies that compiled.
func (s *Set) Len() int { return len(s.policies) }

// Bind returns a copy of s whose evaluations fill the fields of shared (a
// JSON object: the parts of the input that are the same for every
// ticket, such as calendar, time and mode) into input of every policy,
// together with each ticket's own. The shared input is compiled once;
// it is not unified with the policies here: every evaluation unifies the
// policies anew with the whole input, and evaluating the policies with
// the shared input alone first (an eager fill) only added that work
// once per Bind and made each evaluation dearer (see validate's
// BenchmarkEvaluateOne and BenchmarkEvaluateOneInContext).
func (s *Set) Bind(shared []byte) (*Set, error) {
	v := s.ctx.CompileBytes(shared, cue.Filename("input.json"))
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("compiling shared policy input: %w", err)
	}
	if s.combined == nil {
		all, paths := s.combine()
		s.combined = &combination{all: all, paths: paths}
	}
	out := &Set{ctx: s.ctx, policies: s.policies, shared: v, combined: s.combined}
	out.all, out.paths = s.combined.all, s.combined.paths
	return out, nil
}

// combine makes one value of every policy, each under its own field and
// all sharing one input, so that a ticket is filled in once rather than
// once per policy. Each policy stays a value of its own: an error in one
// does not touch the others.
func (s *Set) combine() (cue.Value, []cue.Path) {
	if len(s.policies) == 0 {
		return cue.Value{}, nil
	}
	scope := s.ctx.CompileString("{}")
	var src strings.Builder
	src.WriteString("let IN = input\ninput: _\n")
	paths := make([]cue.Path, len(s.policies))
	for i, p := range s.policies {
		scope = scope.FillPath(cue.MakePath(cue.Str(fmt.Sprintf("P%d", i))), p.v)
		fmt.Fprintf(&src, "p%d: P%d & {input: IN}\n", i, i)
		paths[i] = cue.MakePath(cue.Str(fmt.Sprintf("p%d", i)))
	}
	return s.ctx.CompileString(src.String(), cue.Scope(scope)), paths
}

// Evaluate runs every policy against input (a JSON object) and returns the
// findings. A policy that fails to evaluate yields an error finding at
// its own position: an evaluation error is never "no violations". The
// policies are evaluated together, in one value; an unbound set is bound
// to {} first.
func (s *Set) Evaluate(input []byte) ([]Finding, error) {
	if len(s.policies) == 0 {
		return nil, nil
	}
	if s.paths == nil {
		bound, err := s.Bind([]byte("{}"))
		if err != nil {
			return nil, err
		}
		s = bound
	}
	in, err := s.compileInput(input)
	if err != nil {
		return nil, err
	}
	all := s.all.FillPath(inputPath, in)
	var out []Finding
	for i, p := range s.policies {
		out = append(out, p.evaluate(all.LookupPath(s.paths[i]))...)
	}
	return out, nil
}

// EvaluateEach is Evaluate with every policy evaluated on its own, after
// trace (if not nil) is called with its name: slower, but when a policy
// never finishes, the last name traced is the guilty one.
func (s *Set) EvaluateEach(input []byte, trace func(policy string)) ([]Finding, error) {
	in, err := s.compileInput(input)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, p := range s.policies {
		if trace != nil {
			trace(p.name)
		}
		out = append(out, p.evaluate(p.v.FillPath(inputPath, in))...)
	}
	return out, nil
}

// compileInput compiles a ticket's input, unified with the shared input
// of a bound set: the whole input of one evaluation.
func (s *Set) compileInput(input []byte) (cue.Value, error) {
	in := s.ctx.CompileBytes(input, cue.Filename("input.json"))
	if err := in.Err(); err != nil {
		return cue.Value{}, fmt.Errorf("compiling policy input: %w", err)
	}
	if s.shared.Exists() {
		in = s.shared.Unify(in)
	}
	return in, nil
}

// evaluate collects the findings of v, the policy with its input filled in.
func (p compiled) evaluate(v cue.Value) []Finding {
	var out []Finding
	for _, sev := range []diag.Severity{diag.Error, diag.Warning} {
		name := "deny"
		if sev == diag.Warning {
			name = "warn"
		}
		list := v.LookupPath(cue.ParsePath(name))
		if !list.Exists() {
			continue
		}
		if err := list.Validate(cue.Concrete(true)); err != nil {
			out = append(out, p.evalError(name, err))
			continue
		}
		it, err := list.List()
		if err != nil {
			out = append(out, p.evalError(name, err))
			continue
		}
		for it.Next() {
			f, err := p.finding(sev, it.Value())
			if err != nil {
				out = append(out, p.evalError(name, err))
				continue
			}
			out = append(out, f)
		}
	}
	return out
}

func (p compiled) finding(sev diag.Severity, v cue.Value) (Finding, error) {
	f := Finding{Severity: sev, Rule: p.position(v.Pos())}
	switch v.Kind() {
	case cue.StringKind:
		s, err := v.String()
		f.Message = s
		return f, err
	case cue.StructKind:
		var m struct {
			Msg  string `json:"msg"`
			Path string `json:"path"`
			Hint string `json:"hint"`
			ID   string `json:"id"`
		}
		if err := v.Decode(&m); err != nil {
			return f, err
		}
		if m.Msg == "" {
			return f, fmt.Errorf("a finding needs a non-empty msg")
		}
		if m.ID != "" && !findingID().MatchString(m.ID) {
			return f, fmt.Errorf("a finding's id must match %s, not %q", findingID(), m.ID)
		}
		f.Message, f.Path, f.Hint, f.ID = m.Msg, m.Path, m.Hint, m.ID
		return f, nil
	default:
		return f, fmt.Errorf("a finding must be a string or {msg, path?, hint?, id?}, not %v", v.Kind())
	}
}

// findingID is the form of a finding's stable name, compiled on first use.
var findingID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`) })

func (p compiled) position(pos token.Pos) string {
	if !pos.IsValid() || path.Clean(pos.Filename()) != path.Clean(p.name) {
		return p.name
	}
	return fmt.Sprintf("%s:%d:%d", p.name, pos.Line(), pos.Column())
}

func (p compiled) evalError(name string, err error) Finding {
	rule := p.name
	for _, pos := range errors.Positions(err) {
		if pos.Filename() == p.name {
			rule = p.position(pos)
			break
		}
	}
	return Finding{
		Severity: diag.Error,
		Message:  fmt.Sprintf("policy %s could not be evaluated (%s): %s", p.name, name, firstLine(errors.Details(err, nil))),
		Hint:     "a policy must produce a concrete list; guard optional input fields with `if x != _|_`",
		Rule:     rule,
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ":")
}

// cueDiags converts CUE errors to diagnostics in a policy file.
func cueDiags(err error, file, hint string) diag.List {
	var out diag.List
	for _, e := range errors.Errors(err) {
		d := diag.Diagnostic{File: file, Severity: diag.Error, Code: "policy", Hint: hint}
		for _, p := range errors.Positions(e) {
			if p.Filename() == file {
				d.Line, d.Column = p.Line(), p.Column()
				break
			}
		}
		format, args := e.Msg()
		d.Message = fmt.Sprintf(format, args...)
		if ps := e.Path(); len(ps) > 0 {
			d.Path = strings.Join(ps, ".")
		}
		out = append(out, d)
	}
	return out.Sort()
}
