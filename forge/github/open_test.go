package github

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenPulls(t *testing.T) {
	draft := strings.Replace(pullJSON(9, oldSHA, 1), `"draft": false`, `"draft": true`, 1)
	other := strings.Replace(pullJSON(10, oldSHA, 1), `"ref": "main"`, `"ref": "release"`, 1)
	list := paged(2, pullJSON(7, headSHA, 1), draft, other, pullJSON(11, oldSHA, 2))
	var states []string
	s := newServer(t, map[string]http.HandlerFunc{
		"GET /repos/octo/changes/pulls": func(w http.ResponseWriter, r *http.Request) {
			states = append(states, r.URL.Query().Get("state"))
			list(w, r)
		},
	})
	got, err := s.client().OpenPulls(context.Background(), "octo", "changes", "main")
	require.NoError(t, err)
	opened := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	assert.Equal(t, []OpenPull{
		{Number: 7, HeadSHA: headSHA, Base: "main", OpenedAt: opened},
		{Number: 11, HeadSHA: oldSHA, Base: "main", OpenedAt: opened},
	}, got, "drafts and other bases are left out, every page is read")
	assert.Equal(t, 2, s.count("GET /repos/octo/changes/pulls"), "two pages")
	assert.Equal(t, "open", states[0], "the first page asks for open pull requests")

	all, err := s.client().OpenPulls(context.Background(), "octo", "changes", "")
	require.NoError(t, err)
	assert.Len(t, all, 3, "no base: every non-draft open pull request")
}

func TestOpenPullsErrors(t *testing.T) {
	s := newServer(t, map[string]http.HandlerFunc{
		"GET /repos/octo/changes/pulls": static(http.StatusNotFound, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/pulls/pulls#list-pull-requests","status":"404"}`),
	})
	_, err := s.client().OpenPulls(context.Background(), "octo", "changes", "main")
	var api *APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, http.StatusNotFound, api.StatusCode)
	_, err = s.client().OpenPulls(context.Background(), "", "changes", "main")
	require.Error(t, err)
}
