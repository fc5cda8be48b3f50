package htmlreport

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/browsertest"
)

// The browser test drives headless Chromium through internal/browsertest
// (Debian's chromium and axe-core, which .ci/install-chromium.sh
// installs). It skips when either is missing, unless
// CAB_REQUIRE_BROWSER=1 (as in CI). Screenshots go to
// $CAB_ARTIFACTS/htmlreport (default: a temporary directory).

// pageFacts is what the test reads from the rendered page.
type pageFacts struct {
	Title    string   `json:"title"`
	Scripts  int      `json:"scripts"`
	Injected int      `json:"injected"`
	IDs      []string `json:"ids"`
	Titles   []string `json:"titles"`
	Links    []string `json:"links"`
	Verdict  string   `json:"verdict"`
	BodyMax  string   `json:"bodyMax"`
	Charts   []struct {
		ID     string  `json:"id"`
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
		Marks  int     `json:"marks"`
		Drawn  int     `json:"drawn"`
		Lines  int     `json:"lines"`
		Fill   string  `json:"fill"`
	} `json:"charts"`
}

const factsScript = `JSON.stringify({
  title: document.title,
  scripts: document.scripts.length,
  injected: document.querySelectorAll('#injected, img').length,
  ids: Array.from(document.querySelectorAll('#changes tbody td.id'), td => td.textContent.trim()),
  titles: Array.from(document.querySelectorAll('#changes tbody td.title'), td => td.textContent),
  links: Array.from(document.querySelectorAll('#changes a'), a => a.getAttribute('href')),
  verdict: (document.querySelector('#verdict .headline') || {textContent: ''}).textContent,
  bodyMax: getComputedStyle(document.body).maxWidth,
  charts: Array.from(document.querySelectorAll('svg.chart'), s => {
    const r = s.getBoundingClientRect();
    const marks = Array.from(s.querySelectorAll('.mark'));
    const drawn = marks.filter(m => { const b = m.getBoundingClientRect(); return b.width > 0.5 && b.height > 0.5; });
    return {id: s.id, width: r.width, height: r.height, marks: marks.length, drawn: drawn.length,
      lines: s.querySelectorAll('polyline').length,
      fill: marks.length ? getComputedStyle(marks[0]).fill : ''};
  }),
})`

type loaded struct {
	Problems   []string
	Facts      pageFacts
	Screenshot []byte
	Axe        []browsertest.AxeViolation
}

// load opens url in a new tab of width×height, waits for the load event,
// and returns the problems the page caused, what it shows and a full-page
// screenshot; with axe set, also the accessibility rules it breaks.
func load(ctx context.Context, b *browsertest.Browser, url string, width, height int, axe *browsertest.Axe) (*loaded, error) {
	p, err := b.Open(ctx, url, width, height)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	out := &loaded{}
	var facts string
	if err := p.Eval(ctx, factsScript, &facts); err != nil {
		return nil, fmt.Errorf("reading the page: %w", err)
	}
	if err := json.Unmarshal([]byte(facts), &out.Facts); err != nil {
		return nil, fmt.Errorf("reading the page: %w", err)
	}
	if out.Screenshot, err = p.Screenshot(ctx); err != nil {
		return nil, err
	}
	if axe != nil {
		if out.Axe, err = p.Axe(ctx, axe); err != nil {
			return nil, err
		}
	}
	// Every event of this tab up to now: the page has loaded and been
	// read, so errors it could raise by itself have been raised.
	out.Problems = p.Problems()
	return out, nil
}

