package load_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/schema/load"
)

const validConfig = `apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
environments: prod: protected: true
approvers: payments: members: ["github:1"]
services: payments: approvers: "payments"
`

// invalidConfig has an unknown field on line 3, column 1.
const invalidConfig = `apiVersion: "cab.dev/v1"
environments: prod: {}
bogus: 1
`

// repo is a real git repository made with the git CLI, its work tree the
// directory the tests read too.
type repo struct {
	t   *testing.T
	dir string
	git *git.Repository
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	r := &repo{t: t, dir: t.TempDir()}
	gittest.Git(t, r.dir, "init", "-q", "-b", "main")
	gittest.Git(t, r.dir, "config", "user.email", "dev@example.com")
	gittest.Git(t, r.dir, "config", "user.name", "Dev")
	gittest.Git(t, r.dir, "config", "commit.gpgsign", "false")
	var err error
	r.git, err = git.PlainOpen(r.dir)
	require.NoError(t, err)
	return r
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(r.t, os.RemoveAll(p))
	require.NoError(r.t, os.WriteFile(p, []byte(content), 0o644))
}

func (r *repo) symlink(name, target string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(r.t, os.RemoveAll(p))
	require.NoError(r.t, os.Symlink(target, p))
}

// commit commits the work tree and returns the commit id.
func (r *repo) commit(msg string) plumbing.Hash {
	r.t.Helper()
	gittest.Git(r.t, r.dir, "add", "-A")
	gittest.Git(r.t, r.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return plumbing.NewHash(gittest.Git(r.t, r.dir, "rev-parse", "HEAD"))
}

// A revision whose cab.cue blob is unchanged is not compiled again; a
// changed one is; Recycle starts afresh.
func TestLoaderCachesByBlob(t *testing.T) {
	r := newRepo(t)
	r.write("cab.cue", validConfig)
	c1 := r.commit("config")
	r.write("README.md", "# changes\n")
	c2 := r.commit("other file")
	r.write("cab.cue", validConfig+`services: billing: approvers: "payments"`+"\n")
	c3 := r.commit("config changed")

	l := load.New()
	steps := []struct {
		name     string
		commit   plumbing.Hash
		compiles int
		services int
	}{
		{"first read compiles", c1, 1, 1},
		{"same revision again", c1, 1, 1},
		{"unchanged blob at another revision", c2, 1, 1},
		{"changed blob", c3, 2, 2},
		{"back to the first blob", c1, 2, 1},
	}
	for _, s := range steps {
		cfg, err := l.ConfigAtCommit(r.git, s.commit, "")
		require.NoError(t, err, s.name)
		assert.Equal(t, s.compiles, l.Compiles(), "%s: compiles", s.name)
		assert.Len(t, cfg.Config.Services, s.services, "%s: services", s.name)
	}

	// The same bytes read from the directory share the cache only under
	// the same name: diagnostics name the file as it was read.
	_, _, err := l.Parse(load.File{Name: "cab.cue", Source: []byte(validConfig)})
	require.NoError(t, err)
	assert.Equal(t, 2, l.Compiles(), "same name and blob: a hit")
	_, _, err = l.Parse(load.File{Name: "elsewhere/cab.cue", Source: []byte(validConfig)})
	require.NoError(t, err)
	assert.Equal(t, 3, l.Compiles(), "another name: a miss")

	l.Recycle()
	_, err = l.ConfigAtCommit(r.git, c1, "")
	require.NoError(t, err)
	assert.Equal(t, 4, l.Compiles(), "after Recycle the cache is empty")
}

// An invalid cab.cue is a *ConfigError carrying every diagnostic with its
// position, from the cache as from the first compile.
func TestLoaderKeepsDiagnostics(t *testing.T) {
	r := newRepo(t)
	r.write("cab.cue", invalidConfig)
	c := r.commit("invalid")

	l := load.New()
	for _, round := range []string{"compiled", "cached"} {
		cfg, err := l.ConfigAt(r.git, c.String())
		assert.Nil(t, cfg, round)
		var ce *load.ConfigError
		require.ErrorAs(t, err, &ce, round)
		assert.True(t, load.Tolerable(err), round)
		assert.False(t, ce.Refused, "%s: read, not refused", round)
		require.NotEmpty(t, ce.Diagnostics, round)
		d := ce.Diagnostics[0]
		assert.Equal(t, "cab.cue", d.File, round)
		assert.Equal(t, diag.Error, d.Severity, round)
		assert.Equal(t, 3, d.Line, "%s: the line of bogus", round)
		assert.Equal(t, 1, d.Column, round)
		assert.Contains(t, err.Error(), "cab.cue at "+c.String()+" does not validate: cab.cue:3:1", round)
	}
	assert.Equal(t, 1, l.Compiles())

	// The same from a directory, named as given.
	_, err := l.ConfigIn(r.dir)
	var ce *load.ConfigError
	require.ErrorAs(t, err, &ce)
	require.NotEmpty(t, ce.Diagnostics)
	assert.Equal(t, filepath.Join(r.dir, "cab.cue"), ce.Diagnostics[0].File)
	assert.Equal(t, 3, ce.Diagnostics[0].Line)
}

// A missing cab.cue is ErrNoConfig, at a revision and in a directory.
func TestLoaderNoConfig(t *testing.T) {
	r := newRepo(t)
	r.write("README.md", "x\n")
	c := r.commit("no config")
	l := load.New()
	_, err := l.ConfigAt(r.git, c.String())
	assert.ErrorIs(t, err, load.ErrNoConfig)
	assert.True(t, load.Tolerable(err))
	_, err = l.ConfigIn(r.dir)
	assert.ErrorIs(t, err, load.ErrNoConfig)
	// A refused policy that happens to be named cab.cue is not the
	// configuration.
	r.write("shared.cue", "package policy\n")
	r.symlink("policy/cab.cue", "../shared.cue")
	r.commit("a policy named cab.cue")
	rules, err := load.ReadTree(headTree(t, r))
	require.NoError(t, err)
	require.Len(t, rules.Refused, 1, "the symlinked policy")
	_, err = l.Config(rules, "HEAD")
	assert.ErrorIs(t, err, load.ErrNoConfig)
	rules, err = load.ReadDir(r.dir, nil)
	require.NoError(t, err)
	require.Len(t, rules.Refused, 1)
	_, err = l.Config(rules, r.dir)
	assert.ErrorIs(t, err, load.ErrNoConfig)

	_, err = l.ConfigAt(r.git, "no-such-branch")
	require.Error(t, err)
	assert.False(t, load.Tolerable(err), "an unknown revision is cab's failure to read, not a missing cab.cue")
	assert.Equal(t, 0, l.Compiles())
}

// What is not a regular file of reasonable size is refused before it is
// read, by its tree entry and by its lstat.
func TestLoaderRefuses(t *testing.T) {
	huge := `apiVersion: "cab.dev/v1"` + "\n" + strings.Repeat("// padding\n", schema.MaxConfigBytes/11+1)
	tests := []struct {
		name   string
		setup  func(r *repo)
		inTree bool // the case exists as a tree entry
		inDir  bool // the case exists in the work tree
		msg    string
	}{
		{"symlink", func(r *repo) {
			r.write("real.cue", validConfig)
			r.symlink("cab.cue", "real.cue")
		}, true, true, "symlinks are refused"},
		{"too large", func(r *repo) { r.write("cab.cue", huge) }, true, true, "more than the"},
		{"submodule", func(r *repo) {
			r.write("README.md", "x\n")
			gittest.Git(r.t, r.dir, "update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",cab.cue")
		}, true, false, "submodules are refused"},
		{"fifo", func(r *repo) {
			require.NoError(r.t, syscall.Mkfifo(filepath.Join(r.dir, "cab.cue"), 0o644))
		}, false, true, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			tt.setup(r)
			l := load.New()
			check := func(where string, err error, wantName string) {
				t.Helper()
				var ce *load.ConfigError
				require.ErrorAs(t, err, &ce, where)
				assert.True(t, ce.Refused, where)
				require.Len(t, ce.Diagnostics, 1, where)
				assert.Equal(t, wantName, ce.Diagnostics[0].File, where)
				assert.Equal(t, "file", ce.Diagnostics[0].Code, where)
				assert.Contains(t, ce.Diagnostics[0].Message, tt.msg, where)
			}
			if tt.inTree {
				if tt.name == "submodule" {
					gittest.Git(t, r.dir, "commit", "-q", "-m", "submodule")
				} else {
					r.commit(tt.name)
				}
				_, err := l.ConfigAt(r.git, "HEAD")
				check("revision", err, "cab.cue")
				rules, err := load.ReadTree(headTree(t, r))
				require.NoError(t, err)
				assert.Nil(t, rules.Config, "a refused cab.cue is not read")
				require.Len(t, rules.Refused, 1)
			}
			if tt.inDir {
				_, err := l.ConfigIn(r.dir)
				check("directory", err, filepath.Join(r.dir, "cab.cue"))
				rules, err := load.ReadDir(r.dir, nil)
				require.NoError(t, err)
				assert.Nil(t, rules.Config)
				require.Len(t, rules.Refused, 1)
			}
			assert.Equal(t, 0, l.Compiles(), "nothing refused is compiled")
		})
	}
}

// Policies are policy/*.cue in name order; a symlink or an oversized one
// is refused by name; other files and subdirectories are not policies.
func TestReadPolicies(t *testing.T) {
	r := newRepo(t)
	r.write("cab.cue", validConfig)
	r.write("policy/b.cue", "package policy\n")
	r.write("policy/a.cue", "package policy\n// a\n")
	r.write("policy/notes.md", "not a policy\n")
	r.write("policy/sub/c.cue", "package policy\n")
	r.write("shared.cue", "package policy\n")
	r.symlink("policy/link.cue", "../shared.cue")
	r.write("policy/z.cue", strings.Repeat("x", policy.MaxPolicyBytes+1))
	r.commit("policies")

	fromTree, err := load.ReadTree(headTree(t, r))
	require.NoError(t, err)
	fromDir, err := load.ReadDir(r.dir, func(p string) string {
		rel, err := filepath.Rel(r.dir, p)
		require.NoError(t, err)
		return filepath.ToSlash(rel)
	})
	require.NoError(t, err)

	for _, tc := range []struct {
		name  string
		rules load.Rules
	}{{"tree", fromTree}, {"directory", fromDir}} {
		t.Run(tc.name, func(t *testing.T) {
			require.NotNil(t, tc.rules.Config)
			assert.Equal(t, "cab.cue", tc.rules.Config.Name)
			assert.Equal(t, validConfig, string(tc.rules.Config.Source))
			var names []string
			for _, p := range tc.rules.Policies {
				names = append(names, p.Name)
			}
			assert.Equal(t, []string{"policy/a.cue", "policy/b.cue"}, names)
			assert.Equal(t, "package policy\n// a\n", string(tc.rules.Policies[0].Source))
			var refused []string
			for _, d := range tc.rules.Refused {
				refused = append(refused, d.File+": "+d.Message)
			}
			require.Len(t, refused, 2, "%v", refused)
			assert.Contains(t, refused[0], "policy/link.cue: symlinks are refused")
			assert.Contains(t, refused[1], "policy/z.cue: file is")
		})
	}
}

// The schema is compiled once per Loader, not per call.
func TestLoaderSchemaOnce(t *testing.T) {
	l := load.New()
	s1, err := l.Schema()
	require.NoError(t, err)
	s2, err := l.Schema()
	require.NoError(t, err)
	assert.Same(t, s1, s2)
	l.Recycle()
	s3, err := l.Schema()
	require.NoError(t, err)
	assert.NotSame(t, s1, s3, "Recycle drops the context")
}

func TestTolerable(t *testing.T) {
	assert.True(t, load.Tolerable(load.ErrNoConfig))
	assert.True(t, load.Tolerable(&load.ConfigError{}))
	assert.False(t, load.Tolerable(errors.New("disk on fire")))
	assert.False(t, load.Tolerable(nil))
}

func headTree(t *testing.T, r *repo) *object.Tree {
	t.Helper()
	h, err := r.git.Head()
	require.NoError(t, err)
	c, err := r.git.CommitObject(h.Hash())
	require.NoError(t, err)
	tree, err := c.Tree()
	require.NoError(t, err)
	return tree
}

// TreeFile reads a file of a tree through gitx, refusing by entry what is
// not a regular file (on the path as well as at its end) and by header a
// blob over its limit; a missing file is (nil, nil, nil). BlobFile gives
// the same refusals for an entry found by a diff.
func TestTreeFile(t *testing.T) {
	r := newRepo(t)
	r.write("changes/svc/a.cue", "a: 1\n")
	r.write("real/b.cue", "b: 2\n")
	r.symlink("changes/link", "../real")
	r.symlink("changes/svc/l.cue", "a.cue")
	r.write("big.cue", strings.Repeat("x", 100))
	r.commit("files")
	tree := headTree(t, r)
	tests := []struct {
		name    string
		max     int64
		want    string // the content read
		wantMsg string // else the refusal
	}{
		{name: "changes/svc/a.cue", max: 100, want: "a: 1\n"},
		{name: "big.cue", max: 100, want: strings.Repeat("x", 100)},
		{name: "big.cue", max: 99, wantMsg: "file is 100 bytes, more than the 99 allowed"},
		{name: "changes/svc/l.cue", max: 100, wantMsg: "symlinks are refused"},
		{name: "changes/link/b.cue", max: 100, wantMsg: "symlinks are refused"},
		{name: "changes/svc", max: 100, wantMsg: "not a regular file"},
		{name: "changes/svc/none.cue", max: 100},
		{name: "big.cue/x", max: 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s within %d", tt.name, tt.max), func(t *testing.T) {
			src, d, err := load.TreeFile(tree, tt.name, tt.max)
			require.NoError(t, err)
			if tt.wantMsg == "" {
				assert.Nil(t, d)
				if tt.want == "" {
					assert.Nil(t, src, "missing")
				} else {
					assert.Equal(t, tt.want, string(src))
				}
				return
			}
			require.NotNil(t, d)
			assert.Nil(t, src)
			assert.Equal(t, tt.name, d.File)
			assert.Equal(t, "file", d.Code)
			assert.Contains(t, d.Message, tt.wantMsg)
		})
	}

	e, err := tree.FindEntry("big.cue")
	require.NoError(t, err)
	src, d, err := load.BlobFile(r.git.Storer, "big.cue", e.Mode, e.Hash, 100)
	require.NoError(t, err)
	assert.Nil(t, d)
	assert.Len(t, src, 100)
	_, d, err = load.BlobFile(r.git.Storer, "big.cue", e.Mode, e.Hash, 10)
	require.NoError(t, err)
	require.NotNil(t, d)
	assert.Contains(t, d.Message, "more than the 10 allowed")
	l, err := tree.FindEntry("changes/svc/l.cue")
	require.NoError(t, err)
	_, d, err = load.BlobFile(r.git.Storer, "changes/svc/l.cue", l.Mode, l.Hash, 100)
	require.NoError(t, err)
	require.NotNil(t, d, "a link is refused by its mode, not read")
	assert.Contains(t, d.Message, "symlinks are refused")
}
