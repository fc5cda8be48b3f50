package prof_tmp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"
	cuejson "cuelang.org/go/encoding/json"

	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
)

func realInputs(b *testing.B) [][]byte {
	s, _ := schema.Compile(nil)
	files, _ := filepath.Glob("/tmp/gen10k/changes/*/*.cue")
	var out [][]byte
	for _, f := range files[:200] {
		src, _ := os.ReadFile(f)
		rel, _ := filepath.Rel("/tmp/gen10k", f)
		p, ds := s.ParseTicket(rel, src)
		if p == nil {
			b.Fatal(ds)
		}
		in, _ := json.Marshal(map[string]any{"mode": "local", "now": "2026-11-23T00:00:00Z",
			"repo":         map[string]any{"environments": map[string]any{"prod": map[string]any{"protected": true}, "staging": map[string]any{}}, "services": map[string]any{p.Ticket.Service: map[string]any{"approvers": "g"}}, "approvers": map[string]any{"g": map[string]any{"members": []string{"github:1", "github:2"}}}},
			"calendar":     map[string]any{"freezes": []any{}, "overlapping": []any{}, "windowClosed": true, "windowOpen": false},
			"changedFiles": []string{}, "ticket": json.RawMessage(p.JSON)})
		out = append(out, in)
	}
	return out
}

func BenchmarkRealSeparate(b *testing.B) {
	ins := realInputs(b)
	ctx := cuecontext.New()
	set, _ := policy.Compile(ctx, policy.Defaults(), nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := set.Evaluate(ins[i%len(ins)], nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRealCombined(b *testing.B) {
	ins := realInputs(b)
	ctx := cuecontext.New()
	scope := ctx.CompileString("{}")
	expr := "let IN = input\ninput: _\nout: {\n"
	for i, p := range policy.Defaults() {
		f, _ := parser.ParseFile(p.Name, p.Source)
		f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("input"), Value: ast.NewIdent("_")})
		scope = scope.FillPath(cue.ParsePath(fmt.Sprintf("P%d", i)), ctx.BuildFile(f))
		expr += fmt.Sprintf("p%d: P%d & {input: IN}\n", i, i)
	}
	comb := ctx.CompileString(expr+"}\n", cue.Scope(scope))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := comb.FillPath(cue.ParsePath("input"), ctx.CompileBytes(ins[i%len(ins)]))
		for j := 0; j < 4; j++ {
			for _, k := range []string{"deny", "warn"} {
				d := v.LookupPath(cue.ParsePath(fmt.Sprintf("out.p%d.%s", j, k)))
				if err := d.Validate(cue.Concrete(true)); err != nil {
					b.Fatal(err)
				}
				it, _ := d.List()
				for it.Next() {
				}
			}
		}
	}
}

func BenchmarkRealCompileOnly(b *testing.B) {
	ins := realInputs(b)
	ctx := cuecontext.New()
	for i := 0; i < b.N; i++ {
		ctx.CompileBytes(ins[i%len(ins)])
	}
}

func BenchmarkRealEncode(b *testing.B) {
	ins := realInputs(b)
	ctx := cuecontext.New()
	for i := 0; i < b.N; i++ {
		var m any
		json.Unmarshal(ins[i%len(ins)], &m)
		v := ctx.Encode(m)
		if v.Err() != nil {
			b.Fatal(v.Err())
		}
	}
}

func BenchmarkRealExtract(b *testing.B) {
	ins := realInputs(b)
	ctx := cuecontext.New()
	for i := 0; i < b.N; i++ {
		e, err := cuejson.Extract("input.json", ins[i%len(ins)])
		if err != nil {
			b.Fatal(err)
		}
		v := ctx.BuildExpr(e)
		if v.Err() != nil {
			b.Fatal(v.Err())
		}
	}
}

func BenchmarkRealEach(b *testing.B) {
	ins := realInputs(b)
	files := append(policy.Defaults(), policy.File{Name: "empty.cue", Source: []byte("deny: []")})
	for _, p := range files {
		b.Run(p.Name, func(b *testing.B) {
			ctx := cuecontext.New()
			set, _ := policy.Compile(ctx, []policy.File{p}, nil)
			for i := 0; i < b.N; i++ {
				set.Evaluate(ins[i%len(ins)], nil)
			}
		})
	}
}
