// GitHub cannot run here: these tests replay its documented REST API
// shapes from an httptest.Server on loopback (see fake_test.go).

package github

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

const (
	pullPath    = "/repos/octo/changes/pulls/12"
	reviewsPath = pullPath + "/reviews"
	commitsPath = pullPath + "/commits"
)

func TestReview(t *testing.T) {
	const (
		t1 = "2026-01-11T10:00:00Z"
		t2 = "2026-01-11T11:00:00Z"
		t3 = "2026-01-11T12:00:00Z"
	)
	defaultCommits := []string{
		commitJSON(oldSHA, authorID, authorID),
		commitJSON(headSHA, authorID, WebFlowUserID),
	}
	approval := func(uid, at string) model.Approval {
		return model.Approval{ID: "github:" + uid, Login: "reviewer" + uid, At: at, Commit: headSHA}
	}
	tests := []struct {
		name        string
		reviews     []string
		commits     []string // defaultCommits when nil
		pageSize    int      // 100 when zero
		want        []model.Approval
		wantPushers []string
	}{
		{
			name:    "approval of the head counts",
			reviews: []string{reviewJSON(1, 1001, "APPROVED", headSHA, t1)},
			want:    []model.Approval{approval("1001", t1)},
		},
		{
			name:    "approval before the last push does not count",
			reviews: []string{reviewJSON(1, 1001, "APPROVED", oldSHA, t1)},
			want:    []model.Approval{},
		},
		{
			name: "approval renewed after the last push counts",
			reviews: []string{
				reviewJSON(1, 1001, "APPROVED", oldSHA, t1),
				reviewJSON(2, 1001, "APPROVED", headSHA, t2),
			},
			want: []model.Approval{approval("1001", t2)},
		},
		{
			name:    "author approving their own pull request is reported",
			reviews: []string{reviewJSON(1, authorID, "APPROVED", headSHA, t1)},
			want:    []model.Approval{{ID: "github:583231", Login: "reviewer583231", At: t1, Commit: headSHA}},
		},
		{
			name: "changes requested after approval withdraw it",
			reviews: []string{
				reviewJSON(1, 1001, "APPROVED", headSHA, t1),
				reviewJSON(2, 1001, "CHANGES_REQUESTED", headSHA, t2),
			},
			want: []model.Approval{},
		},
		{
			name:    "dismissed approval does not count",
			reviews: []string{reviewJSON(1, 1001, "DISMISSED", headSHA, t1)},
			want:    []model.Approval{},
		},
		{
			name: "approval after changes requested counts",
			reviews: []string{
				reviewJSON(1, 1001, "CHANGES_REQUESTED", oldSHA, t1),
				reviewJSON(2, 1001, "APPROVED", headSHA, t2),
			},
			want: []model.Approval{approval("1001", t2)},
		},
		{
			name: "comment after approval keeps it",
			reviews: []string{
				reviewJSON(1, 1001, "APPROVED", headSHA, t1),
				reviewJSON(2, 1001, "COMMENTED", headSHA, t2),
			},
			want: []model.Approval{approval("1001", t1)},
		},
		{
			name: "deleted account and pending review are ignored",
			reviews: []string{
				reviewJSON(1, 0, "APPROVED", headSHA, t1),
				reviewJSON(2, 1002, "PENDING", headSHA, ""),
			},
			want: []model.Approval{},
		},
		{
			name: "reviews and commits across pages",
			reviews: []string{
				reviewJSON(1, 1001, "APPROVED", headSHA, t1),
				reviewJSON(2, 1002, "APPROVED", headSHA, t2),
				reviewJSON(3, 1003, "APPROVED", headSHA, t2),
				reviewJSON(4, 1003, "CHANGES_REQUESTED", headSHA, t3),
				reviewJSON(5, 1002, "COMMENTED", headSHA, t3),
			},
			commits: []string{
				commitJSON(oldSHA, authorID, authorID),
				commitJSON(baseSHA, 2001, 0),
				commitJSON(headSHA, 0, 2002),
			},
			pageSize:    2,
			want:        []model.Approval{approval("1001", t1), approval("1002", t2)},
			wantPushers: []string{"github:2001", "github:2002", "github:583231"},
		},
		{
			name:        "web-flow and unknown accounts are not pushers",
			reviews:     []string{},
			commits:     []string{commitJSON(headSHA, 0, WebFlowUserID), commitJSON(oldSHA, 2001, WebFlowUserID)},
			want:        []model.Approval{},
			wantPushers: []string{"github:2001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			commits := tt.commits
			if commits == nil {
				commits = defaultCommits
			}
			size := tt.pageSize
			if size == 0 {
				size = 100
			}
			srv := newServer(t, map[string]http.HandlerFunc{
				"GET " + pullPath:    static(http.StatusOK, pullJSON(12, headSHA, len(commits), "risk:low", "cab")),
				"GET " + reviewsPath: paged(size, tt.reviews...),
				"GET " + commitsPath: paged(size, commits...),
			})
			got, err := srv.client().Review(context.Background(), "octo", "changes", 12, headSHA)
			require.NoError(t, err)
			assert.Equal(t, "github", got.Forge)
			assert.Equal(t, int64(12), got.Number)
			assert.Equal(t, "https://github.com/octo/changes/pull/12", got.URL)
			assert.Equal(t, "github:583231", got.Author, "author is the stable id, not the login")
			assert.Equal(t, headSHA, got.HeadSHA)
			assert.Equal(t, time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), got.OpenedAt.UTC(), "opened at the documented created_at")
			assert.Equal(t, []string{"cab", "risk:low"}, got.Labels)
			review, err := got.Review(headSHA)
			require.NoError(t, err)
			assert.Equal(t, tt.want, review.Approvals, "approvals counted for the head")
			wantPushers := tt.wantPushers
			if wantPushers == nil {
				wantPushers = []string{"github:583231"}
			}
			assert.Equal(t, wantPushers, got.Pushers)
			if size < 100 {
				assert.Greater(t, srv.count("GET "+reviewsPath), 1, "reviews were not paginated")
			}
		})
	}
}

