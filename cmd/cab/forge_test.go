package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/policy"
)

// GitHub cannot run here: this end-to-end test of `cab check --forge
// github --post`, as the GitHub Action runs it, replays the documented
// shapes of the REST API (pulls, reviews, commits, statuses, issue
// comments) from an httptest server, on a real git repository.

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

type fakeGitHub struct {
	mu         sync.Mutex
	head       string
	reviewHead string // the commit the reviews were given on ("" = head)
	requests   []string
	status     map[string]any
	comments   []map[string]any
	// opened, when set, is pull request 7's created_at, and the open
	// pull requests listing (GET /repos/{o}/{r}/pulls?state=open) holds
	// it; unapproved leaves it without reviews.
	opened     time.Time
	unapproved bool
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer test-token" {
		http.Error(w, `{"message": "Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	user := func(id int, login string) map[string]any {
		return map[string]any{"id": id, "login": login, "type": "User"}
	}
	reviewed := f.head
	if f.reviewHead != "" {
		reviewed = f.reviewHead
	}
	var body any
	switch r.Method + " " + r.URL.Path {
	case "GET /repos/acme/changes/pulls":
		body = []any{}
		if !f.opened.IsZero() && r.URL.Query().Get("state") == "open" {
			body = []any{map[string]any{"number": 7, "state": "open", "draft": false, "user": user(7, "dev"), "created_at": f.opened.Format(time.RFC3339),
				"head": map[string]any{"sha": f.head, "ref": "topic"}, "base": map[string]any{"ref": "main"}}}
		}
	case "GET /repos/acme/changes/pulls/7":
		pr := map[string]any{"number": 7, "html_url": "https://github.com/acme/changes/pull/7", "user": user(7, "dev"),
			"head": map[string]any{"sha": f.head}, "labels": []any{}, "commits": 1}
		if !f.opened.IsZero() {
			pr["created_at"] = f.opened.Format(time.RFC3339)
		}
		body = pr
	case "GET /repos/acme/changes/pulls/7/reviews":
		if f.unapproved {
			body = []any{}
			break
		}
		body = []any{
			map[string]any{"id": 1, "user": user(1, "alice"), "state": "APPROVED", "commit_id": reviewed, "submitted_at": "2026-11-23T10:00:00Z"},
			map[string]any{"id": 2, "user": user(2, "bob"), "state": "APPROVED", "commit_id": reviewed, "submitted_at": "2026-11-23T10:05:00Z"},
		}
	case "GET /repos/acme/changes/pulls/7/commits":
		body = []any{map[string]any{"sha": f.head, "author": user(7, "dev"), "committer": user(7, "dev")}}
	case "POST /repos/acme/changes/statuses/" + f.head:
		var s map[string]any
		_ = json.NewDecoder(r.Body).Decode(&s)
		f.status = s
		body = s
	case "GET /repos/acme/changes/issues/7/comments":
		body = f.comments
	case "POST /repos/acme/changes/issues/7/comments":
		var c map[string]any
		_ = json.NewDecoder(r.Body).Decode(&c)
		c["id"] = len(f.comments) + 1
		f.comments = append(f.comments, c)
		body = c
	default:
		if strings.HasPrefix(r.URL.Path, "/repos/acme/changes/issues/comments/") && r.Method == http.MethodPatch {
			var c map[string]any
			_ = json.NewDecoder(r.Body).Decode(&c)
			f.comments[0]["body"] = c["body"]
			body = f.comments[0]
			break
		}
		http.Error(w, `{"message": "Not Found"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func TestCheckWithGitHub(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	cfg := `apiVersion: "cab.dev/v1"
environments: staging: targets: images: {type: "oci", registry: "registry.staging.example.com"}
approvers: payments: members: ["github:1", "github:2", "github:7"]
services: payments: approvers: "payments"
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cab.cue"), []byte(cfg), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "policy"), 0o755))
	for _, p := range policy.Defaults() {
		require.NoError(t, os.WriteFile(filepath.Join(dir, p.Name), p.Source, 0o644))
	}
	gitCmd(t, dir, "init", "-q", "-b", "main")
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "base")
	base := gitCmd(t, dir, "rev-parse", "HEAD")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "changes/payments"), 0o755))
	ticket := `apiVersion: "cab.dev/v1"
id: "CHG-2026-0001"
title: "Promote payments 1.4.2"
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["staging"]
window: {start: "2026-12-01T22:00:00Z", end: "2026-12-01T23:00:00Z"}
actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:` + strings.Repeat("ab", 32) + `", tag: "payments"}]
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "changes/payments/CHG-2026-0001.cue"), []byte(ticket), 0o644))
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "add CHG-2026-0001")
	head := gitCmd(t, dir, "rev-parse", "HEAD")

	fake := &fakeGitHub{head: head}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	event := filepath.Join(t.TempDir(), "event.json")
	ev := fmt.Sprintf(`{"pull_request": {"number": 7, "head": {"sha": %q}, "base": {"sha": %q, "ref": "main"}}}`, head, base)
	require.NoError(t, os.WriteFile(event, []byte(ev), 0o644))
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": event,
		"GITHUB_REPOSITORY": "acme/changes", "GITHUB_API_URL": srv.URL, "GITHUB_TOKEN": "test-token",
		"GITHUB_STEP_SUMMARY": filepath.Join(t.TempDir(), "summary.md"),
	} {
		t.Setenv(k, v)
	}
	t.Chdir(dir)

	run := func() (int, string) {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), []string{"check", "--forge", "github", "--format", "github", "--post", "--now", "2026-11-23T12:00:00Z"}, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	code, out := run()
	require.Equal(t, 0, code, out)
	assert.Equal(t, "success", fake.status["state"])
	assert.Equal(t, "cab/check", fake.status["context"])
	require.Len(t, fake.comments, 1)
	assert.Contains(t, fake.comments[0]["body"], "<!-- cab:check -->")

	// Run again: the comment is edited, never duplicated.
	code, out = run()
	require.Equal(t, 0, code, out)
	assert.Len(t, fake.comments, 1, "one comment, kept up to date")
	posts := 0
	for _, r := range fake.requests {
		if r == "POST /repos/acme/changes/issues/7/comments" {
			posts++
		}
	}
	assert.Equal(t, 1, posts, "the unchanged comment is not posted again")

	// A push after the approvals: the head moved; approvals of the old
	// head no longer count.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("x\n"), 0o644))
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "readme")
	newHead := gitCmd(t, dir, "rev-parse", "HEAD")
	ev = fmt.Sprintf(`{"pull_request": {"number": 7, "head": {"sha": %q}, "base": {"sha": %q, "ref": "main"}}}`, newHead, base)
	require.NoError(t, os.WriteFile(event, []byte(ev), 0o644))
	fake.mu.Lock()
	fake.head = newHead
	fake.mu.Unlock()
	fake.reviewHead = head // the approvals were given on the old head
	code, out = run()
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, `needs 2 approval(s) from "payments", has 0`)
	assert.Equal(t, "failure", fake.status["state"])
	assert.Contains(t, fake.requests, "PATCH /repos/acme/changes/issues/comments/1", "the comment now tells the failure")
}
