package gittarget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

func TestRestoreKeepsOthersEdits(t *testing.T) {
	files := map[string]string{
		"deployment.yaml":    string(readTestdata(t, "deployment.yaml")),
		"values.json":        string(readTestdata(t, "values.json")),
		"kustomization.yaml": string(readTestdata(t, "kustomization.yaml")),
	}
	tests := []struct {
		name   string
		action model.Action
		file   string
		// other is the third party's edit of another part of the file;
		// want is the file after restoring.
		other func(string) string
		want  func(original string) string
	}{
		{"yaml value", setAction("deployment.yaml", ".spec.template.spec.containers[0].image", "ghcr.io/acme/payments:1.4.2"), "deployment.yaml",
			func(s string) string { return strings.Replace(s, "replicas: 3", "replicas: 6", 1) },
			func(s string) string { return strings.Replace(s, "replicas: 3", "replicas: 6", 1) }},
		{"yaml created key", setAction("deployment.yaml", ".spec.template.metadata.annotations.rollout", "7"), "deployment.yaml",
			func(s string) string { return strings.Replace(s, "envoy:1.30", "envoy:1.31", 1) },
			func(s string) string { return strings.Replace(s, "envoy:1.30", "envoy:1.31", 1) }},
		{"json value", setAction("values.json", ".image.tag", "1.4.2"), "values.json",
			func(s string) string { return strings.Replace(s, `"replicas": 3`, `"replicas": 9`, 1) },
			func(s string) string { return strings.Replace(s, `"replicas": 3`, `"replicas": 9`, 1) }},
		{"json created key", setAction("values.json", ".resources.limits.cpu", "1"), "values.json",
			func(s string) string { return strings.Replace(s, `"a",`, `"z",`, 1) },
			func(s string) string { return strings.Replace(s, `"a",`, `"z",`, 1) }},
		{"kustomize entry", imageAction("kustomization.yaml", "payments", "ghcr.io/acme/payments-v2", digest2), "kustomization.yaml",
			func(s string) string {
				return strings.Replace(s, "- deployment.yaml", "- deployment.yaml\n  - service.yaml", 1)
			},
			func(s string) string {
				return strings.Replace(s, "- deployment.yaml", "- deployment.yaml\n  - service.yaml", 1)
			}},
		{"kustomize tag set", imageTagAction("kustomization.yaml", "envoy", "1.31", digest2), "kustomization.yaml",
			func(s string) string {
				return strings.Replace(s, "- deployment.yaml", "- deployment.yaml\n  - service.yaml", 1)
			},
			func(s string) string {
				return strings.Replace(s, "- deployment.yaml", "- deployment.yaml\n  - service.yaml", 1)
			}},
		{"kustomize stale tag removed", imageAction("kustomization.yaml", "envoy", "", digest2), "kustomization.yaml",
			func(s string) string {
				return strings.Replace(s, "- deployment.yaml", "- deployment.yaml\n  - service.yaml", 1)
			},
			func(s string) string {
				return strings.Replace(s, "- deployment.yaml", "- deployment.yaml\n  - service.yaml", 1)
			}},
		{"kustomize added entry", imageAction("kustomization.yaml", "redis", "", digest2), "kustomization.yaml",
			func(s string) string { return strings.Replace(s, `newTag: "1.30"`, `newTag: "1.31"`, 1) },
			func(s string) string { return strings.Replace(s, `newTag: "1.30"`, `newTag: "1.31"`, 1) }},
	}
	srv := newGitServer(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			repo := srv.seed(t, fmt.Sprintf("restore-%d", i), files)
			original := repo.show(t, tt.file)
			d := newDriver(t)
			c := change(repo.url, tt.action)
			prev, err := d.Observe(ctx, c)
			require.NoError(t, err)
			_, err = d.Apply(ctx, c)
			require.NoError(t, err)
			repo.edit(t, tt.file, tt.other)

			require.NoError(t, d.Restore(ctx, c, prev))
			assert.Equal(t, tt.want(original), repo.show(t, tt.file), "the value restored, the third party's edit kept")
			st, err := d.Observe(ctx, c)
			require.NoError(t, err)
			assert.Equal(t, prev.Value, st.Value)
			assert.Equal(t, 4, repo.commits(t), "seed, apply, third party, restore")
		})
	}
}

