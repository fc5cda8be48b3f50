package gittarget

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

// gitServer is a real git smart-HTTP server (git http-backend behind
// net/http/cgi) on loopback, serving bare repositories under root.
type gitServer struct {
	root string
	url  string
}

func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
		"GIT_AUTHOR_NAME=someone", "GIT_AUTHOR_EMAIL=someone@example.com",
		"GIT_COMMITTER_NAME=someone", "GIT_COMMITTER_EMAIL=someone@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return string(out)
}

func newGitServer(t testing.TB) *gitServer {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	execPath := strings.TrimSpace(runGit(t, t.TempDir(), "--exec-path"))
	root := t.TempDir()
	srv := httptest.NewServer(&cgi.Handler{
		Path:   filepath.Join(execPath, "git-http-backend"),
		Stderr: io.Discard,
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	})
	t.Cleanup(srv.Close)
	return &gitServer{root: root, url: srv.URL}
}

// envRepo is an environment repository: a bare repository on the server
// (or on disk) seeded with files, and a working clone a third party edits
// it through.
type envRepo struct {
	bare string // directory of the bare repository
	url  string // URL the driver is given
}

// seed creates a bare repository named name holding files (content
// "-> target" makes a symlink, "gitlink" a submodule entry) on branch
// main.
func (s *gitServer) seed(t testing.TB, name string, files map[string]string) *envRepo {
	t.Helper()
	bare := filepath.Join(s.root, name+".git")
	runGit(t, s.root, "init", "-q", "--bare", "-b", "main", bare)
	runGit(t, bare, "config", "http.receivepack", "true")
	work := t.TempDir()
	runGit(t, work, "init", "-q", "-b", "main")
	var gitlinks []string
	for path, content := range files {
		full := filepath.Join(work, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		switch {
		case strings.HasPrefix(content, "-> "):
			require.NoError(t, os.Symlink(strings.TrimPrefix(content, "-> "), full))
		case content == "gitlink":
			gitlinks = append(gitlinks, path)
		default:
			require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
		}
	}
	runGit(t, work, "add", "-A")
	for _, path := range gitlinks {
		runGit(t, work, "update-index", "--add", "--cacheinfo", "160000,1111111111111111111111111111111111111111,"+path)
	}
	runGit(t, work, "commit", "-q", "-m", "seed")
	runGit(t, work, "push", "-q", bare, "main")
	return &envRepo{bare: bare, url: s.url + "/" + name + ".git"}
}

// show returns a file on main as C git sees it.
func (r *envRepo) show(t testing.TB, path string) string {
	return runGit(t, r.bare, "show", "main:"+path)
}

func (r *envRepo) commits(t testing.TB) int {
	var n int
	_, err := fmt.Sscan(runGit(t, r.bare, "rev-list", "--count", "main"), &n)
	require.NoError(t, err)
	return n
}

// edit commits a third party's change of path (to content) on top of
// main and pushes it.
func (r *envRepo) edit(t testing.TB, path string, fn func(string) string) {
	t.Helper()
	work := t.TempDir()
	runGit(t, work, "clone", "-q", r.bare, ".")
	full := filepath.Join(work, path)
	b, err := os.ReadFile(full)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(full, []byte(fn(string(b))), 0o644))
	runGit(t, work, "commit", "-q", "-am", "third party")
	runGit(t, work, "push", "-q", "origin", "main")
}

func newDriver(t testing.TB, opts ...Option) *Driver {
	t.Helper()
	d, err := New(t.TempDir(), append([]Option{WithClock(func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) })}, opts...)...)
	require.NoError(t, err)
	return d
}

// transports are the ways the driver reaches an environment repository.
var transports = []struct {
	name string
	url  func(*envRepo) string
}{
	{"http", func(r *envRepo) string { return r.url }},
	{"file-url", func(r *envRepo) string { return (&url.URL{Scheme: "file", Path: r.bare}).String() }},
	{"path", func(r *envRepo) string { return r.bare }},
}

