// GitLab cannot run here: these tests replay its documented REST API
// shapes from an httptest.Server on loopback (see fake_test.go).

package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const statusPath = "/api/v4/projects/42/statuses/" + headSHA

func statusJSON(state string) string {
	return fmt.Sprintf(`{"id":93,"sha":%q,"ref":"new-topic","status":%q,"name":"cab/check","target_url":"https://gitlab.example.com/octo/changes/-/jobs/1","description":"ok","created_at":"2026-01-11T12:00:00.000Z","started_at":null,"finished_at":"2026-01-11T12:00:00.000Z","allow_failure":false,"coverage":null,"author":{"id":1,"username":"cab-bot","name":"cab"}}`, headSHA, state)
}

func TestSetCommitStatus(t *testing.T) {
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
			targetURL:   "https://gitlab.example.com/octo/changes/-/jobs/1",
			want: map[string]string{
				"state": "success", "name": "cab/check",
				"description": "2 tickets checked, no violations",
				"target_url":  "https://gitlab.example.com/octo/changes/-/jobs/1",
			},
		},
		{
			name:        "failed, long description cut",
			state:       StateFailed,
			description: strings.Repeat("x", 300),
			want: map[string]string{
				"state": "failed", "name": "cab/check",
				"description": strings.Repeat("x", 139) + "…",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, map[string]http.HandlerFunc{
				"POST " + statusPath: static(http.StatusCreated, statusJSON(tt.state)),
			})
			err := srv.client(t).SetCommitStatus(context.Background(), "42", headSHA, tt.state, tt.description, tt.targetURL)
			require.NoError(t, err)
			bodies := srv.body("POST " + statusPath)
			require.Len(t, bodies, 1)
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(bodies[0]), &got))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSetCommitStatusErrors(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{
		"POST " + statusPath: static(http.StatusForbidden, `{"message":"403 Forbidden"}`),
	})
	c := srv.client(t)
	err := c.SetCommitStatus(context.Background(), "42", headSHA, StateSuccess, "ok", "")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "scope api")
	assert.Contains(t, err.Error(), "Developer")

	for _, bad := range []struct{ project, sha, state string }{
		{"42", headSHA, "passed"},
		{"42", "HEAD", StateSuccess},
		{"", headSHA, StateSuccess},
	} {
		assert.Error(t, c.SetCommitStatus(context.Background(), bad.project, bad.sha, bad.state, "", ""), "%+v", bad)
	}
	assert.Equal(t, 1, srv.count("POST "+statusPath), "invalid statuses were sent")
}

func TestUpsertNote(t *testing.T) {
	const (
		marker = "<!-- cab:check -->"
		body   = marker + "\n### cab check\n2 tickets, no violations"
	)
	notesPath := mrPath + "/notes"
	noteIDs := []string{"1", "2", "3", "5", "6", "9", "77"}
	tests := []struct {
		name      string
		notes     []string
		wantPut   map[string]int // note path -> PUT count
		wantPost  int
		wantPages int
	}{
		{
			name:      "no note yet: create one",
			notes:     []string{noteJSON(1, 9, false, "LGTM", tEarly), noteJSON(2, 9, true, "approved this merge request", tLate)},
			wantPost:  1,
			wantPages: 1,
		},
		{
			name: "existing note on a later page is updated, not duplicated",
			notes: []string{
				noteJSON(1, 9, false, "LGTM", tEarly), noteJSON(2, 9, false, "fix the window", tEarly),
				noteJSON(3, 9, false, "done", tPush), noteJSON(77, 1, false, marker+"\nold verdict", tLate),
			},
			wantPut:   map[string]int{notesPath + "/77": 1},
			wantPages: 2,
		},
		{
			name:      "system notes are never updated",
			notes:     []string{noteJSON(5, 9, true, "mentioned "+marker, tEarly), noteJSON(6, 1, false, marker+"\nold", tLate)},
			wantPut:   map[string]int{notesPath + "/6": 1},
			wantPages: 1,
		},
		{
			name:      "unchanged note is left alone",
			notes:     []string{noteJSON(9, 1, false, body, tLate)},
			wantPages: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]http.HandlerFunc{
				"GET " + notesPath:  paged(2, tt.notes...),
				"POST " + notesPath: static(http.StatusCreated, noteJSON(100, 1, false, body, tLater)),
			}
			for _, id := range noteIDs {
				routes["PUT "+notesPath+"/"+id] = static(http.StatusOK, noteJSON(1, 1, false, body, tLater))
			}
			srv := newServer(t, routes)
			require.NoError(t, srv.client(t).UpsertNote(context.Background(), "42", 7, marker, body))

			assert.Equal(t, tt.wantPost, srv.count("POST "+notesPath), "POST count")
			puts := 0
			for _, id := range noteIDs {
				p := notesPath + "/" + id
				n := srv.count("PUT " + p)
				puts += n
				assert.Equal(t, tt.wantPut[p], n, "PUT %s", p)
				for _, b := range srv.body("PUT " + p) {
					assert.JSONEq(t, fmt.Sprintf(`{"body":%q}`, body), b)
				}
			}
			assert.LessOrEqual(t, puts+srv.count("POST "+notesPath), 1, "more than one write")
			assert.Equal(t, tt.wantPages, srv.count("GET "+notesPath), "pages read")
		})
	}
}

func TestUpsertNoteErrors(t *testing.T) {
	notesPath := mrPath + "/notes"
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + notesPath:  paged(100),
		"POST " + notesPath: static(http.StatusForbidden, `{"message":"403 Forbidden"}`),
	})
	c := srv.client(t)
	err := c.UpsertNote(context.Background(), "42", 7, "<!-- cab -->", "<!-- cab --> verdict")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, err.Error(), "commenting on 42!7")
	assert.Contains(t, err.Error(), "scope api")

	assert.Error(t, c.UpsertNote(context.Background(), "42", 7, "<!-- cab -->", "no marker"))
	assert.Error(t, c.UpsertNote(context.Background(), "42", 7, "", "x"))
	assert.Error(t, c.UpsertNote(context.Background(), "42", 0, "m", "m"))
	assert.Equal(t, 1, srv.count("POST "+notesPath))
}
