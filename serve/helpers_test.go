package serve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/reconcile"
)

// wait bounds every wait for something asynchronous in these tests.
const wait = 30 * time.Second // generous: only a failing test waits it out, and a loaded machine is slow

// tick is how often a bounded wait looks again.
const tick = 2 * time.Millisecond

var (
	githubSecret = []byte("s3cret-github")
	gitlabToken  = []byte("s3cret-gitlab")
)

// client talks to the servers under test. Without keep-alives, so that
// no connection it dialled ahead and never used holds up a server's
// shutdown (http.Server.Shutdown waits up to 5 s for a new connection to
// send its first request).
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// signGitHub returns the X-Hub-Signature-256 of body under secret, as
// GitHub computes it.
func signGitHub(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// counter is a Reconcile that counts its calls and does what do says
// (nothing, by default).
type counter struct {
	calls atomic.Int32
	do    func(ctx context.Context, call int32) (*reconcile.Summary, error)
}

func (c *counter) reconcile(ctx context.Context) (*reconcile.Summary, error) {
	n := c.calls.Add(1)
	if c.do != nil {
		return c.do(ctx, n)
	}
	return &reconcile.Summary{}, nil
}

// served is a Server answering on a real loopback listener.
type served struct {
	*Server
	url  string
	stop func() error // cancels Serve's context and returns what Serve did
}

// serveT starts s.Serve on 127.0.0.1 and stops it when the test ends.
func serveT(t *testing.T, cfg Config) *served {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(wait):
				t.Errorf("Serve did not return within %s of its context being cancelled", wait)
			}
		})
		return serveErr
	}
	t.Cleanup(func() { _ = stop() })
	return &served{Server: s, url: "http://" + ln.Addr().String(), stop: stop}
}

// post sends a webhook and returns the status and the decoded answer.
func post(t *testing.T, url string, header map[string]string, body []byte) (int, webhookResponse) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var got webhookResponse
	if resp.StatusCode != http.StatusMethodNotAllowed {
		require.NoError(t, json.Unmarshal(raw, &got), "answer %d %q is not JSON", resp.StatusCode, raw)
	}
	return resp.StatusCode, got
}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// githubPush posts a signed GitHub push of ref.
func githubPush(t *testing.T, url, ref string) (int, webhookResponse) {
	t.Helper()
	body := []byte(`{"ref":"` + ref + `","after":"1111111111111111111111111111111111111111"}`)
	return post(t, url+"/webhook/github", map[string]string{
		"X-GitHub-Event":      "push",
		"X-GitHub-Delivery":   "d-1",
		"X-Hub-Signature-256": signGitHub(githubSecret, body),
		"Content-Type":        "application/json",
	}, body)
}

// metric returns the value of the sample of family name whose labels
// include labels (name=value pairs) from s's registry: the gauge or
// counter value, or a histogram's sample count. It fails when there is no
// such sample.
func metric(t *testing.T, s *Server, name string, labels ...string) float64 {
	t.Helper()
	v, ok := lookup(t, s, name, labels...)
	require.True(t, ok, "no sample %s%v", name, labels)
	return v
}

func lookup(t *testing.T, s *Server, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := s.m.reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// passes returns how many passes s recorded.
func passes(t *testing.T, s *Server) int {
	t.Helper()
	return int(metric(t, s, "cab_reconcile_passes_total"))
}

// waitPasses waits (bounded) until s recorded n passes.
func waitPasses(t *testing.T, s *Server, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return passes(t, s) >= n }, wait, tick,
		"want %d recorded passes, have %d", n, passes(t, s))
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the JSON log records whose message is msg.
func (l *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "log line %q", line)
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func jsonLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
