// GitLab cannot run here: these tests replay its documented REST API
// shapes from an httptest.Server on loopback (see fake_test.go).

package gitlab

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

const (
	tOld   = "2026-01-11T09:00:00.000Z" // first version pushed
	tEarly = "2026-01-11T10:00:00.000Z"
	tPush  = "2026-01-11T11:00:00.000Z" // current head pushed
	tLate  = "2026-01-11T12:00:00.000Z"
	tLater = "2026-01-11T13:00:00.000Z"
)

func TestReview(t *testing.T) {
	versions := []string{versionJSON(120, headSHA, tPush), versionJSON(110, oldSHA, tOld)}
	approved := func(id, author int64, at string) string {
		return noteJSON(id, author, true, "approved this merge request", at)
	}
	approval := func(uid, at string) model.Approval {
		return model.Approval{ID: "gitlab:" + uid, Login: "user" + uid, At: at, Commit: headSHA}
	}
	tests := []struct {
		name        string
		approvedBy  []int64
		notes       []string
		versions    []string // versions above when nil
		pageSize    int      // 100 when zero
		want        []model.Approval
		wantPushers []string // the author alone when nil
	}{
		{
			name:       "approval after the last push counts",
			approvedBy: []int64{1001},
			notes:      []string{approved(1, 1001, tLate)},
			want:       []model.Approval{approval("1001", "2026-01-11T12:00:00Z")},
		},
		{
			name:       "approval kept across a push does not count",
			approvedBy: []int64{1001},
			notes:      []string{approved(1, 1001, tEarly)},
			want:       []model.Approval{},
		},
		{
			name:       "approval renewed after the push counts",
			approvedBy: []int64{1001},
			notes: []string{
				approved(1, 1001, tEarly),
				noteJSON(2, 1001, true, "unapproved this merge request", tPush),
				approved(3, 1001, tLater),
			},
			want: []model.Approval{approval("1001", "2026-01-11T13:00:00Z")},
		},
		{
			name:       "approval at the instant of the push counts",
			approvedBy: []int64{1001},
			notes:      []string{approved(1, 1001, tPush)},
			want:       []model.Approval{approval("1001", "2026-01-11T11:00:00Z")},
		},
		{
			name:       "author approving their own merge request is reported",
			approvedBy: []int64{authorID},
			notes:      []string{approved(1, authorID, tLate)},
			want:       []model.Approval{{ID: "gitlab:583231", Login: "octocat", At: "2026-01-11T12:00:00Z", Commit: headSHA}},
		},
		{
			name:       "revoked approval does not count",
			approvedBy: nil,
			notes: []string{
				approved(1, 1001, tLate),
				noteJSON(2, 1001, true, "unapproved this merge request", tLater),
			},
			want: []model.Approval{},
		},
		{
			name:       "approval without a system note does not count",
			approvedBy: []int64{1001, 1002},
			notes:      []string{noteJSON(1, 1002, false, "approved this merge request", tLate)},
			want:       []model.Approval{},
		},
		{
			name:       "pushers from added-commits system notes only",
			approvedBy: []int64{1001},
			notes: []string{
				noteJSON(1, 2001, true, "added 1 commit\n\n<ul><li>33e2ee85 - Rotate keys</li></ul>\n\n[Compare with previous version](/octo/changes/-/merge_requests/7/diffs?diff_id=120&start_sha=eeb57dff)", tPush),
				noteJSON(2, 2002, false, "added 2 commits", tPush),
				noteJSON(3, 2003, true, "changed the description", tPush),
				noteJSON(4, authorID, true, "added 3 commits\n\n<ul></ul>", tOld),
				approved(5, 1001, tLate),
			},
			want:        []model.Approval{approval("1001", "2026-01-11T12:00:00Z")},
			wantPushers: []string{"gitlab:2001", "gitlab:583231"},
		},
		{
			name:       "notes and versions across pages",
			approvedBy: []int64{1002, 1001, 1003},
			notes: []string{
				noteJSON(1, 9, false, "looks good", tEarly),
				approved(2, 1003, tEarly),
				noteJSON(3, 2001, true, "added 1 commit\n\n<ul></ul>", tPush),
				noteJSON(4, 9, false, "ship it", tLate),
				approved(5, 1002, tLater),
				approved(6, 1001, tLate),
			},
			versions:    []string{versionJSON(130, headSHA, tPush), versionJSON(120, oldSHA, tEarly), versionJSON(110, oldSHA, tOld)},
			pageSize:    2,
			want:        []model.Approval{approval("1001", "2026-01-11T12:00:00Z"), approval("1002", "2026-01-11T13:00:00Z")},
			wantPushers: []string{"gitlab:2001", "gitlab:583231"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := tt.versions
			if vs == nil {
				vs = versions
			}
			size := tt.pageSize
			if size == 0 {
				size = 100
			}
			srv := newServer(t, map[string]http.HandlerFunc{
				"GET " + mrPath:                static(http.StatusOK, mrJSON(7, headSHA, "risk::low", "cab")),
				"GET " + mrPath + "/approvals": static(http.StatusOK, approvalsJSON(tt.approvedBy...)),
				"GET " + mrPath + "/versions":  paged(size, vs...),
				"GET " + mrPath + "/notes":     paged(size, tt.notes...),
			})
			got, err := srv.client(t).Review(context.Background(), "42", 7, headSHA)
			require.NoError(t, err)
			assert.Equal(t, "gitlab", got.Forge)
			assert.Equal(t, int64(7), got.Number)
			assert.Equal(t, "https://gitlab.example.com/octo/changes/-/merge_requests/7", got.URL)
			assert.Equal(t, "gitlab:583231", got.Author, "author is the stable id, not the username")
			assert.Equal(t, headSHA, got.HeadSHA)
			assert.Equal(t, time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), got.OpenedAt.UTC(), "opened at the documented created_at")
			assert.Equal(t, []string{"cab", "risk::low"}, got.Labels)
			review, err := got.Review(headSHA)
			require.NoError(t, err)
			assert.Equal(t, tt.want, review.Approvals, "approvals counted for the head")
			wantPushers := tt.wantPushers
			if wantPushers == nil {
				wantPushers = []string{"gitlab:583231"}
			}
			assert.Equal(t, wantPushers, got.Pushers)
			if size < 100 {
				assert.Equal(t, 3, srv.count("GET "+mrPath+"/notes"), "notes pages read")
				assert.Equal(t, 2, srv.count("GET "+mrPath+"/versions"), "versions pages read")
			}
		})
	}
}