func TestApplyRetriesWhenBranchMoves(t *testing.T) {
	ctx := context.Background()
	srv := newGitServer(t)
	repo := srv.seed(t, "race", map[string]string{"values.json": string(readTestdata(t, "values.json"))})
	d := newDriver(t)
	// Another writer pushes between the driver's fetch and its push, on
	// the first two attempts.
	var attempts []int
	d.beforePush = func(attempt int) {
		attempts = append(attempts, attempt)
		if attempt <= 2 {
			repo.edit(t, "values.json", func(s string) string {
				return strings.Replace(s, `"replicas": `+fmt.Sprint(2+attempt), `"replicas": `+fmt.Sprint(3+attempt), 1)
			})
		}
	}
	st, err := d.Apply(ctx, change(repo.url, setAction("values.json", ".image.tag", "1.4.2")))
	require.NoError(t, err)
	assert.True(t, st.Done)
	assert.Equal(t, []int{1, 2, 3}, attempts, "two lost races, then the push lands")
	got := repo.show(t, "values.json")
	assert.Contains(t, got, `"tag": "1.4.2"`, "cab's edit")
	assert.Contains(t, got, `"replicas": 5`, "the other writer's edits are not lost")
	assert.Equal(t, 4, repo.commits(t))

	// With too few attempts, the driver gives up with ErrContention.
	d2 := newDriver(t, WithMaxAttempts(2))
	d2.beforePush = func(attempt int) {
		repo.edit(t, "values.json", func(s string) string { return s + " " })
	}
	_, err = d2.Apply(ctx, change(repo.url, setAction("values.json", ".image.tag", "1.4.3")))
	require.ErrorIs(t, err, ErrContention)
	assert.Contains(t, err.Error(), "2 attempts")
	assert.NotContains(t, repo.show(t, "values.json"), "1.4.3")
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	srv := newGitServer(t)
	repo := srv.seed(t, "concurrent", map[string]string{"values.json": "{\n  \"image\": {\n    \"tag\": \"1\"\n  }\n}\n"})
	for _, tr := range transports[:2] {
		t.Run(tr.name, func(t *testing.T) {
			const writers = 4
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := newDriver(t, WithMaxAttempts(30))
					_, errs[i] = d.Apply(ctx, change(tr.url(repo), setAction("values.json", fmt.Sprintf(".%s.w%d", tr.name, i), float64(i))))
				}()
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "writer %d", i)
			}
			got := repo.show(t, "values.json")
			for i := range writers {
				assert.Contains(t, got, fmt.Sprintf(`"w%d": %d`, i, i), "no lost update")
			}
		})
	}
}

func TestPushRejected(t *testing.T) {
	ctx := context.Background()
	srv := newGitServer(t)
	repo := srv.seed(t, "protected", map[string]string{"values.json": string(readTestdata(t, "values.json"))})
	hook := filepath.Join(repo.bare, "hooks", "pre-receive")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'main is protected: open a pull request' >&2\nexit 1\n"), 0o755))
	d := newDriver(t)
	var attempts int
	d.beforePush = func(int) { attempts++ }
	_, err := d.Apply(ctx, change(repo.url, setAction("values.json", ".image.tag", "1.4.2")))
	require.ErrorIs(t, err, ErrRejected)
	var re *RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, repo.url, re.URL)
	assert.Equal(t, "main", re.Branch)
	assert.Contains(t, err.Error(), repo.url)
	assert.Contains(t, err.Error(), "pushing to main")
	assert.Contains(t, err.Error(), "pre-receive hook declined")
	assert.Contains(t, err.Error(), "main is protected: open a pull request", "the hook's own words")
	assert.Equal(t, 1, attempts, "a refusal is not retried")
	assert.Equal(t, 1, repo.commits(t))
}

