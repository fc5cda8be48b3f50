package serve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handlerT serves s.Handler() on loopback without the reconcile loop, so
// that a queued pass stays in the queue for the test to see.
func handlerT(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Reconcile == nil {
		cfg.Reconcile = (&counter{}).reconcile
	}
	s, err := New(cfg)
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

func TestGitHubWebhook(t *testing.T) {
	push := func(ref string) []byte {
		return []byte(`{"ref":"` + ref + `","after":"1111111111111111111111111111111111111111","repository":{"full_name":"acme/changes"}}`)
	}
	form := func(json []byte) []byte { return []byte("payload=" + url.QueryEscape(string(json))) }
	wrong := []byte("not-the-secret")
	tests := []struct {
		name        string
		event       string
		contentType string
		body        []byte
		signature   string // "" signs body with the secret
		noSignature bool
		wantStatus  int
		wantResult  string
		wantReason  string
		wantQueued  bool
	}{
		{name: "push to main", event: "push", body: push("refs/heads/main"),
			wantStatus: 202, wantResult: "queued", wantReason: "push to refs/heads/main: pass queued", wantQueued: true},
		{name: "push to main as a form", event: "push", contentType: "application/x-www-form-urlencoded", body: form(push("refs/heads/main")),
			wantStatus: 202, wantResult: "queued", wantQueued: true},
		{name: "ping", event: "ping", body: []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`),
			wantStatus: 200, wantResult: "ping", wantReason: "pong"},
		{name: "push to another branch", event: "push", body: push("refs/heads/feature"),
			wantStatus: 202, wantResult: "ignored", wantReason: "push to refs/heads/feature; cab watches refs/heads/main"},
		{name: "tag push", event: "push", body: push("refs/tags/main"),
			wantStatus: 202, wantResult: "ignored"},
		{name: "main deleted", event: "push", body: []byte(`{"ref":"refs/heads/main","deleted":true,"after":"0000000000000000000000000000000000000000"}`),
			wantStatus: 202, wantResult: "ignored", wantReason: "push deleted refs/heads/main"},
		{name: "other event", event: "pull_request", body: []byte(`{"action":"opened"}`),
			wantStatus: 202, wantResult: "ignored", wantReason: `event "pull_request": cab acts on push (and answers ping)`},
		{name: "missing signature", event: "push", body: push("refs/heads/main"), noSignature: true,
			wantStatus: 401, wantResult: "unauthorized"},
		{name: "sha1 signature only", event: "push", body: push("refs/heads/main"),
			signature:  "sha1=0123456789abcdef0123456789abcdef01234567",
			wantStatus: 401, wantResult: "unauthorized"},
		{name: "malformed signature", event: "push", body: push("refs/heads/main"), signature: "sha256=zz",
			wantStatus: 401, wantResult: "unauthorized", wantReason: "malformed X-Hub-Signature-256"},
		{name: "short signature", event: "push", body: push("refs/heads/main"), signature: "sha256=abcd",
			wantStatus: 401, wantResult: "unauthorized"},
		{name: "wrong secret", event: "push", body: push("refs/heads/main"), signature: signGitHub(wrong, push("refs/heads/main")),
			wantStatus: 401, wantResult: "unauthorized", wantReason: "X-Hub-Signature-256 does not match the body: check the webhook's secret"},
		{name: "signature of another body", event: "push", body: push("refs/heads/main"), signature: signGitHub(githubSecret, push("refs/heads/dev")),
			wantStatus: 401, wantResult: "unauthorized"},
		{name: "authenticated but not JSON", event: "push", body: []byte(`{"ref":`),
			wantStatus: 400, wantResult: "bad-request"},
		{name: "authenticated push without ref", event: "push", body: []byte(`{}`),
			wantStatus: 400, wantResult: "bad-request", wantReason: "push event without a ref"},
		{name: "form without payload", event: "push", contentType: "application/x-www-form-urlencoded", body: []byte("other=1"),
			wantStatus: 400, wantResult: "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := handlerT(t, Config{GitHubSecret: githubSecret})
			h := map[string]string{"X-GitHub-Event": tt.event, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
			if tt.contentType != "" {
				h["Content-Type"] = tt.contentType
			} else {
				h["Content-Type"] = "application/json"
			}
			switch {
			case tt.noSignature:
			case tt.signature != "":
				h["X-Hub-Signature-256"] = tt.signature
			default:
				h["X-Hub-Signature-256"] = signGitHub(githubSecret, tt.body)
			}
			status, got := post(t, base+"/webhook/github", h, tt.body)
			assert.Equal(t, tt.wantStatus, status, "status (answer %+v)", got)
			assert.Equal(t, tt.wantResult, got.Result, "result")
			if tt.wantReason != "" {
				assert.Equal(t, tt.wantReason, got.Reason, "reason")
			}
			queued := 0
			if tt.wantQueued {
				queued = 1
			}
			require.Len(t, s.queue, queued, "passes queued")
			if tt.wantQueued {
				assert.Equal(t, "github 72d3162e-cc78-11e3-81ab-4c9367dc0958", <-s.queue, "the trigger names the delivery")
			}
			assert.Equal(t, 1.0, metric(t, s, "cab_webhooks_total", "provider", "github", "result", tt.wantResult), "cab_webhooks_total")
		})
	}
}

func TestGitLabWebhook(t *testing.T) {
	push := func(ref, after string) []byte {
		return []byte(`{"object_kind":"push","ref":"` + ref + `","after":"` + after + `","project":{"path_with_namespace":"acme/changes"}}`)
	}
	const sha = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
	tests := []struct {
		name       string
		event      string
		token      string
		body       []byte
		wantStatus int
		wantResult string
		wantReason string
		wantQueued bool
	}{
		{name: "push to main", event: "Push Hook", token: string(gitlabToken), body: push("refs/heads/main", sha),
			wantStatus: 202, wantResult: "queued", wantQueued: true},
		{name: "push to another branch", event: "Push Hook", token: string(gitlabToken), body: push("refs/heads/dev", sha),
			wantStatus: 202, wantResult: "ignored", wantReason: "push to refs/heads/dev; cab watches refs/heads/main"},
		{name: "main deleted", event: "Push Hook", token: string(gitlabToken), body: push("refs/heads/main", zeroSHA),
			wantStatus: 202, wantResult: "ignored"},
		{name: "tag push", event: "Tag Push Hook", token: string(gitlabToken), body: push("refs/tags/v1", sha),
			wantStatus: 202, wantResult: "ignored", wantReason: `event "Tag Push Hook": cab acts on Push Hook`},
		{name: "merge request", event: "Merge Request Hook", token: string(gitlabToken), body: []byte(`{"object_kind":"merge_request"}`),
			wantStatus: 202, wantResult: "ignored"},
		{name: "missing token", event: "Push Hook", body: push("refs/heads/main", sha),
			wantStatus: 401, wantResult: "unauthorized"},
		{name: "wrong token", event: "Push Hook", token: "s3cret-gitla", body: push("refs/heads/main", sha),
			wantStatus: 401, wantResult: "unauthorized", wantReason: "X-Gitlab-Token does not match: check the webhook's secret token"},
		{name: "token with a suffix", event: "Push Hook", token: string(gitlabToken) + "x", body: push("refs/heads/main", sha),
			wantStatus: 401, wantResult: "unauthorized"},
		{name: "authenticated but not JSON", event: "Push Hook", token: string(gitlabToken), body: []byte(`[`),
			wantStatus: 400, wantResult: "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := handlerT(t, Config{GitLabToken: gitlabToken})
			h := map[string]string{"X-Gitlab-Event": tt.event, "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e", "Content-Type": "application/json"}
			if tt.token != "" {
				h["X-Gitlab-Token"] = tt.token
			}
			status, got := post(t, base+"/webhook/gitlab", h, tt.body)
			assert.Equal(t, tt.wantStatus, status, "status (answer %+v)", got)
			assert.Equal(t, tt.wantResult, got.Result, "result")
			if tt.wantReason != "" {
				assert.Equal(t, tt.wantReason, got.Reason, "reason")
			}
			queued := 0
			if tt.wantQueued {
				queued = 1
			}
			require.Len(t, s.queue, queued, "passes queued")
			if tt.wantQueued {
				assert.Equal(t, "gitlab 13792a34-cac6-4fda-95a8-c58e00a3954e", <-s.queue, "the trigger names the delivery")
			}
			assert.Equal(t, 1.0, metric(t, s, "cab_webhooks_total", "provider", "gitlab", "result", tt.wantResult), "cab_webhooks_total")
		})
	}
}

// A route without a secret is not there; a route with one refuses other
// methods.
func TestWebhookRoutes(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	tests := []struct {
		name       string
		cfg        Config
		method     string
		path       string
		header     map[string]string
		wantStatus int
	}{
		{name: "github without a secret", cfg: Config{GitLabToken: gitlabToken}, method: "POST", path: "/webhook/github",
			header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": signGitHub(nil, body)}, wantStatus: 404},
		{name: "gitlab without a token", cfg: Config{GitHubSecret: githubSecret}, method: "POST", path: "/webhook/gitlab",
			header: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": ""}, wantStatus: 404},
		{name: "nothing configured", cfg: Config{}, method: "POST", path: "/webhook/github",
			header: map[string]string{"X-GitHub-Event": "push"}, wantStatus: 404},
		{name: "GET github", cfg: Config{GitHubSecret: githubSecret}, method: "GET", path: "/webhook/github", wantStatus: 405},
		{name: "PUT gitlab", cfg: Config{GitLabToken: gitlabToken}, method: "PUT", path: "/webhook/gitlab", wantStatus: 405},
		{name: "POST healthz", cfg: Config{}, method: "POST", path: "/healthz", wantStatus: 405},
		{name: "unknown path", cfg: Config{GitHubSecret: githubSecret}, method: "POST", path: "/webhook/bitbucket", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := handlerT(t, tt.cfg)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, base+tt.path, bytes.NewReader(body))
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantStatus == 405 {
				assert.NotEmpty(t, resp.Header.Get("Allow"), "a 405 says what is allowed")
			}
			assert.Empty(t, s.queue, "nothing queued")
		})
	}
}

// A body over the limit is refused whether it announces its length or is
// streamed, and nothing is queued even when it is validly signed.
func TestWebhookBodyLimit(t *testing.T) {
	const limit = 1 << 10
	big := []byte(`{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 2*limit) + `"}`)
	tests := []struct {
		name    string
		path    string
		header  map[string]string
		chunked bool
	}{
		{name: "github with Content-Length", path: "/webhook/github",
			header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": signGitHub(githubSecret, big)}},
		{name: "github chunked", path: "/webhook/github", chunked: true,
			header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": signGitHub(githubSecret, big)}},
		{name: "gitlab chunked", path: "/webhook/gitlab", chunked: true,
			header: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": string(gitlabToken)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// In parallel: closing a connection whose body was cut off
			// waits half a second (net/http's reset avoidance).
			t.Parallel()
			s, base := handlerT(t, Config{GitHubSecret: githubSecret, GitLabToken: gitlabToken, MaxBody: limit})
			var body io.Reader = bytes.NewReader(big)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+tt.path, body)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if tt.chunked {
				assert.Zero(t, req.ContentLength, "the request was streamed (length unknown)")
			}
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			assert.Empty(t, s.queue, "nothing queued")
		})
	}
}

// FuzzGitHubWebhook: whatever arrives, the handler does not panic, and
// only a body signed with the secret gets past 401.
func FuzzGitHubWebhook(f *testing.F) {
	f.Add("push", "application/json", []byte(`{"ref":"refs/heads/main"}`), true)
	f.Add("ping", "application/json", []byte(`{}`), true)
	f.Add("push", "application/x-www-form-urlencoded", []byte(`payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D`), true)
	f.Add("push", "application/json", []byte(`{"ref":"refs/heads/main"}`), false)
	f.Add("push", "multipart/form-data; boundary=x", []byte("\x00\xff"), true)
	s, err := New(Config{Reconcile: (&counter{}).reconcile, GitHubSecret: githubSecret, MaxBody: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte, signed bool) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/webhook/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("Content-Type", contentType)
		if signed {
			req.Header.Set("X-Hub-Signature-256", signGitHub(githubSecret, body))
		} else {
			req.Header.Set("X-Hub-Signature-256", signGitHub([]byte("guess"), body))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		select { // keep the queue empty for the next input
		case <-s.queue:
		default:
		}
		switch {
		case !signed && w.Code != http.StatusUnauthorized:
			t.Fatalf("unsigned delivery answered %d %s", w.Code, w.Body)
		case signed && w.Code == http.StatusUnauthorized:
			t.Fatalf("signed delivery refused: %s", w.Body)
		}
	})
}
