package validate

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
)

// cacheRepo writes a change repository with three tickets and a .git
// directory (where the verdict cache lives), with a secret of its own.
func cacheRepo(t *testing.T, extra map[string]string) string {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	files := map[string]string{
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
		"changes/payments/CHG-2026-0002.cue": idTicket("CHG-2026-0002", nil),
		// An error the cache must keep reporting.
		"changes/payments/CHG-2026-0003.cue": idTicket("CHG-2026-0003", map[string]string{"environments": `["staging", "qa"]`}),
	}
	for k, v := range extra {
		files[k] = v
	}
	root := newRepo(t, files)
	require.NoError(t, os.Mkdir(filepath.Join(root, ".git"), 0o755))
	return root
}

func checkWith(t *testing.T, opts Options) *Report {
	t.Helper()
	rep, err := CheckPaths(context.Background(), nil, opts)
	require.NoError(t, err)
	return rep
}

// requireSameVerdicts fails unless got judged every ticket as want did.
func requireSameVerdicts(t *testing.T, want, got *Report) {
	t.Helper()
	assert.Equal(t, want.Diagnostics, got.Diagnostics, "diagnostics with and without the cache")
	require.Len(t, got.Tickets, len(want.Tickets))
	for i := range want.Tickets {
		assert.Equal(t, want.Tickets[i], got.Tickets[i], "verdict on %s with and without the cache", want.Tickets[i].File)
	}
}

func appendTo(t *testing.T, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestVerdictCacheReusesOnlyWhatStillHolds(t *testing.T) {
	during := time.Date(2026, 12, 1, 22, 30, 0, 0, time.UTC) // inside every ticket's window
	after := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(t *testing.T)
		opts   Options
		want   int
	}{
		{name: "same inputs, a second later", opts: Options{Now: before.Add(time.Second)}, want: 3},
		{name: "same inputs, a week later", opts: Options{Now: before.Add(7 * 24 * time.Hour)}, want: 3},
		{name: "no-cache", opts: Options{Now: before, NoCache: true}, want: 0},
		{name: "window now open", opts: Options{Now: during}, want: 0},
		{name: "window now closed", opts: Options{Now: after}, want: 0},
		{name: "other mode", opts: Options{Now: before, Mode: policy.Merge}, want: 0},
		{name: "changed policy", change: func(t *testing.T) { appendTo(t, "policy/windows.cue", "\n// edited\n") },
			opts: Options{Now: before}, want: 0},
		{name: "new policy", change: func(t *testing.T) {
			require.NoError(t, os.WriteFile("policy/extra.cue", []byte("package policy\ndeny: []\n"), 0o644))
		}, opts: Options{Now: before}, want: 0},
		{name: "changed cab.cue", change: func(t *testing.T) { appendTo(t, "cab.cue", "\n// edited\n") },
			opts: Options{Now: before}, want: 0},
		{name: "changed ticket", change: func(t *testing.T) { appendTo(t, "changes/payments/CHG-2026-0002.cue", "\n// edited\n") },
			opts: Options{Now: before}, want: 2},
		{name: "another user's secret (a cache restored from elsewhere)", change: func(t *testing.T) { t.Setenv("XDG_CONFIG_HOME", t.TempDir()) },
			opts: Options{Now: before}, want: 0},
		{name: "evaluator experiments", change: func(t *testing.T) { t.Setenv("CUE_EXPERIMENT", "") },
			opts: Options{Now: before}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cacheRepo(t, nil)
			first := checkWith(t, Options{Now: before})
			require.Zero(t, first.Reused, "an empty cache reuses nothing")
			require.Equal(t, 1, first.Errors(), "%v", first.Diagnostics)
			if tt.change != nil {
				tt.change(t)
			}
			got := checkWith(t, tt.opts)
			assert.Equal(t, tt.want, got.Reused, "verdicts reused")
			fresh := tt.opts
			fresh.NoCache = true
			requireSameVerdicts(t, checkWith(t, fresh), got)
		})
	}
}

// A policy that may read input.now makes every verdict depend on the time
// of the check: nothing is reused a second later.
func TestVerdictCacheWhenAPolicyReadsNow(t *testing.T) {
	cacheRepo(t, map[string]string{"policy/now.cue": "package policy\nwarn: [if input.now > \"2030\" {\"late\"}]\n"})
	checkWith(t, Options{Now: before})
	got := checkWith(t, Options{Now: before.Add(time.Second)})
	assert.Zero(t, got.Reused, "verdicts reused at another time although a policy reads now")
	got = checkWith(t, Options{Now: before.Add(time.Second)})
	assert.Equal(t, 3, got.Reused, "verdicts reused at the same time")
}

