package audit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit/logindex"
	"github.com/cabhq/cab/bench/synth"
)

// benchRepo generates (once, cached under the temporary directory) a
// synthetic change repository of 1,000 tickets over 10,000 commits with
// bench/synth (-short: 200 over 2,000); bench/compare-log.sh measures the
// full-size one against C git.
func benchRepo(b *testing.B) string {
	b.Helper()
	o := synth.Options{Seed: 1, Tickets: 1000, Commits: 10000}
	if testing.Short() {
		o.Tickets, o.Commits = 200, 2000
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("cab-audit-bench-t%d-c%d", o.Tickets, o.Commits))
	_, err := synth.Generate(context.Background(), dir, o)
	require.NoError(b, err)
	return dir
}

// logOnce runs Log over dir, rendering JSON to nowhere.
func logOnce(b *testing.B, dir string, o LogOptions) {
	o.Dir = dir
	lw, err := NewLogWriter(io.Discard, "json", false)
	require.NoError(b, err)
	res, err := Log(context.Background(), o, lw.WriteChange)
	require.NoError(b, err)
	require.NoError(b, lw.Finish(res))
}

func benchLog(b *testing.B, dir string, o LogOptions, prepare func()) {
	b.Helper()
	for i := 0; i < b.N; i++ {
		if prepare != nil {
			b.StopTimer()
			prepare()
			b.StartTimer()
		}
		logOnce(b, dir, o)
	}
}

// BenchmarkLog measures cab log over the whole history, one service and
// one quarter: cold (no index) and warm (index up to date).
func BenchmarkLog(b *testing.B) {
	dir := benchRepo(b)
	index := filepath.Dir(logindex.Path(filepath.Join(dir, ".git")))
	for name, f := range map[string]Filter{
		"all":     {},
		"service": {Services: []string{"checkout-api"}},
		"quarter": {Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)},
	} {
		b.Run(name+"/cold", func(b *testing.B) {
			benchLog(b, dir, LogOptions{Filter: f}, func() { require.NoError(b, os.RemoveAll(index)) })
		})
		b.Run(name+"/warm", func(b *testing.B) {
			logOnce(b, dir, LogOptions{}) // bring the index up to date
			b.ResetTimer()
			benchLog(b, dir, LogOptions{Filter: f}, nil)
		})
	}
}

// BenchmarkDecodeIndex measures loading the index of the benchmark
// repository.
func BenchmarkDecodeIndex(b *testing.B) {
	dir := benchRepo(b)
	logOnce(b, dir, LogOptions{})
	data, err := os.ReadFile(logindex.Path(filepath.Join(dir, ".git")))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := decodeIndex(data)
		require.NoError(b, err)
	}
}