func TestReviewHeadMoved(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + pullPath: static(http.StatusOK, pullJSON(12, headSHA, 1)),
	})
	_, err := srv.client().Review(context.Background(), "octo", "changes", 12, oldSHA)
	require.ErrorIs(t, err, ErrHeadMoved)
	assert.Contains(t, err.Error(), oldSHA)
	assert.Contains(t, err.Error(), headSHA)
	assert.Zero(t, srv.count("GET "+reviewsPath), "reviews read for a moved head")
}

func TestReviewErrors(t *testing.T) {
	ok := static(http.StatusOK, "[]")
	forbidden := static(http.StatusForbidden, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/pulls/pulls#get-a-pull-request","status":"403"}`)
	tests := []struct {
		name       string
		token      string
		pull       http.HandlerFunc
		reviews    http.HandlerFunc
		wantStatus int
		wantMsg    []string
	}{
		{
			name:       "401 bad token",
			token:      "wrong",
			wantStatus: http.StatusUnauthorized,
			wantMsg:    []string{"Bad credentials", "GITHUB_TOKEN"},
		},
		{
			name:       "403 missing permission",
			pull:       forbidden,
			wantStatus: http.StatusForbidden,
			wantMsg:    []string{"Resource not accessible by integration", "pull-requests: read", "permissions:"},
		},
		{
			name: "403 on reviews",
			pull: static(http.StatusOK, pullJSON(12, headSHA, 0)),
			reviews: func(w http.ResponseWriter, r *http.Request) {
				forbidden(w, r)
			},
			wantStatus: http.StatusForbidden,
			wantMsg:    []string{"reading reviews of octo/changes#12", "pull-requests: read"},
		},
		{
			name: "403 rate limit",
			pull: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-Reset", "1767225600")
				writeJSON(w, http.StatusForbidden, `{"message":"API rate limit exceeded for installation ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`)
			},
			wantStatus: http.StatusForbidden,
			wantMsg:    []string{"rate limit exhausted until 2026-01-01T00:00:00Z"},
		},
		{
			name: "403 secondary rate limit",
			pull: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "30")
				writeJSON(w, http.StatusForbidden, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`)
			},
			wantStatus: http.StatusForbidden,
			wantMsg:    []string{"secondary rate limit: retry after 30 seconds"},
		},
		{
			name:       "404 unknown or invisible",
			pull:       static(http.StatusNotFound, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/pulls/pulls#get-a-pull-request","status":"404"}`),
			wantStatus: http.StatusNotFound,
			wantMsg:    []string{"Not Found", "contents: read", "pull-requests: read", "reading pull request octo/changes#12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]http.HandlerFunc{"GET " + commitsPath: ok}
			if tt.pull != nil {
				routes["GET "+pullPath] = tt.pull
			}
			if tt.reviews != nil {
				routes["GET "+reviewsPath] = tt.reviews
			}
			srv := newServer(t, routes)
			c := srv.client()
			if tt.token != "" {
				c.Token = tt.token
			}
			_, err := c.Review(context.Background(), "octo", "changes", 12, "")
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}
			assert.NotContains(t, err.Error(), testToken, "token leaked into the error")
		})
	}
}