func TestReviewHeadMoved(t *testing.T) {
	tests := []struct {
		name     string
		checked  string
		versions []string
		wantMsg  string
	}{
		{name: "head moved since the check", checked: oldSHA, versions: []string{versionJSON(120, headSHA, tPush)}, wantMsg: "head is now " + headSHA},
		{name: "push not processed yet", versions: []string{versionJSON(110, oldSHA, tOld)}, wantMsg: "still processing"},
		{name: "no diff version yet", wantMsg: "no diff version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, map[string]http.HandlerFunc{
				"GET " + mrPath:                static(http.StatusOK, mrJSON(7, headSHA)),
				"GET " + mrPath + "/approvals": static(http.StatusOK, approvalsJSON(1001)),
				"GET " + mrPath + "/versions":  paged(100, tt.versions...),
				"GET " + mrPath + "/notes":     paged(100, noteJSON(1, 1001, true, "approved this merge request", tLate)),
			})
			_, err := srv.client(t).Review(context.Background(), "42", 7, tt.checked)
			require.ErrorIs(t, err, ErrHeadMoved)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestReviewErrors(t *testing.T) {
	ok := map[string]http.HandlerFunc{
		"GET " + mrPath:                static(http.StatusOK, mrJSON(7, headSHA)),
		"GET " + mrPath + "/approvals": static(http.StatusOK, approvalsJSON()),
		"GET " + mrPath + "/versions":  paged(100, versionJSON(1, headSHA, tPush)),
		"GET " + mrPath + "/notes":     paged(100),
	}
	with := func(key string, h http.HandlerFunc) map[string]http.HandlerFunc {
		m := map[string]http.HandlerFunc{}
		for k, v := range ok {
			m[k] = v
		}
		if h == nil {
			delete(m, key)
		} else {
			m[key] = h
		}
		return m
	}
	tests := []struct {
		name       string
		token      string
		routes     map[string]http.HandlerFunc
		wantStatus int
		wantMsg    []string
	}{
		{
			name:       "401 bad token",
			token:      "wrong",
			routes:     ok,
			wantStatus: http.StatusUnauthorized,
			wantMsg:    []string{"reading merge request 42!7", "401", "read_api", "CI_JOB_TOKEN"},
		},
		{
			name:       "403 on approvals",
			routes:     with("GET "+mrPath+"/approvals", static(http.StatusForbidden, `{"message":"403 Forbidden"}`)),
			wantStatus: http.StatusForbidden,
			wantMsg:    []string{"reading approvals of 42!7", "403 Forbidden", "read_api", "Reporter"},
		},
		{
			name:       "404 unknown or invisible",
			routes:     with("GET "+mrPath, nil),
			wantStatus: http.StatusNotFound,
			wantMsg:    []string{"reading merge request 42!7", "404", "cannot see the project"},
		},
		{
			name:       "403 on notes",
			routes:     with("GET "+mrPath+"/notes", static(http.StatusForbidden, `{"message":"403 Forbidden"}`)),
			wantStatus: http.StatusForbidden,
			wantMsg:    []string{"reading notes of 42!7", "read_api"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.routes)
			token := testToken
			if tt.token != "" {
				token = tt.token
			}
			c, err := New(srv.URL, token, srv.Client())
			require.NoError(t, err)
			_, err = c.Review(context.Background(), "42", 7, "")
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}
			assert.NotContains(t, err.Error(), token, "token leaked into the error")
		})
	}
}

