//go:build conformance

package htmlreport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/browsertest"
)

// TestAxeOnReport runs axe-core in headless Chromium (internal/browsertest)
// on the report that `cab report --html` wrote in make conformance's
// end-to-end run (CAB_REPORT_DIR; axe from CAB_AXE or the cache
// .ci/install-chromium.sh fills). Any violation fails.
func TestAxeOnReport(t *testing.T) {
	dir := os.Getenv("CAB_REPORT_DIR")
	if dir == "" {
		t.Skip("set CAB_REPORT_DIR (a cab report --html directory); make conformance does")
	}
	t.Setenv("CAB_REQUIRE_BROWSER", "1")
	axe := browsertest.LoadAxe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := browsertest.Start(ctx, t)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	p, err := b.Open(ctx, srv.URL+"/"+IndexFile, 1280, 900)
	require.NoError(t, err)
	defer p.Close()
	violations, err := p.Axe(ctx, axe)
	require.NoError(t, err)
	for _, v := range violations {
		t.Errorf("axe: %s", v)
	}
	require.Empty(t, p.Problems(), "the report loads without console errors")
}
