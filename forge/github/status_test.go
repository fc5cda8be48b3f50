// GitHub cannot run here: these tests replay its documented REST API
// shapes from an httptest.Server on loopback (see fake_test.go).

package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const statusPath = "/repos/octo/changes/statuses/" + headSHA

func TestSetStatus(t *testing.T) {
	long := strings.Repeat("é", 200)
	tests := []struct {
		name        string
		state       string
		description string
		targetURL   string
		want        map[string]string
	}{
		{
			name:        "success with link",
			state:       StateSuccess,
			description: "2 tickets checked, no violations",
			targetURL:   "https://github.com/octo/changes/actions/runs/1",
			want: map[string]string{
				"state": "success", "context": "cab/check",
				"description": "2 tickets checked, no violations",
				"target_url":  "https://github.com/octo/changes/actions/runs/1",
			},
		},
		{
			name:        "failure, long description cut to 140 characters",
			state:       StateFailure,
			description: long,
			want: map[string]string{
				"state": "failure", "context": "cab/check",
				"description": strings.Repeat("é", 139) + "…",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, map[string]http.HandlerFunc{
				"POST " + statusPath: static(http.StatusCreated, `{"id":1,"state":"success","context":"cab/check"}`),
			})
			err := srv.client().SetStatus(context.Background(), "octo", "changes", headSHA, tt.state, tt.description, tt.targetURL)
			require.NoError(t, err)
			bodies := srv.body("POST " + statusPath)
			require.Len(t, bodies, 1)
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(bodies[0]), &got))
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, utf8.RuneCountInString(got["description"]), 140)
		})
	}
}

func TestSetStatusErrors(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{
		"POST " + statusPath: static(http.StatusForbidden, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/commits/statuses#create-a-commit-status","status":"403"}`),
	})
	c := srv.client()

	err := c.SetStatus(context.Background(), "octo", "changes", headSHA, StateSuccess, "ok", "")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "statuses: write")

	for _, bad := range []struct{ sha, state string }{
		{headSHA, "passed"},
		{"HEAD", StateSuccess},
		{strings.ToUpper(headSHA), StateSuccess},
	} {
		err := c.SetStatus(context.Background(), "octo", "changes", bad.sha, bad.state, "", "")
		assert.Error(t, err, "%+v", bad)
	}
	assert.Equal(t, 1, srv.count("POST "+statusPath), "invalid statuses were sent")
}

func commentJSON(id int64, body string) string {
	return fmt.Sprintf(`{"id":%d,"node_id":"MDEyOklzc3VlQ29tbWVudDE=","url":"https://api.github.com/repos/octo/changes/issues/comments/%d","html_url":"https://github.com/octo/changes/pull/12#issuecomment-%d","body":%q,"user":%s,"created_at":"2026-01-11T10:00:00Z","updated_at":"2026-01-11T10:00:00Z","author_association":"NONE"}`,
		id, id, id, body, userJSON(41898282, "github-actions[bot]", "Bot"))
}

func TestUpsertComment(t *testing.T) {
	const (
		marker       = "<!-- cab:check -->"
		commentsPath = "/repos/octo/changes/issues/12/comments"
		body         = marker + "\n### cab check\n2 tickets, no violations"
	)
	others := []string{commentJSON(1, "LGTM"), commentJSON(2, "please fix the window")}
	tests := []struct {
		name      string
		comments  []string
		wantPatch map[string]int // path -> PATCH count
		wantPost  int
	}{
		{
			name:     "no comment yet: create one",
			comments: others,
			wantPost: 1,
		},
		{
			name:      "existing comment on a later page is updated, not duplicated",
			comments:  append(append([]string{}, others...), commentJSON(3, "bye"), commentJSON(77, marker+"\nold verdict")),
			wantPatch: map[string]int{"/repos/octo/changes/issues/comments/77": 1},
		},
		{
			name:      "only the first marked comment is updated",
			comments:  []string{commentJSON(5, marker+"\nfirst"), commentJSON(6, marker+"\nsecond")},
			wantPatch: map[string]int{"/repos/octo/changes/issues/comments/5": 1},
		},
		{
			name:     "unchanged comment is left alone",
			comments: []string{commentJSON(9, body)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, map[string]http.HandlerFunc{
				"GET " + commentsPath:                            paged(2, tt.comments...),
				"POST " + commentsPath:                           static(http.StatusCreated, commentJSON(100, body)),
				"PATCH /repos/octo/changes/issues/comments/{id}": static(http.StatusOK, commentJSON(1, body)),
			})
			require.NoError(t, srv.client().UpsertComment(context.Background(), "octo", "changes", 12, marker, body))

			assert.Equal(t, tt.wantPost, srv.count("POST "+commentsPath), "POST count")
			patches := 0
			for _, id := range []string{"1", "2", "3", "5", "6", "9", "77"} {
				p := "/repos/octo/changes/issues/comments/" + id
				n := srv.count("PATCH " + p)
				patches += n
				assert.Equal(t, tt.wantPatch[p], n, "PATCH %s", p)
				for _, b := range srv.body("PATCH " + p) {
					assert.JSONEq(t, fmt.Sprintf(`{"body":%q}`, body), b)
				}
			}
			assert.LessOrEqual(t, patches+srv.count("POST "+commentsPath), 1, "more than one write")
			assert.Equal(t, max((len(tt.comments)+1)/2, 1), srv.count("GET "+commentsPath), "pages read")
		})
	}
}

func TestUpsertCommentErrors(t *testing.T) {
	const commentsPath = "/repos/octo/changes/issues/12/comments"
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + commentsPath:  paged(100),
		"POST " + commentsPath: static(http.StatusForbidden, `{"message":"Resource not accessible by integration","status":"403"}`),
	})
	c := srv.client()
	err := c.UpsertComment(context.Background(), "octo", "changes", 12, "<!-- cab -->", "<!-- cab --> verdict")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, err.Error(), "pull-requests: write")

	assert.Error(t, c.UpsertComment(context.Background(), "octo", "changes", 12, "<!-- cab -->", "no marker"))
	assert.Error(t, c.UpsertComment(context.Background(), "octo", "changes", 12, "", "x"))
	assert.Error(t, c.UpsertComment(context.Background(), "octo", "changes", 12, "m", "m"+strings.Repeat("x", maxCommentBody)))
	assert.Equal(t, 1, srv.count("POST "+commentsPath))
}