// colourShare returns the share of pixels of img within tolerance of
// (r, g, b), and the share that is not white.
func colourShare(img image.Image, r, g, b uint8) (match, ink float64) {
	bounds := img.Bounds()
	var n, m, k int
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			cr, cg, cb := uint8(pr>>8), uint8(pg>>8), uint8(pb>>8)
			n++
			if absDiff(cr, r) < 12 && absDiff(cg, g) < 12 && absDiff(cb, b) < 12 {
				m++
			}
			if cr < 240 || cg < 240 || cb < 240 {
				k++
			}
		}
	}
	return float64(m) / float64(n), float64(k) / float64(n)
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestReportInChromium loads a generated report in headless Chromium: no
// console error, exception or failed load; the charts are laid out and
// painted; the change table lists the expected ids; a hostile title stays
// text. Sub-tests prove that the harness does catch a script error, a
// console error, a failed load and a blocked style.
func TestReportInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	axe := browsertest.LoadAxe(t)
	b := browsertest.Start(ctx, t)

	dir := t.TempDir()
	require.NoError(t, Write(ctx, dir, fixture(), fixtureOptions()))
	mux := http.NewServeMux()
	mux.Handle("/report/", http.StripPrefix("/report/", http.FileServer(http.Dir(dir))))
	bad := map[string]string{
		"script-error":  `<!DOCTYPE html><title>x</title><p>x</p><script>undefinedFunction()</script>`,
		"console-error": `<!DOCTYPE html><title>x</title><p>x</p><script>console.error("boom")</script>`,
		"missing-image": `<!DOCTYPE html><title>x</title><img src="/nowhere.png" alt="">`,
		"csp-blocked-style": `<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='">` +
			`<title>x</title><style>body{color:red}</style><p>x</p>`,
	}
	for name, page := range bad {
		mux.HandleFunc("/bad/"+name, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	t.Run("report", func(t *testing.T) {
		got, err := load(ctx, b, srv.URL+"/report/", 1280, 900, axe)
		require.NoError(t, err, "chromium:\n%s", b.Stderr())
		artifacts := browsertest.ArtifactsDir(t, "htmlreport")
		shotPath := filepath.Join(artifacts, "report.png")
		require.NoError(t, os.WriteFile(shotPath, got.Screenshot, 0o644))
		html, err := os.ReadFile(filepath.Join(dir, IndexFile))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(artifacts, IndexFile), html, 0o644))
		t.Logf("screenshot: %s", shotPath)

		assert.Empty(t, got.Problems, "the page logged errors")
		assert.Empty(t, got.Axe, "axe-core finds no accessibility violation")
		f := got.Facts
		assert.Equal(t, "Q1 2026 changes", f.Title, "nothing rewrote the document title")
		assert.Equal(t, 0, f.Scripts, "no script element")
		assert.Equal(t, 0, f.Injected, "no element injected from the history")
		assert.Equal(t, []string{"CHG-2026-0001", "CHG-2026-0002", "CHG-2026-0003", "CHG-2026-0004",
			"CHG-2026-0005", "CHG-2026-0006", "CHG-2026-0007", "CHG-2026-0008"}, f.IDs)
		require.Len(t, f.Titles, 8)
		assert.Equal(t, xssTitle, f.Titles[6], "the hostile title is shown as text")
		assert.Contains(t, f.Links, "https://github.com/acme/changes/pull/41")
		assert.Contains(t, f.Links, "https://github.com/acme/changes/commit/"+fixture()[0].MergeCommit)
		assert.NotContains(t, strings.Join(f.Links, " "), "javascript:")
		assert.Equal(t, "1 break(s) found", f.Verdict)
		assert.Equal(t, "1400px", f.BodyMax, "the style sheet applied (its CSP hash matches)")

		require.Len(t, f.Charts, 3)
		for _, c := range f.Charts {
			assert.GreaterOrEqual(t, c.Width, 300.0, "%s laid out wide enough", c.ID)
			assert.GreaterOrEqual(t, c.Height, 100.0, "%s laid out tall enough", c.ID)
			assert.Positive(t, c.Marks, "%s has marks", c.ID)
			assert.Positive(t, c.Drawn, "%s painted some marks", c.ID)
			assert.NotEqual(t, "rgb(0, 0, 0)", c.Fill, "%s styled", c.ID)
		}
		byID := map[string]int{}
		for i, c := range f.Charts {
			byID[c.ID] = i
		}
		// Three months of merged and deployed bars, every one non-zero.
		assert.Equal(t, 6, f.Charts[byID["chart-throughput"]].Drawn)
		assert.Positive(t, f.Charts[byID["chart-lead-time"]].Lines)

		cfg, err := png.DecodeConfig(bytes.NewReader(got.Screenshot))
		require.NoError(t, err, "the screenshot is a PNG")
		assert.Equal(t, 1280, cfg.Width)
		assert.Greater(t, cfg.Height, 900, "full page, beyond the viewport")
		img, err := png.Decode(bytes.NewReader(got.Screenshot))
		require.NoError(t, err)
		// --s1, the colour of "changes merged" and lead time p50: painted
		// bars show up as pixels.
		blue, ink := colourShare(img, 0x2f, 0x6f, 0xba)
		assert.Greater(t, blue, 0.002, "chart bars painted")
		assert.Greater(t, ink, 0.05, "the page is not blank")
	})

	for _, tt := range []struct{ page, want string }{
		{"script-error", "undefinedFunction is not defined"},
		{"console-error", "console.error: boom"},
		{"missing-image", "404"},
		{"csp-blocked-style", "Content Security Policy"},
	} {
		t.Run("catches "+tt.page, func(t *testing.T) {
			got, err := load(ctx, b, srv.URL+"/bad/"+tt.page, 800, 600, nil)
			require.NoError(t, err, "chromium:\n%s", b.Stderr())
			require.NotEmpty(t, got.Problems, "the harness must see the deliberate error")
			assert.Contains(t, strings.Join(got.Problems, "\n"), tt.want)
		})
	}
}
