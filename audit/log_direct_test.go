package audit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeCommitGraph(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("git", "commit-graph", "write", "--reachable", "--changed-paths")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// A cold question that does not show Merged and names its services or a
// period is answered by the direct walk (with the commit-graph's Bloom
// filters when there is one, for the commits it holds) with the rows of
// the full scan, in the same order, and leaves no index behind.
func TestLogDirectMatchesFullScan(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	h := randomHistory(t, 7, 60)
	utc := func(s string) time.Time { v, err := time.Parse(time.RFC3339, s); require.NoError(t, err); return v }
	filters := map[string]Filter{
		"service":              {Services: []string{"a"}},
		"services":             {Services: []string{"b", "c", "b"}},
		"no such service":      {Services: []string{"zz"}},
		"refused service":      {Services: []string{".."}},
		"service and id":       {Services: []string{"c"}, IDs: []string{"CHG-2026-00*"}},
		"service and risk":     {Services: []string{"a"}, Risks: []string{"low"}},
		"period":               {Since: utc("2026-01-20T00:00:00Z"), Until: utc("2026-02-10T12:00:00Z")},
		"service and period":   {Services: []string{"b"}, Since: utc("2026-01-10T00:00:00Z"), Until: utc("2026-02-20T00:00:00Z")},
		"service since":        {Services: []string{"a"}, Since: utc("2026-02-01T00:00:00Z")},
		"period before 1970":   {Since: utc("1960-01-01T00:00:00Z"), Until: utc("2026-02-01T00:00:00Z")},
		"service pattern":      {Services: []string{"[ab]"}}, // not direct: the full scan
		"no service no period": {IDs: []string{"CHG-2026-0003"}},
	}
	check := func(t *testing.T, stage string) {
		for name, f := range filters {
			for _, reverse := range []bool{false, true} {
				want, wantRes := logRows(t, h.dir, LogOptions{Index: IndexOff, Filter: f, Reverse: reverse})
				require.NoError(t, os.RemoveAll(filepath.Join(h.dir, ".git", "cab")))
				got, res := logRows(t, h.dir, LogOptions{Filter: f, Reverse: reverse, NoMerged: true})
				assert.Equal(t, want, got, "%s: %s reverse=%v", stage, name, reverse)
				assert.Equal(t, wantRes.Rows, res.Rows)
				assert.Equal(t, wantRes.Problems, res.Problems)
				_, err := os.Stat(filepath.Join(h.dir, ".git", "cab"))
				switch name {
				case "service pattern", "no service no period":
					assert.Equal(t, "cold", res.Index.State, name)
					assert.Equal(t, wantRes.Merged, res.Merged)
				default:
					assert.Equal(t, "direct", res.Index.State, name)
					assert.Equal(t, -1, res.Merged)
					assert.True(t, os.IsNotExist(err), "%s: the direct walk writes no index", name)
				}
			}
		}
	}
	check(t, "no commit-graph")
	writeCommitGraph(t, h.dir)
	check(t, "commit-graph")
	// Commits newer than the graph: read and compared as without one.
	for i := range 8 {
		id := fmt.Sprintf("CHG-2026-09%02d", i)
		h.merge(900+i, "Erin", time.Date(2026, 2, 1, i, 0, 0, 0, time.UTC), map[string]string{ticketFile(id, []string{"a", "b"}[i%2]): ticketSource(id, "t", "normal", "low", "a", "prod")})
	}
	check(t, "commit-graph behind main")

	// With the index present, the index answers (and Merged is counted).
	require.NoError(t, os.RemoveAll(filepath.Join(h.dir, ".git", "cab")))
	_, res := logRows(t, h.dir, LogOptions{})
	require.Equal(t, "cold", res.Index.State)
	_, res = logRows(t, h.dir, LogOptions{Filter: filters["service"], NoMerged: true})
	assert.Equal(t, "warm", res.Index.State)
	assert.Positive(t, res.Merged)
}

// The direct walk serves LogEvents as Log, and a repository without
// commits.
func TestLogDirectEventsAndEmpty(t *testing.T) {
	h := fixture(t)
	events := func(o LogOptions) ([]*EventRow, *LogResult) {
		o.Dir = h.dir
		var rows []*EventRow
		res, err := LogEvents(context.Background(), o, func(e *EventRow) error { rows = append(rows, e); return nil })
		require.NoError(t, err)
		return rows, res
	}
	f := Filter{Services: []string{"payments"}, Envs: []string{"prod"}}
	want, _ := events(LogOptions{Index: IndexOff, Filter: f})
	require.NotEmpty(t, want)
	got, res := events(LogOptions{Filter: f, NoMerged: true})
	assert.Equal(t, want, got)
	assert.Equal(t, "direct", res.Index.State)

	empty := newHistory(t)
	rows, res := logRows(t, empty.dir, LogOptions{Filter: f, NoMerged: true})
	assert.Empty(t, rows)
	assert.Equal(t, "direct", res.Index.State)
}
