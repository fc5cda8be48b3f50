package synth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cuelang.org/go/cue/format"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// TestMain serves the sandboxed evaluation child of validate.CheckPaths.
func TestMain(m *testing.M) {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestNewIsDeterministic(t *testing.T) {
	opts := Options{Seed: 7, Tickets: 200}
	a, err := New(opts)
	require.NoError(t, err)
	b, err := New(opts)
	require.NoError(t, err)
	assert.Equal(t, a.Files(), b.Files(), "same options must give the same files")

	opts.Seed = 8
	c, err := New(opts)
	require.NoError(t, err)
	assert.NotEqual(t, a.Tickets[0].Source, c.Tickets[0].Source, "another seed must give other tickets")
}

func TestNewShape(t *testing.T) {
	r, err := New(Options{Seed: 1, Tickets: 2000})
	require.NoError(t, err)
	assert.Equal(t, 40, r.Options.Services, "default services for 2,000 tickets")
	require.Len(t, r.Tickets, 2000)

	ids := map[string]bool{}
	kinds := map[string]int{}
	risks := map[string]int{}
	lines := 0
	for _, tk := range r.Tickets {
		assert.False(t, ids[tk.ID], "duplicate id %s", tk.ID)
		ids[tk.ID] = true
		assert.Equal(t, "changes/"+tk.Service+"/"+tk.ID+".cue", tk.Path)
		kinds[tk.Kind]++
		risks[tk.Risk]++
		lines += bytes.Count(tk.Source, []byte("\n"))
	}
	for _, k := range []string{"standard", "normal", "emergency"} {
		assert.Greater(t, kinds[k], 20, "tickets of kind %s", k)
	}
	for _, k := range []string{"low", "medium", "high", "critical"} {
		assert.Greater(t, risks[k], 20, "tickets of risk %s", k)
	}
	avg := float64(lines) / float64(len(r.Tickets))
	assert.InDelta(t, 45, avg, 8, "average lines per ticket")
	all := bytes.Join(func() [][]byte {
		var out [][]byte
		for _, tk := range r.Tickets {
			out = append(out, tk.Source)
		}
		return out
	}(), nil)
	for _, want := range []string{`type:   "oci"`, `type:   "git"`, `type:   "http"`, "prechecks:", "postchecks:",
		"rollback:", "dependsOn:", "incident:", "supersedes:", "kustomizeImage:", `type:      "prometheus"`} {
		assert.Contains(t, string(all), want)
	}
}

// TestFilesAreCueFmtted checks that the files look as `cue fmt` writes
// them.
func TestFilesAreCueFmtted(t *testing.T) {
	r, err := New(Options{Seed: 3, Tickets: 100})
	require.NoError(t, err)
	for _, f := range r.Files() {
		if !strings.HasSuffix(f.Path, ".cue") || strings.HasPrefix(f.Path, "policy/") {
			continue
		}
		got, err := format.Source(f.Source)
		require.NoError(t, err, f.Path)
		assert.Equal(t, string(f.Source), string(got), "%s is not cue fmt-ed", f.Path)
	}
}

// TestTicketsPass checks the central promise: every generated ticket
// passes the schema and the default policies, also when judged before its
// window (so that freezes matter).
func TestTicketsPass(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 60
	}
	r, err := New(Options{Seed: 11, Tickets: n})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, r.WriteTree(dir))
	t.Chdir(dir) // relative names, as users run `cab check` in their repository
	for _, now := range []time.Time{time.Now(), r.Options.Start.Add(-48 * time.Hour)} {
		rep, err := validate.CheckPaths(context.Background(), nil, validate.Options{Now: now})
		require.NoError(t, err)
		assert.Len(t, rep.Tickets, n)
		for _, d := range rep.Diagnostics {
			if d.Severity == "error" {
				t.Errorf("now=%s: %s:%d:%d: %s", now.Format(time.DateOnly), d.File, d.Line, d.Column, d.Message)
			}
		}
	}
}