func TestRefused(t *testing.T) {
	const yaml = "a: 1\n"
	files := map[string]string{
		"ok.yaml":             yaml,
		"link.yaml":           "-> ok.yaml",
		"linkdir":             "-> dir",
		"dir/in.yaml":         yaml,
		"sub":                 "gitlink",
		"notdir":              yaml,
		"huge.yaml":           "a: " + strings.Repeat("x", DefaultMaxFileSize) + "\n",
		"apps/payments/x.yml": yaml,
	}
	srv := newGitServer(t)
	repo := srv.seed(t, "refused", files)
	tests := []struct {
		name, root, file string
		is               error
		msg              string
	}{
		{"symlink file", "", "link.yaml", target.ErrUnsafe, "link.yaml in " + repo.url + " is a symbolic link"},
		{"symlink dir", "", "linkdir/in.yaml", target.ErrUnsafe, "linkdir in " + repo.url + " is a symbolic link"},
		{"symlink root", "linkdir", "in.yaml", target.ErrUnsafe, "is a symbolic link"},
		{"submodule", "", "sub/values.yaml", target.ErrUnsafe, "sub in " + repo.url + " is a submodule"},
		{"submodule file", "", "sub", target.ErrUnsafe, "is a submodule"},
		{"dotdot", "", "dir/../ok.yaml", target.ErrUnsafe, "leaves its directory"},
		{"dotdot root", "apps/..", "ok.yaml", target.ErrUnsafe, `target root "apps/.." leaves its directory`},
		{"escape", "apps/payments", "../../ok.yaml", target.ErrUnsafe, "leaves its directory"},
		{"absolute", "", "/etc/passwd", target.ErrUnsafe, "is absolute"},
		{"absolute root", "/apps", "x.yml", target.ErrUnsafe, "is absolute"},
		{"dot git", "", ".git/config", target.ErrUnsafe, "git's own directory"},
		{"huge", "", "huge.yaml", target.ErrUnsafe, fmt.Sprintf("huge.yaml in %s is %d bytes, more than the %d cab edits", repo.url, DefaultMaxFileSize+4, DefaultMaxFileSize)},
		{"missing", "", "nope.yaml", ErrNoFile, "nope.yaml does not exist on main of " + repo.url + " (at nope.yaml): cab edits files, it does not create them"},
		{"missing dir", "apps/orders", "x.yml", ErrNoFile, "apps/orders/x.yml does not exist on main of " + repo.url + " (at apps/orders)"},
		{"parent is a file", "", "notdir/x.yaml", ErrNoFile, "notdir is a file"},
		{"directory", "", "dir", nil, "dir in " + repo.url + " is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d := newDriver(t)
			c := change(repo.url, setAction(tt.file, ".a", float64(2)))
			c.Target.Root = tt.root
			_, err := d.Observe(ctx, c)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.msg)
			_, err = d.Apply(ctx, c)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Equal(t, 1, repo.commits(t), "nothing pushed")
		})
	}

	// The control: the same driver edits a plain file of that repository.
	st, err := newDriver(t).Apply(context.Background(), change(repo.url, setAction("apps/payments/x.yml", ".a", float64(2))))
	require.NoError(t, err)
	assert.Equal(t, "2", st.Value)
}

