package gitlab

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventFromEnv(t *testing.T) {
	const mergedSHA = "0123456789abcdef0123456789abcdef01234567"
	mrVars := func(extra ...string) map[string]string {
		m := map[string]string{
			"CI_PIPELINE_SOURCE":                  "merge_request_event",
			"CI_MERGE_REQUEST_IID":                "7",
			"CI_MERGE_REQUEST_PROJECT_ID":         "42",
			"CI_PROJECT_ID":                       "99",
			"CI_COMMIT_SHA":                       headSHA,
			"CI_MERGE_REQUEST_DIFF_BASE_SHA":      baseSHA,
			"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
			"CI_SERVER_URL":                       "https://gitlab.example.com",
			"CI_API_V4_URL":                       "https://gitlab.example.com/api/v4",
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	want := func(edit func(*Event)) *Event {
		e := &Event{Project: "42", IID: 7, HeadSHA: headSHA, BaseSHA: baseSHA, TargetBranch: "main", BaseURL: "https://gitlab.example.com/api/v4"}
		if edit != nil {
			edit(e)
		}
		return e
	}
	tests := []struct {
		name    string
		vars    map[string]string
		want    *Event
		wantErr error
		wantMsg string
	}{
		{name: "merge request pipeline", vars: mrVars(), want: want(nil)},
		{
			name: "merged results pipeline checks the source branch head, not the merge commit",
			vars: mrVars("CI_COMMIT_SHA", mergedSHA, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", headSHA),
			want: want(nil),
		},
		{
			name: "project id and server URL fall back",
			vars: mrVars("CI_MERGE_REQUEST_PROJECT_ID", "", "CI_API_V4_URL", ""),
			want: want(func(e *Event) { e.Project = "99"; e.BaseURL = "https://gitlab.example.com" }),
		},
		{name: "branch pipeline", vars: mrVars("CI_MERGE_REQUEST_IID", "", "CI_PIPELINE_SOURCE", "push"), wantErr: ErrNotMergeRequest, wantMsg: "merge_request_event"},
		{name: "bad iid", vars: mrVars("CI_MERGE_REQUEST_IID", "seven"), wantMsg: "want a positive number"},
		{name: "no base", vars: mrVars("CI_MERGE_REQUEST_DIFF_BASE_SHA", ""), wantMsg: "CI_MERGE_REQUEST_DIFF_BASE_SHA"},
		{name: "no head", vars: mrVars("CI_COMMIT_SHA", ""), wantMsg: "is not a commit SHA"},
		{name: "no target branch", vars: mrVars("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", ""), wantMsg: "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"},
		{name: "no server", vars: mrVars("CI_API_V4_URL", "", "CI_SERVER_URL", ""), wantMsg: "CI_SERVER_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EventFromEnv(func(k string) string { return tt.vars[k] })
			if tt.want != nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func ExampleEventFromEnv() {
	vars := map[string]string{
		"CI_MERGE_REQUEST_IID":                "7",
		"CI_MERGE_REQUEST_PROJECT_ID":         "42",
		"CI_COMMIT_SHA":                       headSHA,
		"CI_MERGE_REQUEST_DIFF_BASE_SHA":      baseSHA,
		"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
		"CI_API_V4_URL":                       "https://gitlab.example.com/api/v4",
	}
	ev, err := EventFromEnv(func(k string) string { return vars[k] }) // os.Getenv in a real job
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Project, ev.IID, ev.HeadSHA[:8], ev.TargetBranch)
	// Output: 42 7 33e2ee85 main
}