func TestApprovals(t *testing.T) {
	r, err := New(Options{Seed: 5, Tickets: 3000, Commits: 4000})
	require.NoError(t, err)
	p := r.plan
	for _, pr := range p.prs {
		tm := p.teams[p.services[pr.service].team]
		need, emergency := 0, false
		for _, ti := range pr.tickets {
			need = max(need, p.tickets[ti].approvals())
			emergency = emergency || p.tickets[ti].kind == "emergency"
		}
		assert.GreaterOrEqual(t, len(pr.approvers), need, "PR #%d", pr.num)
		assert.NotContains(t, pr.approvers, pr.author, "PR #%d approved by its author", pr.num)
		for _, a := range pr.approvers {
			assert.Contains(t, tm.approvers, a, "PR #%d approver not in the group", pr.num)
		}
		if emergency {
			assert.True(t, slices.ContainsFunc(pr.approvers, func(a int) bool { return slices.Contains(tm.oncall, a) }),
				"emergency PR #%d needs an on-call approver", pr.num)
		}
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("git %v: %v: %s", args, err, ee.Stderr)
	}
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func TestGenerateHistory(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	opts := Options{Seed: 2, Tickets: 40, Commits: 300}
	reused, err := Generate(ctx, dir, opts)
	require.NoError(t, err)
	assert.False(t, reused)

	assert.Equal(t, "300", git(t, dir, "rev-list", "--count", "main"), "commits")
	merges := strings.Split(git(t, dir, "rev-list", "--merges", "main"), "\n")
	assert.Equal(t, strconv.Itoa(len(merges)+1), git(t, dir, "rev-list", "--count", "--first-parent", "main"),
		"the first-parent line is the initial commit and merges")
	assert.Equal(t, "main", git(t, dir, "for-each-ref", "--format=%(refname:short)"), "only main is left")
	assert.Empty(t, git(t, dir, "status", "--porcelain"), "the work tree is main, the stamp is ignored")
	trailers := git(t, dir, "log", "--merges", "--format=%(trailers:key=Approved-by,valueonly)", "main")
	assert.Regexp(t, `^[A-Z][a-z]+ .+ <\d+\+[a-z0-9]+@users\.noreply\.github\.com>`, trailers)

	r, err := New(opts)
	require.NoError(t, err)
	for _, f := range r.Files() {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		require.NoError(t, err)
		assert.Equal(t, string(f.Source), string(got), "%s differs from the final tree", f.Path)
	}
	// Each commit of a branch touches 1 to 3 tickets.
	for _, c := range strings.Split(git(t, dir, "rev-list", "--no-merges", "main"), "\n") {
		files := git(t, dir, "diff-tree", "--no-commit-id", "--name-only", "-r", "--root", c)
		n := strings.Count(files, "changes/")
		if strings.Contains(files, "cab.cue") {
			continue // the initial commit
		}
		assert.True(t, n >= 1 && n <= 3, "commit %s touches %d tickets", c, n)
	}
	head := git(t, dir, "rev-parse", "main")

	reused, err = Generate(ctx, dir, opts)
	require.NoError(t, err)
	assert.True(t, reused, "same options reuse the directory")

	again := filepath.Join(t.TempDir(), "repo")
	_, err = Generate(ctx, again, opts)
	require.NoError(t, err)
	assert.Equal(t, head, git(t, again, "rev-parse", "main"), "history is deterministic")

	opts.Seed = 3
	reused, err = Generate(ctx, dir, opts)
	require.NoError(t, err)
	assert.False(t, reused, "other options regenerate")
	assert.NotEqual(t, head, git(t, dir, "rev-parse", "main"))
}

func TestGenerateRefusesForeignDirectories(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644))
	_, err := Generate(context.Background(), dir, Options{Tickets: 3})
	require.ErrorIs(t, err, ErrNotGenerated)
	_, err = os.Stat(filepath.Join(dir, "precious"))
	assert.NoError(t, err, "the directory is left alone")
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"no tickets":   {Tickets: 0},
		"one commit":   {Tickets: 5, Commits: 1},
		"few authors":  {Tickets: 5, Authors: 2},
		"negative svc": {Tickets: 5, Services: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(o)
			assert.ErrorIs(t, err, ErrOptions)
		})
	}
}

func TestExportJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "json")
	opts := Options{Seed: 4, Tickets: 20}
	_, err := ExportJSON(context.Background(), dir, opts)
	require.NoError(t, err)
	r, err := New(opts)
	require.NoError(t, err)
	for _, tk := range r.Tickets {
		b, err := os.ReadFile(filepath.Join(dir, tk.ID+".json"))
		require.NoError(t, err)
		assert.Contains(t, string(b), `"id": "`+tk.ID+`"`)
	}
}

// TestBenchKeysAreTrusted: the private keys written beside a generated
// repository are the ones its cab.cue trusts, each for its role only, so
// that what the benchmarks sign verifies.
func TestBenchKeysAreTrusted(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	opts := Options{Seed: 3, Tickets: 20}
	_, err := Generate(ctx, dir, opts)
	require.NoError(t, err)

	s, err := schema.Compile(nil)
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(dir, "cab.cue"))
	require.NoError(t, err)
	cfg, ds := s.ParseConfig("cab.cue", src)
	require.NotNil(t, cfg, "cab.cue: %v", ds)
	require.Len(t, cfg.Config.Keys, 2)

	for _, tc := range []struct {
		file, role, other string
	}{
		{SignKeyFile, model.RoleSign, model.RoleReconcile},
		{ReconcileKeyFile, model.RoleReconcile, model.RoleSign},
	} {
		t.Run(tc.role, func(t *testing.T) {
			signer, err := sign.LoadSigner(ctx, filepath.Join(dir, tc.file), nil)
			require.NoError(t, err)
			env, err := signer.SignPayload(ctx, sign.PayloadType, []byte(`{"bench":true}`))
			require.NoError(t, err)

			v, err := sign.NewVerifier(cfg.Config.Keys, tc.role)
			require.NoError(t, err)
			require.True(t, v.Trusts(signer.KeyID()))
			payload, err := v.VerifyPayload(env, sign.PayloadType)
			require.NoError(t, err)
			assert.JSONEq(t, `{"bench":true}`, string(payload))

			other, err := sign.NewVerifier(cfg.Config.Keys, tc.other)
			require.NoError(t, err)
			_, err = other.VerifyPayload(env, sign.PayloadType)
			require.ErrorIs(t, err, sign.ErrUntrusted, "a key must be trusted for its own role only")
		})
	}

	// Deterministic, and the seed changes the keys.
	assert.Equal(t, SignKey(opts), SignKey(opts))
	assert.NotEqual(t, SignKey(opts), SignKey(Options{Seed: 4, Tickets: 20}))
	assert.NotEqual(t, SignKey(opts), ReconcileKey(opts))
}

// TestBenchKeysStayOutOfGit: the private keys are beside the history,
// never in it, and git status is clean.
func TestBenchKeysStayOutOfGit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	_, err := Generate(context.Background(), dir, Options{Seed: 3, Tickets: 20, Commits: 9})
	require.NoError(t, err)
	for _, f := range []string{SignKeyFile, ReconcileKeyFile} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	assert.Empty(t, git(t, dir, "status", "--porcelain", "--ignored=no"))
	assert.Empty(t, git(t, dir, "log", "--all", "--format=%H", "--", SignKeyFile, ReconcileKeyFile))

	// `cab check` in the repository does not take them for committed
	// secrets.
	t.Chdir(dir)
	rep, err := validate.CheckPaths(context.Background(), nil, validate.Options{})
	require.NoError(t, err)
	require.Len(t, rep.Tickets, 20, "the check ran over the repository")
	for _, d := range rep.Diagnostics {
		assert.NotEqual(t, "secret", d.Code, "%s", d)
	}
}
