package gitlab

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenMergeRequests(t *testing.T) {
	draft := strings.Replace(mrJSON(9, oldSHA), `"draft": false`, `"draft": true`, 1)
	list := paged(2, mrJSON(7, headSHA), draft, mrJSON(11, oldSHA))
	var queries []string
	s := newServer(t, map[string]http.HandlerFunc{
		"GET /api/v4/projects/octo%2Fchanges/merge_requests": func(w http.ResponseWriter, r *http.Request) {
			queries = append(queries, r.URL.Query().Get("state")+" "+r.URL.Query().Get("target_branch"))
			list(w, r)
		},
	})
	got, err := s.client(t).OpenMergeRequests(context.Background(), "octo/changes", "main")
	require.NoError(t, err)
	opened := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	assert.Equal(t, []OpenMergeRequest{
		{IID: 7, HeadSHA: headSHA, Target: "main", OpenedAt: opened},
		{IID: 11, HeadSHA: oldSHA, Target: "main", OpenedAt: opened},
	}, got, "drafts are left out, every page is read")
	assert.Equal(t, []string{"opened main", "opened main"}, queries, "each page asks for opened merge requests into main")
}

func TestOpenMergeRequestsErrors(t *testing.T) {
	s := newServer(t, map[string]http.HandlerFunc{
		"GET /api/v4/projects/octo%2Fchanges/merge_requests": static(http.StatusForbidden, `{"message":"403 Forbidden"}`),
	})
	_, err := s.client(t).OpenMergeRequests(context.Background(), "octo/changes", "main")
	var api *APIError
	require.ErrorAs(t, err, &api)
	_, err = s.client(t).OpenMergeRequests(context.Background(), "", "main")
	require.Error(t, err)
}
