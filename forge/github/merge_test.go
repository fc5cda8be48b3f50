// GitHub cannot run here: these tests replay its documented REST API
// shapes from an httptest.Server on loopback (see fake_test.go).

package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/forge"
)

const (
	landedSHA = "5b1c0e8f2a3d4c6b7a8e9f0d1c2b3a4e5f6d7c8b"
	lastSHA   = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	mergerID  = 4242
)

// mergedPullJSON is a pull request as GitHub reports it after a merge.
func mergedPullJSON(number int, merged bool, mergeSHA string, commits int, merger int64) string {
	s := pullJSON(number, headSHA, commits)
	by := "null"
	if merger != 0 {
		by = userJSON(merger, "merger", "User")
	}
	sha := "null"
	if mergeSHA != "" {
		sha = fmt.Sprintf("%q", mergeSHA)
	}
	at := "null"
	if merged {
		at = `"2026-01-12T10:00:00Z"`
		s = strings.Replace(s, `"state": "open"`, `"state": "closed"`, 1)
	}
	return strings.Replace(s, `"merged": false`, fmt.Sprintf(`"merged": %t, "merged_at": %s, "merge_commit_sha": %s, "merged_by": %s`, merged, at, sha, by), 1)
}

func TestMergeEvidence(t *testing.T) {
	const listPath = "/repos/octo/changes/commits/" + landedSHA + "/pulls"
	reviews := paged(100,
		reviewJSON(1, 1001, "APPROVED", headSHA, "2026-01-11T10:00:00Z"),
		reviewJSON(2, mergerID, "APPROVED", headSHA, "2026-01-11T10:05:00Z"))
	chain := func(_ context.Context, tip string, n int) ([]string, error) {
		require.Equal(t, lastSHA, tip)
		return []string{lastSHA, landedSHA, baseSHA}[:n], nil
	}
	tests := []struct {
		name    string
		listed  []string
		pull    string
		hint    int64
		chain   forge.FirstParents
		wantErr string
	}{
		{name: "merge commit", listed: []string{mergedPullJSON(12, true, landedSHA, 2, mergerID)}, pull: mergedPullJSON(12, true, landedSHA, 2, mergerID)},
		{name: "squash or merge-queue commit found by the hint alone", hint: 12, pull: mergedPullJSON(12, true, landedSHA, 2, mergerID)},
		{name: "a commit of a rebase merge", listed: []string{mergedPullJSON(12, true, lastSHA, 2, mergerID)}, pull: mergedPullJSON(12, true, lastSHA, 2, mergerID), chain: chain},
		{name: "below a rebase merge, past its commits", hint: 12, pull: mergedPullJSON(12, true, lastSHA, 1, mergerID), chain: chain,
			wantErr: "(#12 was merged as c0ffee00c0ff)"},
		{name: "rebase merges refused without a chain", hint: 12, pull: mergedPullJSON(12, true, lastSHA, 2, mergerID),
			wantErr: "(#12 was merged as c0ffee00c0ff)"},
		{name: "hint of an open pull request", hint: 12, pull: mergedPullJSON(12, false, "", 2, 0),
			wantErr: "no pull request on github records merge commit " + landedSHA + " (#12 is not merged (open))"},
		{name: "hint of a pull request merged as another commit", hint: 12, pull: mergedPullJSON(12, true, lastSHA, 1, mergerID),
			wantErr: "(#12 was merged as c0ffee00c0ff)"},
		{name: "merged without a merger", hint: 12, pull: mergedPullJSON(12, true, landedSHA, 1, 0),
			wantErr: "records no merger"},
		{name: "no pull request at all", wantErr: "no pull request on github records merge commit " + landedSHA},
		{name: "hint of a pull request that does not exist", hint: 13, wantErr: "(#13 (named in the message) does not exist)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]http.HandlerFunc{
				"GET " + listPath:    paged(100, tt.listed...),
				"GET " + reviewsPath: reviews,
				"GET " + commitsPath: paged(100, commitJSON(oldSHA, authorID, authorID), commitJSON(headSHA, authorID, authorID)),
			}
			if tt.pull != "" {
				routes["GET "+pullPath] = static(http.StatusOK, tt.pull)
			}
			srv := newServer(t, routes)
			e, err := srv.client().MergeEvidence(context.Background(), "octo", "changes", landedSHA, tt.hint, tt.chain)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, forge.ErrNoMergeRecord)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, landedSHA, e.MergeCommit)
			assert.Equal(t, headSHA, e.HeadSHA)
			assert.Equal(t, "github:4242", e.Merger)
			r, err := e.Review(landedSHA)
			require.NoError(t, err)
			require.Len(t, r.Approvals, 1, "the merger's approval does not count")
			assert.Equal(t, "github:1001", r.Approvals[0].ID)
			_, err = e.Review(headSHA)
			require.NoError(t, err, "the evidence also describes the final head")
			_, err = e.Review(oldSHA)
			require.ErrorIs(t, err, forge.ErrNotBound)
		})
	}
}

// A merge group names its pull request only in GITHUB_REF; the queue
// commit (the event's head) is what lands.
func TestEventEvidenceMergeGroup(t *testing.T) {
	const queue = "1111111111111111111111111111111111111111"
	srv := newServer(t, map[string]http.HandlerFunc{
		"GET " + pullPath:    static(http.StatusOK, pullJSON(12, headSHA, 1)),
		"GET " + reviewsPath: paged(100, reviewJSON(1, 1001, "APPROVED", headSHA, "2026-01-11T10:00:00Z")),
		"GET " + commitsPath: paged(100, commitJSON(headSHA, authorID, authorID)),
	})
	ev := &Event{Name: EventMergeGroup, Owner: "octo", Repo: "changes", HeadSHA: queue, BaseSHA: baseSHA, BaseRef: "main"}
	e, err := srv.client().EventEvidence(context.Background(), ev, "refs/heads/gh-readonly-queue/main/pr-12-"+baseSHA)
	require.NoError(t, err)
	r, err := e.Review(queue)
	require.NoError(t, err)
	assert.Len(t, r.Approvals, 1)
	assert.Equal(t, int64(12), r.Number)

	_, err = srv.client().EventEvidence(context.Background(), ev, "refs/heads/main")
	assert.ErrorContains(t, err, "without a pull request")
}
