// GitHub cannot run here, so these tests run the client against an
// httptest.Server on loopback that replays the shapes the GitHub REST API
// documents (docs.github.com/rest: pulls, pulls/reviews, pulls/commits,
// commits/statuses, issues/comments): same paths, field names, status
// codes, error bodies and Link-header pagination.

package github

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	testToken = "ghs_test"
	headSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	oldSHA    = "f2d1c5e3b6a7980e1d2c3b4a5f6e7d8c9b0a1f2e"
	baseSHA   = "9049f1265b7d61be4a8904a9a27120d2064dab3b"
	authorID  = 583231
)

// server is a fake GitHub API that records every request it answers.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	calls  map[string]int      // "METHOD /path" -> count
	bodies map[string][]string // "METHOD /path" -> request bodies
}

// newServer serves routes (ServeMux patterns such as
// "GET /repos/o/r/pulls/7") and answers 401 like GitHub when the bearer
// token is not testToken.
func newServer(t *testing.T, routes map[string]http.HandlerFunc) *server {
	t.Helper()
	s := &server{calls: map[string]int{}, bodies: map[string][]string{}}
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls[key]++
		if len(b) > 0 {
			s.bodies[key] = append(s.bodies[key], string(b))
		}
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			writeJSON(w, http.StatusUnauthorized, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") == "" {
			writeJSON(w, http.StatusBadRequest, `{"message":"missing Accept or X-GitHub-Api-Version"}`)
			return
		}
		mux.ServeHTTP(w, r)
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

func (s *server) client() *Client { return New(s.URL, testToken, s.Client()) }

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func static(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, body) }
}

// paged serves items as a JSON array, size items a page, with GitHub's
// Link header (rel="next" and rel="last") while pages remain.
func paged(size int, items ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		last := max((len(items)+size-1)/size, 1)
		start := min((page-1)*size, len(items))
		end := min(start+size, len(items))
		if page < last {
			link := func(p int) string {
				return fmt.Sprintf("<http://%s%s?per_page=100&page=%d>", r.Host, r.URL.Path, p)
			}
			w.Header().Set("Link", link(page+1)+`; rel="next", `+link(last)+`; rel="last"`)
		}
		writeJSON(w, http.StatusOK, "["+strings.Join(items[start:end], ",")+"]")
	}
}

func userJSON(id int64, login, typ string) string {
	return fmt.Sprintf(`{"login":%q,"id":%d,"node_id":"MDQ6VXNlcjE=","avatar_url":"https://github.com/images/error/%s_happy.gif","html_url":"https://github.com/%s","type":%q,"site_admin":false}`,
		login, id, login, login, typ)
}

// pullJSON is GET /repos/{o}/{r}/pulls/{n} as documented, trimmed.
func pullJSON(number int, head string, commits int, labels ...string) string {
	var ls []string
	for i, l := range labels {
		ls = append(ls, fmt.Sprintf(`{"id":%d,"node_id":"MDU6TGFiZWwyMDgwNDU5NDY=","url":"https://api.github.com/repos/octo/changes/labels/%s","name":%q,"description":"","color":"f29513","default":false}`, 208045946+i, l, l))
	}
	return fmt.Sprintf(`{
  "url": "https://api.github.com/repos/octo/changes/pulls/%[1]d",
  "id": 1,
  "html_url": "https://github.com/octo/changes/pull/%[1]d",
  "number": %[1]d,
  "state": "open",
  "locked": false,
  "title": "CHG-2026-0042: rotate payment keys",
  "user": %[2]s,
  "body": "Please pull these awesome changes in!",
  "labels": [%[3]s],
  "created_at": "2026-01-10T09:00:00Z",
  "updated_at": "2026-01-12T10:00:00Z",
  "head": {"label": "octo:new-topic", "ref": "new-topic", "sha": %[4]q, "user": %[2]s},
  "base": {"label": "octo:main", "ref": "main", "sha": %[5]q},
  "author_association": "MEMBER",
  "draft": false,
  "merged": false,
  "commits": %[6]d,
  "additions": 100,
  "deletions": 3,
  "changed_files": 1
}`, number, userJSON(authorID, "octocat", "User"), strings.Join(ls, ","), head, baseSHA, commits)
}

// reviewJSON is one element of GET /repos/{o}/{r}/pulls/{n}/reviews.
// A zero uid gives a deleted account (user: null); an empty submitted
// leaves submitted_at out, as for a pending review.
func reviewJSON(id, uid int64, state, commit, submitted string) string {
	u := "null"
	if uid != 0 {
		u = userJSON(uid, "reviewer"+strconv.FormatInt(uid, 10), "User")
	}
	at := ""
	if submitted != "" {
		at = fmt.Sprintf(`,"submitted_at":%q`, submitted)
	}
	return fmt.Sprintf(`{"id":%d,"node_id":"MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=","user":%s,"body":"Here is the body for the review.","state":%q,"html_url":"https://github.com/octo/changes/pull/12#pullrequestreview-%d","pull_request_url":"https://api.github.com/repos/octo/changes/pulls/12","author_association":"COLLABORATOR","commit_id":%q%s}`,
		id, u, state, id, commit, at)
}

// commitJSON is one element of GET /repos/{o}/{r}/pulls/{n}/commits:
// author and committer are the accounts behind the e-mail addresses, null
// when there is none (zero ids here).
func commitJSON(sha string, author, committer int64) string {
	acct := func(id int64) string {
		switch id {
		case 0:
			return "null"
		case WebFlowUserID:
			return userJSON(id, "web-flow", "User")
		}
		return userJSON(id, "user"+strconv.FormatInt(id, 10), "User")
	}
	return fmt.Sprintf(`{"sha":%q,"node_id":"MDY6Q29tbWl0","commit":{"author":{"name":"Monalisa Octocat","email":"support@github.com","date":"2026-01-11T16:00:49Z"},"committer":{"name":"Monalisa Octocat","email":"support@github.com","date":"2026-01-11T16:00:49Z"},"message":"Fix all the bugs","tree":{"sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"},"comment_count":0,"verification":{"verified":false,"reason":"unsigned","signature":null,"payload":null}},"author":%s,"committer":%s,"parents":[]}`,
		sha, acct(author), acct(committer))
}