func TestReviewFailsFast(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + mrPath: static(http.StatusBadGateway, `{"message":"502 Bad Gateway"}`),
	})
	_, err := srv.client(t).Review(context.Background(), "42", 7, "")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
	assert.Equal(t, 1, srv.count("GET "+mrPath), "request was retried")
}

func TestReviewBoundedPagination(t *testing.T) {
	notes := make([]string, 0, MaxPages+5)
	for i := range MaxPages + 5 {
		notes = append(notes, noteJSON(int64(i+1), 9, false, "ping", tLate))
	}
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + mrPath:                static(http.StatusOK, mrJSON(7, headSHA)),
		"GET " + mrPath + "/approvals": static(http.StatusOK, approvalsJSON()),
		"GET " + mrPath + "/versions":  paged(100, versionJSON(1, headSHA, tPush)),
		"GET " + mrPath + "/notes":     paged(1, notes...),
	})
	_, err := srv.client(t).Review(context.Background(), "42", 7, "")
	require.ErrorIs(t, err, ErrTooManyPages)
	assert.Equal(t, MaxPages, srv.count("GET "+mrPath+"/notes"))
}

func TestReviewProjectPath(t *testing.T) {
	const p = "/api/v4/projects/octo%2Fchanges/merge_requests/7"
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + p:                static(http.StatusOK, mrJSON(7, headSHA)),
		"GET " + p + "/approvals": static(http.StatusOK, approvalsJSON()),
		"GET " + p + "/versions":  paged(100, versionJSON(1, headSHA, tPush)),
		"GET " + p + "/notes":     paged(100),
	})
	got, err := srv.client(t).Review(context.Background(), "octo/changes", 7, headSHA)
	require.NoError(t, err)
	review, err := got.Review(headSHA)
	require.NoError(t, err)
	assert.Equal(t, []model.Approval{}, review.Approvals)
}

func TestReviewHonoursContext(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{"GET " + mrPath: static(http.StatusOK, mrJSON(7, headSHA))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := srv.client(t).Review(ctx, "42", 7, "")
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, srv.count("GET "+mrPath))
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"gitlab.example.com", "ftp://gitlab.example.com", "https://"} {
		_, err := New(u, testToken, nil)
		assert.Error(t, err, u)
	}
	_, err := New("", testToken, nil)
	assert.NoError(t, err)
}
