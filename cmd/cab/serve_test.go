package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/sign"
)

// syncBuffer is a stderr that the daemon writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is `cab serve` running in this process.
type daemon struct {
	url    string
	stderr *syncBuffer
	stop   func() int // cancels the context and returns the exit code
}

// startServe runs Main with `serve args...` (and --listen 127.0.0.1:0
// --log-format json) and waits, bounded, for the address it listens on.
func startServe(t *testing.T, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderr := &syncBuffer{}
	code := make(chan int, 1)
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--key", reconcilerKey(t)}, args...)
	go func() { code <- Main(ctx, args, io.Discard, stderr) }()
	var once sync.Once
	exit := -1
	d := &daemon{stderr: stderr, stop: func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(serveWait):
				t.Errorf("cab serve did not exit within %s of its context being cancelled", serveWait)
			}
		})
		return exit
	}}
	t.Cleanup(func() { d.stop() })
	deadline := time.Now().Add(serveWait)
	for d.url == "" {
		select {
		case c := <-code:
			t.Fatalf("cab serve exited with %d before listening:\n%s", c, stderr)
		default:
		}
		require.True(t, time.Now().Before(deadline), "cab serve did not log where it listens:\n%s", stderr)
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				d.url = "http://" + rec.Addr
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d
}

// serveWait bounds each wait for the daemon; generous, since only a failing
// test waits it out and a loaded machine is slow.
const serveWait = time.Minute

