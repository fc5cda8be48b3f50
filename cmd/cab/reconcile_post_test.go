package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cab reconcile --post through the cab binary: the ticket was signed with
// GitHub's evidence of pull request 7 (fakeGitHubMerges) although its
// merge message names #99; the reconciler applies it to a real
// environment repository and comments on #7 only (fakeGitHub, the issue
// comments API replayed). A comment API answering 500 does not fail the
// pass; the next pass posts the comment; a pass with nothing new posts
// nothing; there is never a second comment. The title's Markdown is inert.
func TestReconcilePostCommentsOnTheSignedPullRequest(t *testing.T) {
	w := newLWorld(t)
	// Approvals come from GitHub accounts 1 and 2.
	cfg := strings.Replace(w.config(), `approvers: app: members: ["git:alice@example.com", "git:bob@example.com"]`,
		`approvers: app: members: ["github:1", "github:2"]`, 1)
	require.NotEqual(t, w.config(), cfg)
	require.NoError(t, os.WriteFile(filepath.Join(w.work, "cab.cue"), []byte(cfg), 0o644))
	lgit(t, w.work, "commit", "-qam", "approvers on GitHub")
	lgit(t, w.work, "push", "-q", "origin", "main")

	now := time.Now().UTC().Truncate(time.Second)
	src := `apiVersion: "cab.dev/v1"
id:          "CHG-2026-0042"
title:       "Promote app <b>now</b> | @everyone"
kind:        "normal"
risk:        "low"
owner:       "team-app"
service:     "app"
environments: ["staging", "prod"]
window: {start: "` + now.Add(-time.Hour).Format(time.RFC3339) + `", end: "` + now.Add(3*time.Hour).Format(time.RFC3339) + `"}
actions: [{type: "git", target: "deploy", file: "app.yaml", set: {path: ".spec.image", value: "app:new"}}]
prechecks: [{type: "http", url: "` + w.health + `/healthz", expectStatus: 200}]
postchecks: [{type: "http", url: "` + w.health + `/ready", expectStatus: 200}]
rollback: auto: true
`
	lgit(t, w.work, "checkout", "-q", "-b", "pr-7", "main")
	p := filepath.Join(w.work, "changes", "app", "CHG-2026-0042.cue")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	lgit(t, w.work, "add", "changes")
	lgit(t, w.work, "commit", "-q", "-m", "add CHG-2026-0042")
	head := lgit(t, w.work, "rev-parse", "HEAD")
	lgit(t, w.work, "checkout", "-q", "main")
	lgit(t, w.work, "merge", "-q", "--no-ff", "pr-7", "-m", "Merge pull request #99 from acme/pr-7")
	merge := lgit(t, w.work, "rev-parse", "HEAD")
	lgit(t, w.work, "push", "-q", "origin", "main")

	merges := httptest.NewServer(&fakeGitHubMerges{pulls: map[int]*ghPull{
		7: {number: 7, head: head, merged: true, mergeCommit: merge, mergedBy: 9, approvers: []int{1, 2}}}})
	defer merges.Close()
	t.Setenv("GITHUB_REPOSITORY", "acme/changes")
	t.Setenv("GITHUB_TOKEN", "test-token")
	t.Setenv("GITHUB_API_URL", merges.URL)
	out, code := lrun(t, w.work, "cab", "sign", "--key", "file://"+w.signKey+".key", "--forge", "github")
	require.Zero(t, code, out)
	require.Contains(t, out, "1 signed, 0 unsigned")

	comments := &fakeGitHub{}
	fail := &failFirst{n: 1, next: comments}
	api := httptest.NewServer(fail)
	defer api.Close()
	t.Setenv("GITHUB_API_URL", api.URL)
	count := func(req string) int {
		comments.mu.Lock()
		defer comments.mu.Unlock()
		n := 0
		for _, r := range comments.requests {
			if r == req {
				n++
			}
		}
		return n
	}

	out, code = w.reconcile("--post", "--forge", "github")
	require.Zero(t, code, "a comment that fails does not fail the pass:\n%s", out)
	assert.Equal(t, "app:new", w.image("prod"), out)
	assert.Contains(t, out, "outcome comments not posted yet")
	assert.Zero(t, count("POST /repos/acme/changes/issues/7/comments"))

	out, code = w.reconcile("--post", "--forge", "github")
	require.Zero(t, code, out)
	require.Equal(t, 1, count("POST /repos/acme/changes/issues/7/comments"), "the next pass posts it:\n%s", out)
	comments.mu.Lock()
	require.Len(t, comments.comments, 1)
	body, _ := comments.comments[0]["body"].(string)
	comments.mu.Unlock()
	assert.Contains(t, body, "<!-- cab:outcome -->")
	assert.Regexp(t, regexp.MustCompile(`\| CHG-2026-0042 \| .* \| staging \| verified \| `), body)
	assert.Regexp(t, regexp.MustCompile(`\| CHG-2026-0042 \| .* \| prod \| verified \| `), body)
	assert.Contains(t, body, "Promote app &#60;b&#62;now&#60;/b&#62; &#124; &#64;everyone")
	assert.NotContains(t, body, "test-token")

	out, code = w.reconcile("--post", "--forge", "github")
	require.Zero(t, code, out)
	assert.Equal(t, 1, count("POST /repos/acme/changes/issues/7/comments"), "never a second comment")
	for _, r := range comments.requests {
		assert.NotContains(t, r, "/issues/99/", "the merge message's number is never commented on")
	}
}

// failFirst answers the first n comment requests with 500, then hands
// every request to next.
type failFirst struct {
	mu   sync.Mutex
	n    int
	next http.Handler
}

func (f *failFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := f.n > 0 && strings.Contains(r.URL.Path, "/comments")
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		http.Error(w, `{"message": "Server Error"}`, http.StatusInternalServerError)
		return
	}
	f.next.ServeHTTP(w, r)
}