// An entry the holder of the secret did not write is a miss: a forged
// verdict, an entry moved to another ticket's key, a truncated file.
func TestVerdictCachePoisonedEntries(t *testing.T) {
	root := cacheRepo(t, nil)
	want := checkWith(t, Options{Now: before})
	var entries []string
	require.NoError(t, filepath.WalkDir(filepath.Join(root, ".git", "cab", "verdicts"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			entries = append(entries, p)
		}
		return err
	}))
	require.Len(t, entries, 3, "one entry per ticket")
	forged := 0
	for _, p := range entries {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var c cached
		require.NoError(t, json.Unmarshal(b[32:], &c))
		if c.Result.Diags.Errors() > 0 {
			// The failing ticket: claim it passed, keeping the old tag.
			c.Result.Diags = nil
			payload, err := json.Marshal(c)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, append(b[:32:32], payload...), 0o600))
			forged++
		}
	}
	require.Equal(t, 1, forged)
	got := checkWith(t, Options{Now: before})
	assert.Equal(t, 2, got.Reused, "a forged entry is not a verdict")
	requireSameVerdicts(t, want, got)

	// Swap two entries: each is authentic, but for another ticket.
	a, err := os.ReadFile(entries[0])
	require.NoError(t, err)
	b, err := os.ReadFile(entries[1])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(entries[0], b, 0o600))
	require.NoError(t, os.WriteFile(entries[1], a, 0o600))
	require.NoError(t, os.WriteFile(entries[2], []byte("short"), 0o600))
	got = checkWith(t, Options{Now: before})
	assert.Zero(t, got.Reused, "entries under the wrong key or truncated are misses")
	requireSameVerdicts(t, want, got)
}

// The key names every input of a verdict but the time.
func TestVerdictCacheKey(t *testing.T) {
	cacheRepo(t, nil)
	root, err := os.Getwd()
	require.NoError(t, err)
	base := Job{Mode: policy.Local, Now: before, Config: &File{Name: "cab.cue", Source: []byte(testConfig)},
		Policies: []File{{Name: "policy/a.cue", Source: []byte("deny: []")}}}
	f := File{Name: "changes/payments/CHG-2026-0001.cue", Source: []byte(idTicket("CHG-2026-0001", nil))}
	key := func(job Job, f File) [32]byte {
		v := openVerdicts(root, job)
		require.NotNil(t, v)
		return v.key(f)
	}
	want := key(base, f)
	later := base
	later.Now = before.Add(time.Hour)
	assert.Equal(t, want, key(later, f), "the time is not in the key (it is in the facts)")
	variants := map[string]func(j *Job, f *File){
		"review":        func(j *Job, _ *File) { j.Review = &model.Review{Author: "github:1"} },
		"changed files": func(j *Job, _ *File) { j.ChangedFiles = []string{"x"} },
		"open tickets":  func(j *Job, _ *File) { j.Open = []Open{{}} },
		"mode":          func(j *Job, _ *File) { j.Mode = policy.PullRequest },
		"skip":          func(j *Job, _ *File) { j.Skip = []string{"policy/a.cue"} },
		"isolate":       func(j *Job, _ *File) { j.Isolate = true },
		"policy": func(j *Job, _ *File) {
			j.Policies = []File{{Name: "policy/a.cue", Source: []byte("deny: [] ")}}
		},
		"policy name": func(j *Job, _ *File) {
			j.Policies = []File{{Name: "policy/b.cue", Source: []byte("deny: []")}}
		},
		"cab.cue":     func(j *Job, _ *File) { j.Config = &File{Name: "cab.cue", Source: []byte(testConfig + " ")} },
		"no cab.cue":  func(j *Job, _ *File) { j.Config = nil },
		"ticket":      func(_ *Job, f *File) { f.Source = append([]byte("// x\n"), f.Source...) },
		"ticket name": func(_ *Job, f *File) { f.Name = "./" + f.Name },
	}
	for name, change := range variants {
		j, g := base, f
		change(&j, &g)
		assert.NotEqual(t, want, key(j, g), "the key does not change with the %s", name)
	}
}
