package browsertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromiumFlags keep the browser off the network and quiet: this machine's
// network is closed, and the background services would only fail.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
	"--hide-scrollbars", "--remote-debugging-port=0",
}

// required reports whether a missing browser or axe-core fails the test
// (CAB_REQUIRE_BROWSER=1, as in CI) rather than skipping it.
func required() bool { return os.Getenv("CAB_REQUIRE_BROWSER") == "1" }

// missing skips t, or fails it when the browser is required.
func missing(t testing.TB, what string) {
	t.Helper()
	if required() {
		t.Fatalf("CAB_REQUIRE_BROWSER=1 but %s", what)
	}
	t.Skipf("%s; set CAB_REQUIRE_BROWSER=1 to make this a failure", what)
}

// ChromiumPath returns the browser to run: $CAB_CHROMIUM, else the first
// chromium or chrome on the path ("" for none).
func ChromiumPath() string {
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

// ArtifactsDir returns $CAB_ARTIFACTS/sub (default: under a temporary
// directory), created, for screenshots and pages kept after the test.
func ArtifactsDir(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("CAB_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, sub)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
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

// Browser is a headless Chromium the test drives.
type Browser struct {
	cmd    *exec.Cmd
	cdp    *cdpClient
	stderr *lockedBuffer
}

// Start starts Chromium with a fresh profile and connects to it; the
// browser is stopped (its whole process group) when the test ends. With
// no browser it skips t, or fails it when CAB_REQUIRE_BROWSER=1.
func Start(ctx context.Context, t testing.TB) *Browser {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		missing(t, "no chromium was found (install Debian's chromium, e.g. .ci/install-chromium.sh, or set CAB_CHROMIUM)")
	}
	profile := t.TempDir()
	b := &Browser{stderr: &lockedBuffer{}}
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

// Stderr returns the last lines the browser wrote, for failure messages.
func (b *Browser) Stderr() string { return b.stderr.String() }

func (b *Browser) stop(exited chan struct{}) {
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

// Page is one tab, loaded.
type Page struct {
	b       *Browser
	target  string
	session string
	mark    int // events before the navigation
}

// Open opens url in a new tab with a width×height viewport and waits for
// its load event. Close the page when done.
func (b *Browser) Open(ctx context.Context, url string, width, height int) (*Page, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.cdp.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	p := &Page{b: b, target: target.TargetID}
	if err := p.navigate(ctx, url, width, height); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Page) navigate(ctx context.Context, url string, width, height int) error {
	c := p.b.cdp
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": p.target, "flatten": true}, &attached); err != nil {
		return err
	}
	s := attached.SessionID
	p.session = s
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := c.call(ctx, s, m, nil, nil); err != nil {
			return err
		}
	}
	if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return err
	}
	p.mark = len(c.snapshot())
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, nav.ErrorText)
	}
	_, err := c.waitEvent(ctx, s, "Page.loadEventFired", p.mark)
	return err
}

// Close closes the tab.
func (p *Page) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = p.b.cdp.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.target}, nil)
}

// Eval evaluates the JavaScript expression in the page (awaiting it when
// it is a promise) and decodes its value, as JSON, into out (when not
// nil). A thrown exception is an error.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var eval struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.cdp.call(ctx, p.session, "Runtime.evaluate",
		map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &eval); err != nil {
		return err
	}
	if d := eval.ExceptionDetails; d != nil {
		return fmt.Errorf("evaluating in the page: %s %s", d.Text, d.Exception.Description)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(eval.Result.Value, out); err != nil {
		return fmt.Errorf("decoding the value the page returned: %w", err)
	}
	return nil
}

// Screenshot returns a PNG of the whole page, beyond the viewport.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.b.cdp.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return nil, fmt.Errorf("decoding the screenshot: %w", err)
	}
	return png, nil
}

// Problems returns what went wrong in this page since its navigation:
// uncaught exceptions, console errors, warnings and assertions, and
// errors the browser logged (failed loads, content refused by the
// content security policy). Call it after reading the page, so that
// errors it could raise by itself have been raised.
func (p *Page) Problems() []string {
	var out []string
	for _, e := range p.b.cdp.snapshot()[p.mark:] {
		if e.SessionID != p.session {
			continue
		}
		if s := pageProblem(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}
