package treetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the module root, two levels up from this package.
const root = "../.."

// TestMakeFuzzRunsEveryTarget fails when a fuzz target exists that `make
// fuzz` would not run: it finds every FuzzX(*testing.F) with the Go parser
// and compares with what .ci/fuzz.sh, which make fuzz runs, lists.
func TestMakeFuzzRunsEveryTarget(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	want := fuzzTargets(t)
	require.NotEmpty(t, want, "the tree has fuzz targets")

	out, err := exec.Command("bash", filepath.Join(root, ".ci", "fuzz.sh"), "--list").Output()
	require.NoError(t, err, "listing fuzz targets")
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(got)
	assert.Equal(t, want, got, "make fuzz (.ci/fuzz.sh) runs exactly the fuzz targets of the tree")

	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	recipe := target(string(mk), "fuzz")
	assert.Contains(t, recipe, ".ci/fuzz.sh", "make fuzz runs the generated list")
}

// fuzzTargets returns "./<dir> FuzzX" for every fuzz target in a _test.go
// file of the module, sorted.
func fuzzTargets(t *testing.T) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Fuzz") && takesF(fn) {
				out = append(out, "./"+filepath.ToSlash(rel)+" "+fn.Name.Name)
			}
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(out)
	return slices.Compact(out)
}

// takesF says whether fn's only parameter is a *testing.F.
func takesF(fn *ast.FuncDecl) bool {
	ps := fn.Type.Params.List
	if len(ps) != 1 || len(ps[0].Names) > 1 {
		return false
	}
	star, ok := ps[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}

// target returns the recipe of a Makefile target.
func target(makefile, name string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(makefile, "\n") {
		switch {
		case strings.HasPrefix(line, name+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			b.WriteString(line + "\n")
		case in:
			return b.String()
		}
	}
	return b.String()
}