func TestReviewIncomplete(t *testing.T) {
	many := make([]string, 0, 120)
	for range 120 {
		many = append(many, reviewJSON(1, 1001, "COMMENTED", headSHA, "2026-01-11T10:00:00Z"))
	}
	tests := []struct {
		name    string
		routes  map[string]http.HandlerFunc
		wantErr error
		wantMsg string
	}{
		{
			name: "more commits than GitHub lists",
			routes: map[string]http.HandlerFunc{
				"GET " + pullPath:    static(http.StatusOK, pullJSON(12, headSHA, 300)),
				"GET " + reviewsPath: paged(100),
				"GET " + commitsPath: paged(100, commitJSON(headSHA, authorID, authorID)),
			},
			wantMsg: "has 300 commits, GitHub listed 1",
		},
		{
			name: "more pages than MaxPages",
			routes: map[string]http.HandlerFunc{
				"GET " + pullPath:    static(http.StatusOK, pullJSON(12, headSHA, 0)),
				"GET " + reviewsPath: paged(2, many...),
			},
			wantErr: ErrTooManyPages,
		},
		{
			name: "next page on another host",
			routes: map[string]http.HandlerFunc{
				"GET " + pullPath: static(http.StatusOK, pullJSON(12, headSHA, 0)),
				"GET " + reviewsPath: func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Link", `<http://203.0.113.1/repos/octo/changes/pulls/12/reviews?page=2>; rel="next"`)
					writeJSON(w, http.StatusOK, "[]")
				},
			},
			wantMsg: "is not on",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.routes)
			_, err := srv.client().Review(context.Background(), "octo", "changes", 12, "")
			require.Error(t, err)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			if tt.wantMsg != "" {
				assert.Contains(t, err.Error(), tt.wantMsg)
			}
			assert.LessOrEqual(t, srv.count("GET "+reviewsPath), MaxPages, "pagination not bounded")
		})
	}
}

func TestReviewHonoursContext(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + pullPath: static(http.StatusOK, pullJSON(12, headSHA, 0)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := srv.client().Review(ctx, "octo", "changes", 12, "")
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, srv.count("GET "+pullPath))
}

func TestReviewRejectsBadArguments(t *testing.T) {
	c := New("http://127.0.0.1:1", testToken, nil)
	for _, tt := range []struct {
		owner, repo string
		number      int
	}{{"", "changes", 1}, {"octo", "", 1}, {"octo", "changes", 0}} {
		_, err := c.Review(context.Background(), tt.owner, tt.repo, tt.number, "")
		require.Error(t, err, "%+v", tt)
		var apiErr *APIError
		assert.False(t, errors.As(err, &apiErr), "request sent for %+v: %v", tt, err)
		assert.NotContains(t, err.Error(), "127.0.0.1", "request sent for %+v", tt)
	}
}