func TestApplyObserveRestore(t *testing.T) {
	files := map[string]string{
		"apps/payments/deployment.yaml":    string(readTestdata(t, "deployment.yaml")),
		"apps/payments/values.json":        string(readTestdata(t, "values.json")),
		"apps/payments/kustomization.yaml": string(readTestdata(t, "kustomization.yaml")),
		"README.md":                        "environment repository\n",
	}
	tests := []struct {
		name          string
		action        model.Action
		golden        string // under testdata/edit/golden
		before, after string
		file          string
	}{
		{"yaml", setAction("deployment.yaml", ".spec.template.spec.containers[0].image", "ghcr.io/acme/payments:1.4.2"),
			"yaml-image.yaml", "ghcr.io/acme/payments:1.4.1", "ghcr.io/acme/payments:1.4.2", "deployment.yaml"},
		{"json", setAction("values.json", ".image.tag", "1.4.2"),
			"json-set.json", "1.4.1", "1.4.2", "values.json"},
		{"json new key", setAction("values.json", ".image.pullPolicy", "Always"),
			"json-new-key.json", target.Absent, "Always", "values.json"},
		{"kustomize update", imageAction("kustomization.yaml", "payments", "ghcr.io/acme/payments-v2", digest2),
			"kustomize-update.yaml", "ghcr.io/acme/payments@" + digest1, "ghcr.io/acme/payments-v2@" + digest2, "kustomization.yaml"},
		{"kustomize add", imageAction("kustomization.yaml", "redis", "docker.io/library/redis", digest2),
			"kustomize-add-entry.yaml", target.Absent, "docker.io/library/redis@" + digest2, "kustomization.yaml"},
	}
	srv := newGitServer(t)
	for _, tr := range transports {
		for i, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				repo := srv.seed(t, fmt.Sprintf("%s-%d", tr.name, i), files)
				d := newDriver(t)
				c := change(tr.url(repo), tt.action)
				c.Target.Root = "apps/payments"
				path := "apps/payments/" + tt.file
				original := repo.show(t, path)
				head := strings.TrimSpace(runGit(t, repo.bare, "rev-parse", "main"))

				prev, err := d.Observe(ctx, c)
				require.NoError(t, err)
				assert.Equal(t, tt.before, prev.Value)
				assert.False(t, prev.Done)
				var rd restoreData
				require.NoError(t, json.Unmarshal(prev.Restore, &rd))
				assert.Equal(t, head, rd.Head, "restore state records the head observed")
				assert.Equal(t, original, string(rd.Content), "restore state records the content")
				assert.Equal(t, strings.TrimSpace(runGit(t, repo.bare, "rev-parse", "main:"+path)), rd.Blob)

				st, err := d.Apply(ctx, c)
				require.NoError(t, err)
				assert.Equal(t, tt.after, st.Value)
				assert.True(t, st.Done)
				want, err := os.ReadFile(filepath.Join("testdata", "edit", "golden", tt.golden))
				require.NoError(t, err)
				assert.Equal(t, string(want), repo.show(t, path), "file as C git sees it on the remote")
				assert.Equal(t, 2, repo.commits(t))
				assert.Equal(t, "cab: CHG-2026-0042 "+tt.file+"\n\nCab-Ticket: CHG-2026-0042\nCab-Env: prod\nCab-Seq: 3\nCab-Commit: abc123\n",
					strings.TrimSuffix(runGit(t, repo.bare, "log", "-1", "--format=%B", "main"), "\n"))
				assert.Equal(t, "CHG-2026-0042/prod/3/abc123\n",
					runGit(t, repo.bare, "log", "-1", "--format=%(trailers:key=Cab-Ticket,valueonly,separator=%x2C)/%(trailers:key=Cab-Env,valueonly,separator=%x2C)/%(trailers:key=Cab-Seq,valueonly,separator=%x2C)/%(trailers:key=Cab-Commit,valueonly,separator=%x2C)", "main"),
					"trailers as C git parses them")
				runGit(t, repo.bare, "fsck", "--strict")

				again, err := d.Apply(ctx, c)
				require.NoError(t, err)
				assert.True(t, again.Done)
				assert.Equal(t, 2, repo.commits(t), "applying twice makes one commit")

				obs, err := newDriver(t).Observe(ctx, c)
				require.NoError(t, err, "a fresh driver (empty cache)")
				assert.Equal(t, tt.after, obs.Value)
				assert.True(t, obs.Done)

				require.NoError(t, d.Restore(ctx, c, prev))
				assert.Equal(t, original, repo.show(t, path), "restored byte for byte")
				assert.Equal(t, 3, repo.commits(t))
				assert.Equal(t, "CHG-2026-0042\n", runGit(t, repo.bare, "log", "-1", "--format=%(trailers:key=Cab-Rollback,valueonly,separator=%x2C)", "main"))
				assert.Contains(t, runGit(t, repo.bare, "log", "-1", "--format=%s", "main"), "cab: roll back CHG-2026-0042")

				require.NoError(t, d.Restore(ctx, c, prev), "restoring twice")
				assert.Equal(t, 3, repo.commits(t), "restoring twice makes one commit")
			})
		}
	}
}
