package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
)

func TestRepoRelative(t *testing.T) {
	// repo/ is a git work tree (a .git directory), linked/ one with a .git
	// file (git worktree add), outside/ none.
	base := t.TempDir()
	repo, linked, outside := filepath.Join(base, "repo"), filepath.Join(base, "linked"), filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "sub", "changes", "app"), 0o755))
	require.NoError(t, os.MkdirAll(linked, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(linked, ".git"), []byte("gitdir: elsewhere\n"), 0o644))
	require.NoError(t, os.MkdirAll(outside, 0o755))

	tests := []struct {
		name, dir, file, want string
	}{
		{"from the root", repo, "sub/changes/app/CHG-1.cue", "sub/changes/app/CHG-1.cue"},
		{"from a subdirectory", filepath.Join(repo, "sub"), "changes/app/CHG-1.cue", "sub/changes/app/CHG-1.cue"},
		{"from deeper, with dot-dot", filepath.Join(repo, "sub", "changes", "app"), "../../cab.cue", "sub/cab.cue"},
		{"dot-slash", filepath.Join(repo, "sub"), "./changes/app/CHG-1.cue", "sub/changes/app/CHG-1.cue"},
		{"absolute", base, filepath.Join(repo, "sub", "cab.cue"), "sub/cab.cue"},
		{"from outside the repository", base, "repo/sub/cab.cue", "sub/cab.cue"},
		{"linked work tree", linked, "changes/a/CHG-2.cue", "changes/a/CHG-2.cue"},
		{"no work tree keeps the path", outside, "changes/a/CHG-3.cue", "changes/a/CHG-3.cue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Check{
				Tool: "cab", Version: "v1",
				Tickets: []Ticket{{File: filepath.ToSlash(tt.file), ID: "CHG-1", OK: false}},
				Diagnostics: diag.List{{
					File: filepath.ToSlash(tt.file), Line: 3, Column: 2, Severity: diag.Error, Code: "policy",
					Rule: filepath.ToSlash(tt.file) + ":7:2",
				}},
			}
			got := RepoRelative(c, tt.dir)
			assert.Equal(t, tt.want, got.Tickets[0].File, "ticket file")
			assert.Equal(t, tt.want, got.Diagnostics[0].File, "diagnostic file")
			assert.Equal(t, tt.want+":7:2", got.Diagnostics[0].Rule, "rule position")
			assert.Equal(t, 3, got.Diagnostics[0].Line)
			assert.Equal(t, "v1", got.Version)
			assert.Equal(t, filepath.ToSlash(tt.file), c.Tickets[0].File, "the input Check was changed")
		})
	}
}

// TestRepoRelativeSameReportAnyCwd: the SARIF log of one check is the same
// bytes whichever directory cab ran in and however the files were named.
func TestRepoRelativeSameReportAnyCwd(t *testing.T) {
	repo := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(repo, ".git"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "changes", "app"), 0o755))
	check := func(dir, prefix string) string {
		c := Check{Tool: "cab", Tickets: []Ticket{{File: prefix + "changes/app/CHG-1.cue", ID: "CHG-1"}},
			Diagnostics: diag.List{{File: prefix + "changes/app/CHG-1.cue", Line: 1, Severity: diag.Error, Code: "schema", Message: "m"}}}
		var b bytes.Buffer
		require.NoError(t, SARIF(&b, RepoRelative(c, dir)))
		return b.String()
	}
	want := check(repo, "")
	assert.Contains(t, want, `"uri": "changes/app/CHG-1.cue"`)
	assert.Equal(t, want, check(filepath.Join(repo, "changes"), "../"), "from a subdirectory")
	assert.Equal(t, want, check("/", filepath.ToSlash(repo)+"/"), "absolute paths")
}
