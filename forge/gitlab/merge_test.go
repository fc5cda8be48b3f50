// GitLab cannot run here: these tests replay its documented REST API
// shapes from an httptest.Server on loopback (see fake_test.go).

package gitlab

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
	otherSHA  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	mergerID  = 4242
)

// mergedJSON is a merge request after GitLab merged it: state, merge and
// squash commits and who merged it ("null" fields as GitLab sends them).
func mergedJSON(iid int64, state, mergeSHA, squashSHA string, merger int64) string {
	s := mrJSON(iid, headSHA)
	s = strings.Replace(s, `"state": "opened"`, fmt.Sprintf(`"state": %q`, state), 1)
	q := func(v string) string {
		if v == "" {
			return "null"
		}
		return fmt.Sprintf("%q", v)
	}
	s = strings.Replace(s, `"merge_commit_sha": null, "squash_commit_sha": null`, `"merge_commit_sha": `+q(mergeSHA)+`, "squash_commit_sha": `+q(squashSHA), 1)
	user := "null"
	if merger != 0 {
		user = userJSON(merger, login(merger))
	}
	return strings.Replace(s, `"assignees": []`, `"merge_user": `+user+`, "merged_by": `+user+`, "assignees": []`, 1)
}

// summaryJSON is one element of GET .../repository/commits/:sha/merge_requests.
func summaryJSON(iid int64, state string) string {
	return fmt.Sprintf(`{"id":%d,"iid":%d,"project_id":42,"title":"CHG","state":%q,"target_branch":"main","source_branch":"x","web_url":"https://gitlab.example.com/octo/changes/-/merge_requests/%d"}`,
		155016530+iid, iid, state, iid)
}

func TestMergeEvidence(t *testing.T) {
	const commitsPath = "/api/v4/projects/42/repository/commits/" + landedSHA + "/merge_requests"
	review := map[string]http.HandlerFunc{
		"GET " + mrPath + "/approvals": static(http.StatusOK, approvalsJSON(1001, mergerID)),
		"GET " + mrPath + "/versions":  paged(100, versionJSON(120, headSHA, tPush)),
		"GET " + mrPath + "/notes": paged(100,
			noteJSON(1, 1001, true, "approved this merge request", tLate),
			noteJSON(2, mergerID, true, "approved this merge request", tLate)),
	}
	tests := []struct {
		name    string
		listed  []string // merge requests GitLab associates with the commit
		mr      string   // GET merge request 7
		commits []string // GET merge request 7's commits
		hint    int64
		wantErr string // "" for evidence
	}{
		{name: "merge commit", listed: []string{summaryJSON(7, "merged")}, mr: mergedJSON(7, "merged", landedSHA, "", mergerID)},
		{name: "squash commit", listed: []string{summaryJSON(7, "merged")}, mr: mergedJSON(7, "merged", "", landedSHA, mergerID)},
		{name: "fast-forward of the merge request's commits", listed: []string{summaryJSON(7, "merged")}, mr: mergedJSON(7, "merged", "", "", mergerID),
			commits: []string{`{"id":"` + headSHA + `"}`, `{"id":"` + landedSHA + `"}`}},
		{name: "hint of an open merge request", hint: 7, mr: mergedJSON(7, "opened", "", "", 0),
			wantErr: "no merge request on gitlab records merge commit " + landedSHA + " (!7 is not merged (opened))"},
		{name: "hint of a merge request merged as another commit", hint: 7, mr: mergedJSON(7, "merged", otherSHA, "", mergerID),
			wantErr: "(!7 was merged as aaaaaaaaaaaa)"},
		{name: "hint of a merge request squashed as another commit", hint: 7, mr: mergedJSON(7, "merged", "", otherSHA, mergerID),
			wantErr: "(!7 was merged as aaaaaaaaaaaa)"},
		{name: "merged by a direct push, not through the merge request", listed: []string{summaryJSON(7, "merged")}, mr: mergedJSON(7, "merged", "", "", 0),
			wantErr: "(!7 records no merger"},
		{name: "fast-forward that does not contain the commit", hint: 7, mr: mergedJSON(7, "merged", "", "", mergerID),
			commits: []string{`{"id":"` + headSHA + `"}`}, wantErr: "(!7 does not contain 5b1c0e8f2a3d)"},
		{name: "no merge request at all", wantErr: "no merge request on gitlab records merge commit " + landedSHA},
		{name: "hint of a merge request that does not exist", hint: 8, wantErr: "(!8 (named in the message) does not exist)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]http.HandlerFunc{
				"GET " + commitsPath:         paged(100, tt.listed...),
				"GET " + mrPath + "/commits": paged(100, tt.commits...),
			}
			if tt.mr != "" {
				routes["GET "+mrPath] = static(http.StatusOK, tt.mr)
			}
			for k, v := range review {
				routes[k] = v
			}
			srv := newServer(t, routes)
			e, err := srv.client(t).MergeEvidence(context.Background(), "42", landedSHA, tt.hint)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, forge.ErrNoMergeRecord)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, landedSHA, e.MergeCommit)
			assert.Equal(t, headSHA, e.HeadSHA)
			assert.Equal(t, "gitlab:4242", e.Merger)
			r, err := e.Review(landedSHA)
			require.NoError(t, err)
			require.Len(t, r.Approvals, 1, "the merger's approval does not count")
			assert.Equal(t, "gitlab:1001", r.Approvals[0].ID)
			assert.Equal(t, "gitlab:4242", r.Merger)
		})
	}
}
