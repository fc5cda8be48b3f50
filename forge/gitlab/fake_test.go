// GitLab cannot run here, so these tests run the client against an
// httptest.Server on loopback that replays the shapes the GitLab REST API
// v4 documents (docs.gitlab.com/api: merge_requests, merge_request_approvals,
// notes, commits) with the field names of client-go's structs: same
// paths, status codes, error bodies and X-Next-Page pagination.

package gitlab

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	testToken = "glpat-test"
	headSHA   = "33e2ee8579fda5bc36accc9c6fbd0b4fefda9e30"
	oldSHA    = "eeb57dffe83deb686a60a71c16c32f71046868fd"
	baseSHA   = "9049f1265b7d61be4a8904a9a27120d2064dab3b"
	authorID  = 583231

	mrPath = "/api/v4/projects/42/merge_requests/7"
)

// server is a fake GitLab API that records every request it answers.
// Routes are keyed by "METHOD /escaped/path" (project paths arrive
// escaped: group%2Fproject).
type server struct {
	*httptest.Server
	mu     sync.Mutex
	calls  map[string]int
	bodies map[string][]string
}

func newServer(t *testing.T, routes map[string]http.HandlerFunc) *server {
	t.Helper()
	s := &server{calls: map[string]int{}, bodies: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.EscapedPath()
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls[key]++
		if len(b) > 0 {
			s.bodies[key] = append(s.bodies[key], string(b))
		}
		s.mu.Unlock()
		if r.Header.Get("Private-Token") != testToken {
			writeJSON(w, http.StatusUnauthorized, `{"message":"401 Unauthorized"}`)
			return
		}
		h, ok := routes[key]
		if !ok {
			writeJSON(w, http.StatusNotFound, `{"message":"404 Not found"}`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

func (s *server) body(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies[key]...)
}

func (s *server) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(s.URL, testToken, s.Client())
	require.NoError(t, err)
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func static(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, body) }
}

// paged serves items as a JSON array, size a page, with GitLab's offset
// pagination headers (X-Page, X-Per-Page, X-Next-Page, X-Total...).
func paged(size int, items ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		last := max((len(items)+size-1)/size, 1)
		start := min((page-1)*size, len(items))
		end := min(start+size, len(items))
		h := w.Header()
		h.Set("X-Page", strconv.Itoa(page))
		h.Set("X-Per-Page", strconv.Itoa(size))
		h.Set("X-Total", strconv.Itoa(len(items)))
		h.Set("X-Total-Pages", strconv.Itoa(last))
		h.Set("X-Next-Page", "")
		if page < last {
			h.Set("X-Next-Page", strconv.Itoa(page+1))
		}
		writeJSON(w, http.StatusOK, "["+strings.Join(items[start:end], ",")+"]")
	}
}

// login is the username the fake gives account id.
func login(id int64) string {
	if id == authorID {
		return "octocat"
	}
	return "user" + strconv.FormatInt(id, 10)
}

func userJSON(id int64, username string) string {
	return fmt.Sprintf(`{"id":%d,"username":%q,"name":"User %d","state":"active","locked":false,"avatar_url":"https://gitlab.example.com/uploads/-/system/user/avatar/%d/avatar.png","web_url":"https://gitlab.example.com/%s"}`,
		id, username, id, id, username)
}

// mrJSON is GET /projects/:id/merge_requests/:iid as documented, trimmed.
func mrJSON(iid int64, head string, labels ...string) string {
	ls := "[]"
	if len(labels) > 0 {
		ls = `["` + strings.Join(labels, `","`) + `"]`
	}
	return fmt.Sprintf(`{
  "id": 155016530, "iid": %[1]d, "project_id": 42,
  "title": "CHG-2026-0042: rotate payment keys", "description": "",
  "state": "opened", "created_at": "2026-01-10T09:00:00.000Z", "updated_at": "2026-01-12T10:00:00.000Z",
  "target_branch": "main", "source_branch": "new-topic",
  "author": %[2]s,
  "assignees": [], "reviewers": [],
  "source_project_id": 42, "target_project_id": 42,
  "labels": %[3]s,
  "draft": false, "merge_when_pipeline_succeeds": false,
  "detailed_merge_status": "not_approved",
  "sha": %[4]q, "merge_commit_sha": null, "squash_commit_sha": null,
  "web_url": "https://gitlab.example.com/octo/changes/-/merge_requests/%[1]d",
  "diff_refs": {"base_sha": %[5]q, "head_sha": %[4]q, "start_sha": %[5]q}
}`, iid, userJSON(authorID, login(authorID)), ls, head, baseSHA)
}

// approvalsJSON is GET /projects/:id/merge_requests/:iid/approvals.
func approvalsJSON(ids ...int64) string {
	var by []string
	for _, id := range ids {
		by = append(by, `{"user":`+userJSON(id, login(id))+`}`)
	}
	return fmt.Sprintf(`{"id":155016530,"iid":7,"project_id":42,"title":"CHG-2026-0042","state":"opened","merge_status":"can_be_merged","approved":%t,"approvals_required":2,"approvals_left":0,"approved_by":[%s]}`,
		len(ids) > 0, strings.Join(by, ","))
}

// versionJSON is one element of GET /projects/:id/merge_requests/:iid/versions.
func versionJSON(id int64, head, createdAt string) string {
	return fmt.Sprintf(`{"id":%d,"head_commit_sha":%q,"base_commit_sha":%q,"start_commit_sha":%q,"created_at":%q,"merge_request_id":155016530,"state":"collected","real_size":"1","patch_id_sha":"d504412d5b6e6739647e752aff8e468dde093f2f"}`,
		id, head, baseSHA, baseSHA, createdAt)
}

// noteJSON is one element of GET /projects/:id/merge_requests/:iid/notes.
func noteJSON(id, author int64, system bool, body, createdAt string) string {
	return fmt.Sprintf(`{"id":%d,"type":null,"body":%q,"attachment":null,"author":%s,"created_at":%q,"updated_at":%q,"system":%t,"noteable_id":155016530,"noteable_type":"MergeRequest","project_id":42,"noteable_iid":7,"resolvable":false,"confidential":false,"internal":false}`,
		id, body, userJSON(author, login(author)), createdAt, createdAt, system)
}
