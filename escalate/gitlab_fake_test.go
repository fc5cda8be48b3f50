// GitLab cannot run here: glFake replays the shapes the GitLab REST API v4
// documents (docs.gitlab.com/api/notes: merge request notes), as
// forge/gitlab's own fake (fake_test.go there, not importable from here)
// does, trimmed to what the outcome comment uses: same paths, field
// names, status codes and X-Next-Page pagination.

package escalate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/forge/gitlab"
)

const glToken = "glpat-test-token-0123456789"

// glFake is a GitLab API holding merge request 42!7 (open when head is
// set, opened at opened, approved by nobody) and its notes.
type glFake struct {
	*httptest.Server
	mu     sync.Mutex
	head   string
	opened time.Time
	notes  []glNote
	nextID int64
	fail   int
	calls  map[string]int
}

type glNote struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
}

func (n glNote) json() string {
	return fmt.Sprintf(`{"id":%d,"type":null,"body":%s,"attachment":null,"author":{"id":1,"username":"cab-bot","name":"cab","state":"active"},"created_at":"2026-12-02T12:00:00.000Z","updated_at":"2026-12-02T12:00:00.000Z","system":%t,"noteable_id":155016530,"noteable_type":"MergeRequest","project_id":42,"noteable_iid":7,"resolvable":false,"confidential":false,"internal":false}`,
		n.ID, mustJSON(n.Body), n.System)
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func newGLFake(t *testing.T) *glFake {
	t.Helper()
	f := &glFake{nextID: 301, calls: map[string]int{}}
	// A system note ("added 1 commit") is never cab's comment.
	f.notes = []glNote{{ID: 300, Body: "added 1 commit " + "<!-- cab:outcome -->", System: true}}
	const notes = "/api/v4/projects/42/merge_requests/7/notes"
	mux := http.NewServeMux()
	author := `{"id":583231,"username":"octocat","name":"Octo Cat","state":"active","web_url":"https://gitlab.example.com/octocat"}`
	mr := func() string {
		return fmt.Sprintf(`{"id":155016530,"iid":7,"project_id":42,"title":"CHG-2026-0042","description":"","state":"opened","created_at":%q,"updated_at":%q,"target_branch":"main","source_branch":"topic","author":%s,"assignees":[],"reviewers":[],"source_project_id":42,"target_project_id":42,"labels":[],"draft":false,"detailed_merge_status":"not_approved","sha":%q,"merge_commit_sha":null,"web_url":"https://gitlab.example.com/octo/changes/-/merge_requests/7"}`,
			f.opened.Format(time.RFC3339), f.opened.Format(time.RFC3339), author, f.head)
	}
	pages := func(w http.ResponseWriter, n int) {
		h := w.Header()
		h.Set("X-Page", "1")
		h.Set("X-Per-Page", "100")
		h.Set("X-Total", strconv.Itoa(n))
		h.Set("X-Total-Pages", "1")
		h.Set("X-Next-Page", "")
	}
	mux.HandleFunc("GET /api/v4/projects/42/merge_requests", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Query().Get("state") != "opened" || f.head == "" {
			pages(w, 0)
			glJSON(w, http.StatusOK, `[]`)
			return
		}
		pages(w, 1)
		glJSON(w, http.StatusOK, "["+mr()+"]")
	})
	mux.HandleFunc("GET /api/v4/projects/42/merge_requests/7", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		glJSON(w, http.StatusOK, mr())
	})
	mux.HandleFunc("GET /api/v4/projects/42/merge_requests/7/approvals", func(w http.ResponseWriter, r *http.Request) {
		glJSON(w, http.StatusOK, `{"id":155016530,"iid":7,"project_id":42,"title":"CHG-2026-0042","state":"opened","merge_status":"can_be_merged","approved":false,"approvals_required":2,"approvals_left":2,"approved_by":[]}`)
	})
	mux.HandleFunc("GET /api/v4/projects/42/merge_requests/7/versions", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		pages(w, 1)
		glJSON(w, http.StatusOK, fmt.Sprintf(`[{"id":1,"head_commit_sha":%q,"base_commit_sha":%q,"start_commit_sha":%q,"created_at":%q,"merge_request_id":155016530,"state":"collected","real_size":"1"}]`,
			f.head, f.head, f.head, f.opened.Format(time.RFC3339)))
	})
	mux.HandleFunc("GET "+notes, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing(w) {
			return
		}
		items := "["
		for i, n := range f.notes {
			if i > 0 {
				items += ","
			}
			items += n.json()
		}
		h := w.Header()
		h.Set("X-Page", "1")
		h.Set("X-Per-Page", "100")
		h.Set("X-Total", strconv.Itoa(len(f.notes)))
		h.Set("X-Total-Pages", "1")
		h.Set("X-Next-Page", "")
		glJSON(w, http.StatusOK, items+"]")
	})
	mux.HandleFunc("POST "+notes, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing(w) {
			return
		}
		var in struct {
			Body string `json:"body"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		n := glNote{ID: f.nextID, Body: in.Body}
		f.nextID++
		f.notes = append(f.notes, n)
		glJSON(w, http.StatusCreated, n.json())
	})
	mux.HandleFunc("PUT "+notes+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing(w) {
			return
		}
		var in struct {
			Body string `json:"body"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		for i, n := range f.notes {
			if strconv.FormatInt(n.ID, 10) == r.PathValue("id") && !n.System {
				f.notes[i].Body = in.Body
				glJSON(w, http.StatusOK, f.notes[i].json())
				return
			}
		}
		glJSON(w, http.StatusNotFound, `{"message":"404 Not found"}`)
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls[r.Method+" "+r.URL.EscapedPath()]++
		f.mu.Unlock()
		if r.Header.Get("Private-Token") != glToken {
			glJSON(w, http.StatusUnauthorized, `{"message":"401 Unauthorized"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *glFake) failing(w http.ResponseWriter) bool {
	if f.fail <= 0 {
		return false
	}
	f.fail--
	glJSON(w, http.StatusInternalServerError, `{"message":"500 Internal Server Error"}`)
	return true
}

func (f *glFake) forge(t *testing.T) Forge {
	t.Helper()
	c, err := gitlab.New(f.URL, glToken, f.Client())
	require.NoError(t, err)
	return GitLab(c, "42")
}

func (f *glFake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// bodies are the notes that are not system notes.
func (f *glFake) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.notes {
		if !n.System {
			out = append(out, n.Body)
		}
	}
	return out
}

func glJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
