package htmlreport

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser test drives headless Chromium (Debian's chromium, which
// .ci/install-chromium.sh installs) over the DevTools protocol. It skips
// when there is no browser, unless CAB_REQUIRE_BROWSER=1 (as in CI).
// Screenshots go to $CAB_ARTIFACTS/htmlreport (default: a temporary
// directory).

// chromiumFlags keep the browser off the network and quiet: this machine's
// network is closed, and the background services would only fail.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
	"--hide-scrollbars", "--remote-debugging-port=0",
}

func chromiumPath() string {
	if p := os.Getenv("CAB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// lockedBuffer keeps the last bytes the browser wrote to stderr, for
// failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if over := len(l.b) - 16<<10; over > 0 {
		l.b = l.b[over:]
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

type browser struct {
	cmd    *exec.Cmd
	cdp    *cdpClient
	stderr *lockedBuffer
}

// startBrowser starts Chromium with a fresh profile and connects to it;
// the browser is stopped (its whole process group) when the test ends.
func startBrowser(ctx context.Context, t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CAB_REQUIRE_BROWSER") == "1" {
			t.Fatal("CAB_REQUIRE_BROWSER=1 but no chromium was found: run .ci/install-chromium.sh or set CAB_CHROMIUM")
		}
		t.Skip("no chromium found (install Debian's chromium, e.g. .ci/install-chromium.sh, or set CAB_CHROMIUM); set CAB_REQUIRE_BROWSER=1 to make this a failure")
	}
	profile := t.TempDir()
	b := &browser{stderr: &lockedBuffer{}}
	b.cmd = exec.Command(path, append(chromiumFlags, "--user-data-dir="+profile, "about:blank")...)
	b.cmd.Stdout = b.stderr
	b.cmd.Stderr = b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, b.cmd.Start(), "starting %s", path)
	exited := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() { b.stop(exited) })

	// Chromium writes its port and browser target to DevToolsActivePort.
	var port, target string
	for {
		data, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); err == nil && len(lines) == 2 {
			port, target = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("chromium did not open its DevTools port: %v\n%s", ctx.Err(), b.stderr)
		case <-exited:
			t.Fatalf("chromium exited before opening its DevTools port:\n%s", b.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, err := strconv.Atoi(port)
	require.NoError(t, err, "DevToolsActivePort port")
	ws, err := dialWS(ctx, "ws://127.0.0.1:"+port+target)
	require.NoError(t, err, "connecting to chromium\n%s", b.stderr)
	b.cdp = newCDPClient(ws)
	return b
}

func (b *browser) stop(exited chan struct{}) {
	if b.cdp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = b.cdp.call(ctx, "", "Browser.close", nil, nil)
		cancel()
		b.cdp.ws.Close()
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
	// The renderer and helper processes are in the browser's process
	// group: end them all, so the profile directory can be removed.
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

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
}

// load opens url in a new tab of width×height, waits for the load event,
// and returns the problems the page caused, what it shows and a full-page
// screenshot.
func (b *browser) load(ctx context.Context, url string, width, height int) (*loaded, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.cdp.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = b.cdp.call(cctx, "", "Target.closeTarget", map[string]any{"targetId": target.TargetID}, nil)
	}()
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.cdp.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	s := attached.SessionID
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := b.cdp.call(ctx, s, m, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := b.cdp.call(ctx, s, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return nil, err
	}
	mark := len(b.cdp.snapshot())
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.cdp.call(ctx, s, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("navigating to %s: %s", url, nav.ErrorText)
	}
	if _, err := b.cdp.waitEvent(ctx, s, "Page.loadEventFired", mark); err != nil {
		return nil, err
	}
	out := &loaded{}
	var eval struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	if err := b.cdp.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": factsScript, "returnByValue": true}, &eval); err != nil {
		return nil, err
	}
	if len(eval.ExceptionDetails) > 0 {
		return nil, fmt.Errorf("reading the page: %s", eval.ExceptionDetails)
	}
	if err := json.Unmarshal([]byte(eval.Result.Value), &out.Facts); err != nil {
		return nil, fmt.Errorf("reading the page: %w", err)
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := b.cdp.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return nil, fmt.Errorf("decoding the screenshot: %w", err)
	}
	out.Screenshot = png
	// Every event of this tab up to now: the page has loaded and been
	// read, so errors it could raise by itself have been raised.
	for _, e := range b.cdp.snapshot()[mark:] {
		if e.SessionID != s {
			continue
		}
		if p := pageProblem(e); p != "" {
			out.Problems = append(out.Problems, p)
		}
	}
	return out, nil
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CAB_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "htmlreport")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
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
	b := startBrowser(ctx, t)

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
		got, err := b.load(ctx, srv.URL+"/report/", 1280, 900)
		require.NoError(t, err, "chromium:\n%s", b.stderr)
		artifacts := artifactsDir(t)
		shotPath := filepath.Join(artifacts, "report.png")
		require.NoError(t, os.WriteFile(shotPath, got.Screenshot, 0o644))
		html, err := os.ReadFile(filepath.Join(dir, IndexFile))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(artifacts, IndexFile), html, 0o644))
		t.Logf("screenshot: %s", shotPath)

		assert.Empty(t, got.Problems, "the page logged errors")
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
			got, err := b.load(ctx, srv.URL+"/bad/"+tt.page, 800, 600)
			require.NoError(t, err, "chromium:\n%s", b.stderr)
			require.NotEmpty(t, got.Problems, "the harness must see the deliberate error")
			assert.Contains(t, strings.Join(got.Problems, "\n"), tt.want)
		})
	}
}
