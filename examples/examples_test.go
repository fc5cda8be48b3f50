package examples_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// now is the time the examples are judged at, so that results do not drift
// with the clock: every window of the sample repository lies after it.
var now = time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)

// TestMain serves the sandboxed evaluation child: cab check re-executes
// the running binary, here the test binary.
func TestMain(m *testing.M) {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestExampleRepoPasses(t *testing.T) {
	rep, err := validate.CheckPaths(t.Context(), []string{"repo"}, validate.Options{Now: now})
	require.NoError(t, err)

	var text bytes.Buffer
	require.NoError(t, diag.WriteText(&text, rep.Diagnostics))
	assert.Zero(t, rep.Errors(), "errors in examples/repo, want none:\n%s", text.String())

	var ids []string
	for _, r := range rep.Tickets {
		ids = append(ids, r.ID)
		assert.Equal(t, r.ID+".cue", filepath.Base(r.File), "ticket file name")
		assert.Equal(t, r.Service, filepath.Base(filepath.Dir(r.File)), "directory of %s", r.File)
	}
	slices.Sort(ids)
	want := []string{
		"CHG-2027-0001", "CHG-2027-0002", "CHG-2027-0003", "CHG-2027-0004", "CHG-2027-0005",
		"CHG-2027-0006", "CHG-2027-0007", "CHG-2027-0008", "CHG-2027-0009", "CHG-2027-0010",
	}
	assert.Equal(t, want, ids, "ticket ids checked")

	// Only the emergency hotfix sits in a freeze, and it is told that it
	// needs a post-incident review.
	var inFreeze []string
	for _, d := range rep.Diagnostics {
		if strings.Contains(d.Message, "freeze") {
			inFreeze = append(inFreeze, d.File+": "+d.Message)
		}
	}
	assert.Equal(t, []string{
		filepath.Join("repo", "changes", "payments", "CHG-2027-0010.cue") +
			`: emergency change inside the freeze "q1-close-2027": it needs a post-incident review`,
	}, inFreeze, "freeze diagnostics")
}

func TestBadExamples(t *testing.T) {
	entries, err := os.ReadDir("bad")
	require.NoError(t, err)
	var classes []string
	for _, e := range entries {
		if e.IsDir() {
			classes = append(classes, e.Name())
		}
	}
	require.GreaterOrEqual(t, len(classes), 12, "classes of mistake in examples/bad")

	for _, class := range classes {
		t.Run(class, func(t *testing.T) {
			t.Parallel()
			files := cueFiles(t, filepath.Join("bad", class))
			require.NotEmpty(t, files, "ticket files in bad/%s", class)
			for _, f := range files {
				src, err := os.ReadFile(f)
				require.NoError(t, err)
				assert.True(t, bytes.HasPrefix(src, []byte("// ")), "%s must begin with a comment saying what is wrong", f)
			}

			rep, err := validate.CheckPaths(t.Context(), files, validate.Options{Now: now})
			require.NoError(t, err)

			var got bytes.Buffer
			require.NoError(t, diag.WriteText(&got, rep.Diagnostics))
			assert.Positive(t, rep.Errors(), "errors for bad/%s; got:\n%s", class, got.String())
			for _, d := range rep.Diagnostics {
				assert.Contains(t, files, d.File, "file of diagnostic %q", d.String())
				assert.Positive(t, d.Line, "line of diagnostic %q", d.String())
			}

			golden := filepath.Join("testdata", "bad", class+".golden")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden file; run go test ./examples -update")
			assert.Equal(t, string(want), got.String(), "output for bad/%s differs from %s (go test ./examples -update rewrites it)", class, golden)
		})
	}
}

func TestPoliciesMatchDefaults(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("repo", "policy", "*.cue"))
	require.NoError(t, err)
	got := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		require.NoError(t, err)
		got["policy/"+filepath.Base(n)] = b
	}
	want := map[string][]byte{}
	for _, f := range policy.Defaults() {
		want[f.Name] = f.Source
	}
	require.NotEmpty(t, want, "default policies")
	assert.ElementsMatch(t, keys(want), keys(got), "policy files in examples/repo/policy vs policy/defaults")
	for name, w := range want {
		if g, ok := got[name]; ok {
			assert.True(t, bytes.Equal(w, g), "examples/repo/%s differs from policy/defaults; copy it again", name)
		}
	}
}

func TestSchemaAgreesWithGoTypes(t *testing.T) {
	s, err := schema.Compile(nil)
	require.NoError(t, err)

	tickets := cueFiles(t, filepath.Join("repo", "changes"))
	require.NotEmpty(t, tickets)
	for _, f := range tickets {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".cue"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			p, ds := s.ParseTicket(f, src)
			require.Empty(t, ds, "schema diagnostics for %s", f)
			require.NotNil(t, p)
			assertSameJSON(t, p.JSON, p.Ticket)
		})
	}

	t.Run("cab.cue", func(t *testing.T) {
		name := filepath.Join("repo", "cab.cue")
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		c, ds := s.ParseConfig(name, src)
		require.Empty(t, ds, "schema diagnostics for %s", name)
		require.NotNil(t, c)
		assertSameJSON(t, c.JSON, c.Config)
	})
}

// assertSameJSON asserts that the Go value v marshals to the same JSON
// document as the canonical CUE export, compared as decoded values.
func assertSameJSON(t *testing.T, export []byte, v any) {
	t.Helper()
	fromGo, err := json.Marshal(v)
	require.NoError(t, err)
	var want, got any
	require.NoError(t, json.Unmarshal(export, &want))
	require.NoError(t, json.Unmarshal(fromGo, &got))
	assert.Equal(t, want, got, "Go types lose or add fields:\nCUE export: %s\nGo:         %s", export, fromGo)
}

// cueFiles lists the .cue files under dir, sorted.
func cueFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Ext(p) == ".cue" {
			out = append(out, p)
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(out)
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