// reconcilerKey writes a fresh unencrypted key and returns its reference:
// cab serve refuses to start without the key that signs its outcomes.
func reconcilerKey(t *testing.T) string {
	t.Helper()
	priv, _, err := sign.Keygen(sign.AlgECDSAP256)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "reconciler.key")
	require.NoError(t, os.WriteFile(p, priv, 0o600))
	return "file://" + p
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func httpDo(t *testing.T, method, url string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noKeepAlive.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// wireReconcile sets runReconcile for the test and restores it after.
func wireReconcile(t *testing.T, f func(ctx context.Context, o serveOptions, obs reconcile.Observer) (*reconcile.Summary, error)) {
	t.Helper()
	old := runReconcile
	runReconcile = f
	t.Cleanup(func() { runReconcile = old })
}

// cab serve end to end: a secret from a file, a signed GitHub push that
// makes a pass run with the options and an observer, health, metrics, and
// a clean exit when the signal context is cancelled.
func TestServeCommand(t *testing.T) {
	var calls atomic.Int32
	var branch atomic.Value
	wireReconcile(t, func(_ context.Context, o serveOptions, obs reconcile.Observer) (*reconcile.Summary, error) {
		calls.Add(1)
		branch.Store(o.Branch)
		st := reconcile.Step{Ticket: "CHG-2026-0001", Env: "prod", Kind: "applied", Duration: time.Second}
		obs.Step(st)
		return &reconcile.Summary{Steps: []reconcile.Step{st}, States: map[string]int{"applied": 1}}, nil
	})
	secretFile := filepath.Join(t.TempDir(), "github-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("hush\n"), 0o600))
	d := startServe(t, "--webhook", "github", "--github-secret-file", secretFile, "--interval", "1h", "--branch", "release")

	waitFor := func(n int32) {
		t.Helper()
		for deadline := time.Now().Add(serveWait); calls.Load() < n; time.Sleep(5 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "want %d passes, have %d", n, calls.Load())
		}
	}
	waitFor(1) // at start
	assert.Equal(t, "release", branch.Load())

	body := []byte(`{"ref":"refs/heads/release","after":"1111111111111111111111111111111111111111"}`)
	mac := hmac.New(sha256.New, []byte("hush")) // the file's trailing newline is not part of the secret
	mac.Write(body)
	status, answer := httpDo(t, "POST", d.url+"/webhook/github", map[string]string{
		"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-42", "X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	}, body)
	assert.Equal(t, http.StatusAccepted, status, answer)
	waitFor(2)

	status, _ = httpDo(t, "POST", d.url+"/webhook/gitlab", map[string]string{"X-Gitlab-Token": "hush"}, body)
	assert.Equal(t, http.StatusNotFound, status, "GitLab is not enabled")

	status, answer = httpDo(t, "GET", d.url+"/healthz", nil, nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", answer)
	for deadline := time.Now().Add(serveWait); ; time.Sleep(5 * time.Millisecond) {
		_, metrics := httpDo(t, "GET", d.url+"/metrics", nil, nil)
		if strings.Contains(metrics, "cab_reconcile_passes_total 2\n") {
			assert.Contains(t, metrics, `cab_tickets{state="applied"} 1`)
			assert.Contains(t, metrics, `cab_reconcile_steps_total{kind="applied"} 2`, "each step counted once")
			break
		}
		require.True(t, time.Now().Before(deadline), "metrics never showed two passes:\n%s", metrics)
	}

	assert.Equal(t, exitOK, d.stop(), "a signal is a clean exit")
	logs := d.stderr.String()
	assert.Contains(t, logs, `"msg":"webhook","provider":"github","event":"push","delivery":"d-42","result":"queued"`)
	assert.Contains(t, logs, `"msg":"reconcile pass","trigger":"github d-42"`)
	assert.Contains(t, logs, `"msg":"shutting down"`)
	assert.Contains(t, logs, `"msg":"stopped"`)
	assert.NotContains(t, logs, "hush", "the secret is never logged")
}

// Until the engine is wired, every pass fails and /healthz says why.
func TestServeNotWired(t *testing.T) {
	wireReconcile(t, nil)
	d := startServe(t, "--interval", "1h")
	var status int
	var body string
	for deadline := time.Now().Add(serveWait); ; time.Sleep(5 * time.Millisecond) {
		if status, body = httpDo(t, "GET", d.url+"/healthz", nil, nil); status != http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "/healthz stayed ok")
	}
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "reconciler not wired")
	assert.Equal(t, exitOK, d.stop())
}

func TestServeSecrets(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	gh, gl, empty := file("gh", "gh-secret\n"), file("gl", "  gl-token  "), file("empty", "\n")
	tests := []struct {
		name       string
		o          serveOptions
		env        string
		wantGitHub string
		wantGitLab string
		wantErr    string
	}{
		{name: "no webhook", o: serveOptions{}},
		{name: "no webhook, env ignored", o: serveOptions{}, env: "shared"},
		{name: "github from its file", o: serveOptions{GitHubSecretFile: gh}, wantGitHub: "gh-secret"},
		{name: "gitlab from its file", o: serveOptions{GitLabTokenFile: gl}, wantGitLab: "gl-token"},
		{name: "both from env", o: serveOptions{Webhooks: []string{"github", "gitlab"}}, env: "shared", wantGitHub: "shared", wantGitLab: "shared"},
		{name: "file wins over env", o: serveOptions{Webhooks: []string{"github"}, GitHubSecretFile: gh}, env: "shared", wantGitHub: "gh-secret"},
		{name: "enabled without a secret", o: serveOptions{Webhooks: []string{"gitlab"}},
			wantErr: "the gitlab webhook needs a secret: --gitlab-token-file FILE or $CAB_WEBHOOK_SECRET"},
		{name: "empty file", o: serveOptions{GitHubSecretFile: empty}, env: "shared", wantErr: "is empty"},
		{name: "missing file", o: serveOptions{GitHubSecretFile: filepath.Join(dir, "nope")}, wantErr: "--github-secret-file: reading the secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == webhookSecretEnv {
					return tt.env
				}
				return ""
			}
			github, gitlab, err := tt.o.secrets(getenv)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantGitHub, string(github), "GitHub secret")
			assert.Equal(t, tt.wantGitLab, string(gitlab), "GitLab token")
		})
	}
}