func TestChangeErrors(t *testing.T) {
	srv := newGitServer(t)
	repo := srv.seed(t, "errors", map[string]string{"k.yaml": "images: []\n"})
	both := setAction("k.yaml", ".a", "x")
	both.KustomizeImage = &model.KustomizeImage{Name: "x", Digest: digest1}
	tests := []struct {
		name   string
		mutate func(*target.Change)
		is     error
		msg    string
	}{
		{"missing branch", func(c *target.Change) { c.Target.Branch = "prod" }, nil, "branch prod does not exist in " + repo.url},
		{"bad branch", func(c *target.Change) { c.Target.Branch = "a..b" }, nil, `branch "a..b"`},
		{"no url", func(c *target.Change) { c.Target.URL = "" }, nil, "has no url"},
		{"missing repository", func(c *target.Change) { c.Target.URL = repo.url + "-nope" }, nil, "fetching main of " + repo.url + "-nope"},
		{"credentials kept out of messages", func(c *target.Change) {
			c.Target.URL = strings.Replace(repo.url, "http://", "http://user:s3cret@", 1) + "-nope"
		}, nil, "fetching main of " + repo.url + "-nope: "},
		{"missing local repository", func(c *target.Change) { c.Target.URL = filepath.Join(t.TempDir(), "nope") }, nil, "repository not found"},
		{"both", func(c *target.Change) { c.Action = both }, nil, "exactly one of set and kustomizeImage"},
		{"neither", func(c *target.Change) { c.Action.Set = nil }, nil, "exactly one of set and kustomizeImage"},
		{"bad path", func(c *target.Change) { c.Action.Set.Path = "a.b" }, nil, "set.path"},
		{"no value", func(c *target.Change) { c.Action.Set.Value = nil }, nil, "set.value is missing"},
		{"object value", func(c *target.Change) { c.Action.Set.Value = map[string]any{} }, nil, "set.value of type map"},
		{"bad digest", func(c *target.Change) { c.Action = imageAction("k.yaml", "x", "", "latest") }, target.ErrUnsafe, `kustomizeImage.digest "latest" is not a sha256 digest`},
		{"not git", func(c *target.Change) { c.Action.Type = "oci" }, nil, `of type "oci", not git`},
		{"file url with host", func(c *target.Change) { c.Target.URL = "file://example.com/repo" }, nil, "names a local path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := change(repo.url, setAction("k.yaml", ".a", "x"))
			tt.mutate(&c)
			d := newDriver(t)
			for _, call := range []func() error{
				func() error { _, err := d.Observe(context.Background(), c); return err },
				func() error { _, err := d.Apply(context.Background(), c); return err },
			} {
				err := call()
				require.Error(t, err)
				if tt.is != nil {
					assert.ErrorIs(t, err, tt.is)
				} else {
					assert.False(t, errors.Is(err, target.ErrUnsafe), "not unsafe: %v", err)
				}
				assert.Contains(t, err.Error(), tt.msg)
				assert.NotContains(t, err.Error(), "s3cret")
			}
		})
	}
}

func TestRestoreErrors(t *testing.T) {
	ctx := context.Background()
	srv := newGitServer(t)
	repo := srv.seed(t, "restore-errors", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "a: 1\n"})
	d := newDriver(t)
	c := change(repo.url, setAction("a.yaml", ".a", float64(2)))
	prev, err := d.Observe(ctx, c)
	require.NoError(t, err)

	err = d.Restore(ctx, c, target.State{Value: "1"})
	assert.ErrorContains(t, err, "no previous state recorded")
	err = d.Restore(ctx, c, target.State{Value: "1", Restore: []byte("{")})
	assert.ErrorContains(t, err, "decoding the recorded state")
	other := change(repo.url, setAction("b.yaml", ".a", float64(2)))
	err = d.Restore(ctx, other, prev)
	assert.ErrorContains(t, err, "not of this change")
	assert.Equal(t, 1, repo.commits(t))

	// A restore state without the content (a file above 1 MiB) finds it
	// in the history by its blob.
	var rd restoreData
	require.NoError(t, json.Unmarshal(prev.Restore, &rd))
	rd.Content = nil
	prev.Restore, err = json.Marshal(rd)
	require.NoError(t, err)
	_, err = d.Apply(ctx, c)
	require.NoError(t, err)
	require.NoError(t, d.Restore(ctx, c, prev))
	assert.Equal(t, "a: 1\n", repo.show(t, "a.yaml"))
	assert.Equal(t, 3, repo.commits(t))

	// Neither is there when the blob is unknown.
	rd.Blob = "0123456789012345678901234567890123456789"
	prev.Restore, err = json.Marshal(rd)
	require.NoError(t, err)
	_, err = d.Apply(ctx, c)
	require.NoError(t, err)
	err = d.Restore(ctx, c, prev)
	assert.ErrorContains(t, err, "the previous content (blob 0123456789012345678901234567890123456789) is not in "+repo.url+"'s history")
}
