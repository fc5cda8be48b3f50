// GitHub cannot run here: ghFake replays the shapes the GitHub REST API
// documents (docs.github.com/rest: pulls, pulls/reviews, pulls/commits,
// issues/comments), as forge/github's own fake (fake_test.go there, not
// importable from here) does, trimmed to what the polls read: same paths,
// field names, status codes and error bodies.

package escalate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabhq/cab/forge/github"
)

const (
	ghToken  = "ghs_test_token_0123456789"
	authorID = 583231
)

// ghFake is a GitHub API for owner octo, repository changes: one open
// pull request and its issue comments.
type ghFake struct {
	*httptest.Server
	mu       sync.Mutex
	pr       int
	head     string
	opened   time.Time
	comments []ghComment
	nextID   int64
	// ghost, when set, is listed open too, with a head no git server has.
	ghost int
	// fail answers this many comment requests with 500 first.
	fail  int
	calls map[string]int
}

type ghComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

func newGHFake(t *testing.T) *ghFake {
	t.Helper()
	f := &ghFake{calls: map[string]int{}, nextID: 1001}
	mux := http.NewServeMux()
	user := fmt.Sprintf(`{"login":"octocat","id":%d,"type":"User","site_admin":false}`, authorID)
	mux.HandleFunc("GET /repos/octo/changes/pulls", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != "open" {
			ghJSON(w, http.StatusUnprocessableEntity, `{"message":"Validation Failed"}`)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.pr == 0 {
			ghJSON(w, http.StatusOK, `[]`)
			return
		}
		item := func(n int, head string) string {
			return fmt.Sprintf(`{"url":"https://api.github.com/repos/octo/changes/pulls/%[1]d","number":%[1]d,"state":"open","draft":false,"title":"CHG-2026-0042","user":%[2]s,"created_at":%[3]q,"head":{"ref":"topic","sha":%[4]q},"base":{"ref":"main","sha":"9049f1265b7d61be4a8904a9a27120d2064dab3b"}}`,
				n, user, f.opened.Format(time.RFC3339), head)
		}
		list := item(f.pr, f.head)
		if f.ghost != 0 {
			list = item(f.ghost, strings.Repeat("e", 40)) + "," + list
		}
		ghJSON(w, http.StatusOK, "["+list+"]")
	})
	mux.HandleFunc("GET /repos/octo/changes/pulls/{n}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.PathValue("n") != strconv.Itoa(f.pr) {
			ghJSON(w, http.StatusNotFound, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/pulls/pulls#get-a-pull-request","status":"404"}`)
			return
		}
		ghJSON(w, http.StatusOK, fmt.Sprintf(`{"url":"https://api.github.com/repos/octo/changes/pulls/%[1]d","html_url":"https://github.com/octo/changes/pull/%[1]d","number":%[1]d,"state":"open","user":%[2]s,"labels":[],"created_at":%[3]q,"head":{"ref":"topic","sha":%[4]q,"user":%[2]s},"base":{"ref":"main"},"draft":false,"merged":false,"commits":1}`,
			f.pr, user, f.opened.Format(time.RFC3339), f.head))
	})
	mux.HandleFunc("GET /repos/octo/changes/pulls/{n}/reviews", func(w http.ResponseWriter, r *http.Request) {
		ghJSON(w, http.StatusOK, `[]`)
	})
	mux.HandleFunc("GET /repos/octo/changes/pulls/{n}/commits", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		ghJSON(w, http.StatusOK, fmt.Sprintf(`[{"sha":%q,"commit":{"message":"CHG-2026-0042"},"author":%s,"committer":%s,"parents":[]}]`, f.head, user, user))
	})
	mux.HandleFunc("GET /repos/octo/changes/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing(w) {
			return
		}
		b, _ := json.Marshal(f.comments)
		if f.comments == nil {
			b = []byte(`[]`)
		}
		ghJSON(w, http.StatusOK, string(b))
	})
	mux.HandleFunc("POST /repos/octo/changes/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing(w) {
			return
		}
		var in struct{ Body string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		c := ghComment{ID: f.nextID, Body: in.Body}
		f.nextID++
		f.comments = append(f.comments, c)
		b, _ := json.Marshal(c)
		ghJSON(w, http.StatusCreated, string(b))
	})
	mux.HandleFunc("PATCH /repos/octo/changes/issues/comments/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing(w) {
			return
		}
		var in struct{ Body string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		for i, c := range f.comments {
			if strconv.FormatInt(c.ID, 10) == r.PathValue("id") {
				f.comments[i].Body = in.Body
				b, _ := json.Marshal(f.comments[i])
				ghJSON(w, http.StatusOK, string(b))
				return
			}
		}
		ghJSON(w, http.StatusNotFound, `{"message":"Not Found"}`)
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls[r.Method+" "+r.URL.Path]++
		f.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 0))
		if r.Header.Get("Authorization") != "Bearer "+ghToken {
			ghJSON(w, http.StatusUnauthorized, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// failing answers 500 while f.fail is positive (f.mu held).
func (f *ghFake) failing(w http.ResponseWriter) bool {
	if f.fail <= 0 {
		return false
	}
	f.fail--
	ghJSON(w, http.StatusInternalServerError, `{"message":"Server Error"}`)
	return true
}

func (f *ghFake) forge() Forge {
	return GitHub(github.New(f.URL, ghToken, f.Client()), "octo", "changes")
}

func (f *ghFake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *ghFake) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.comments {
		out = append(out, c.Body)
	}
	return out
}

func ghJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.TrimSpace(body))
}
