package prof_tmp

import (
	"fmt"
	"os"
	"testing"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"

	"github.com/cabhq/cab/policy"
)

func input(b *testing.B) []byte {
	cfg, _ := os.ReadFile("/tmp/perf/cab.cue")
	_ = cfg
	return []byte(`{"mode":"local","now":"2026-11-23T00:00:00Z","repo":{"services":{"platform":{"approvers":"pa"}},"approvers":{"pa":{"members":["github:1"]}},"environments":{"prod":{"protected":true}}},"calendar":{"freezes":[],"overlapping":[],"windowClosed":false,"windowOpen":false},"changedFiles":[],
"ticket":{"apiVersion":"cab.dev/v1","id":"CHG-2026-0001","title":"x","kind":"normal","risk":"medium","owner":"o","service":"platform","environments":["staging","prod"],"window":{"start":"2027-02-01T10:00:00Z","end":"2027-02-01T12:00:00Z"},"actions":[{"type":"oci","target":"images","image":"a/b@sha256:00","tag":"t"}],"prechecks":[{"type":"http","url":"https://x"}],"postchecks":[{"type":"http","url":"https://x"}],"rollback":{"auto":true}}}`)
}

func BenchmarkSeparate(b *testing.B) {
	ctx := cuecontext.New()
	set, ds := policy.Compile(ctx, policy.Defaults(), nil)
	if len(ds) > 0 {
		b.Fatal(ds)
	}
	in := input(b)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		f, err := set.Evaluate(in, nil)
		if err != nil || len(f) != 1 {
			b.Fatal(err, f)
		}
	}
	_ = start
}

func BenchmarkCombined(b *testing.B) {
	ctx := cuecontext.New()
	scope := ctx.CompileString("{}")
	expr := "let IN = input\ninput: _\nout: {\n"
	for i, p := range policy.Defaults() {
		f, err := parser.ParseFile(p.Name, p.Source)
		if err != nil {
			b.Fatal(err)
		}
		f.Decls = append(f.Decls, &ast.Field{Label: ast.NewIdent("input"), Value: ast.NewIdent("_")})
		v := ctx.BuildFile(f)
		scope = scope.FillPath(cue.ParsePath(fmt.Sprintf("P%d", i)), v)
		expr += fmt.Sprintf("p%d: P%d & {input: IN}\n", i, i)
	}
	expr += "}\n"
	comb := ctx.CompileString(expr, cue.Scope(scope))
	if comb.Err() != nil {
		b.Fatal(comb.Err())
	}
	in := input(b)
	for i := 0; i < b.N; i++ {
		iv := ctx.CompileBytes(in)
		v := comb.FillPath(cue.ParsePath("input"), iv)
		n := 0
		for j := 0; j < 4; j++ {
			d := v.LookupPath(cue.ParsePath(fmt.Sprintf("out.p%d.deny", j)))
			if err := d.Validate(cue.Concrete(true)); err != nil {
				b.Fatal(err)
			}
			it, _ := d.List()
			for it.Next() {
				n++
			}
			w := v.LookupPath(cue.ParsePath(fmt.Sprintf("out.p%d.warn", j)))
			it, _ = w.List()
			for it.Next() {
				n++
			}
		}
		if n != 1 {
			b.Fatal(n)
		}
	}
}

func BenchmarkEach(b *testing.B) {
	for _, p := range policy.Defaults() {
		b.Run(p.Name, func(b *testing.B) {
			ctx := cuecontext.New()
			set, _ := policy.Compile(ctx, []policy.File{p}, nil)
			in := input(b)
			for i := 0; i < b.N; i++ {
				set.Evaluate(in, nil)
			}
		})
	}
	b.Run("empty", func(b *testing.B) {
		ctx := cuecontext.New()
		set, _ := policy.Compile(ctx, []policy.File{{Name: "e.cue", Source: []byte("deny: []")}}, nil)
		in := input(b)
		for i := 0; i < b.N; i++ {
			set.Evaluate(in, nil)
		}
	})
}
