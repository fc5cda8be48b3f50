package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/bench/synth"
)

// benchHandler serves the UI over a synthetic repository of 10,000
// tickets (bench/synth; -short: 1,000), generated once and cached under
// the temporary directory, with the snapshot already built: what every
// request after the first costs while main and the ledger stand still.
func benchHandler(b *testing.B) (*Handler, *Snapshot) {
	b.Helper()
	o := synth.Options{Seed: 1, Tickets: 10000, Commits: 20000}
	if testing.Short() {
		o.Tickets, o.Commits = 1000, 2000
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("cab-webui-bench-t%d-c%d", o.Tickets, o.Commits))
	_, err := synth.Generate(context.Background(), dir, o)
	require.NoError(b, err)
	// The synthetic windows span 2023-07 to 2026-07: look at a busy week.
	at := time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC)
	src := NewSource(Options{Dir: dir, Recheck: time.Hour, Now: func() time.Time { return at }})
	h, err := New(Config{Source: src, Now: func() time.Time { return at }})
	require.NoError(b, err)
	start := time.Now()
	snap, err := src.Snapshot(context.Background())
	require.NoError(b, err)
	require.Len(b, snap.Tickets, o.Tickets)
	b.Logf("snapshot of %d tickets built in %s", len(snap.Tickets), time.Since(start))
	return h, snap
}

// BenchmarkPages measures the board and the calendar (HTML and JSON) over
// 10,000 tickets; the issue asks for at most 100 ms each.
func BenchmarkPages(b *testing.B) {
	h, _ := benchHandler(b)
	for _, p := range []string{
		"/ui/board", "/ui/api/v1/board", "/ui/board?service=checkout-api",
		"/ui/calendar", "/ui/calendar?view=month", "/ui/api/v1/calendar?view=month", "/ui/calendar.ics",
		"/ui/",
	} {
		b.Run(p, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
				}
			}
		})
	}
}
