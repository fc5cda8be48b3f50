package github

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env returns getenv and readFile over fixed maps.
func env(vars map[string]string, files map[string]string) (func(string) string, func(string) ([]byte, error)) {
	return func(k string) string { return vars[k] }, func(p string) ([]byte, error) {
		b, ok := files[p]
		if !ok {
			return nil, fmt.Errorf("open %s: %w", p, fs.ErrNotExist)
		}
		return []byte(b), nil
	}
}

// prPayload is the documented pull_request event payload, trimmed.
var prPayload = fmt.Sprintf(`{"action":"synchronize","number":12,"pull_request":{"number":12,"head":{"ref":"new-topic","sha":%q},"base":{"ref":"main","sha":%q}},"repository":{"full_name":"octo/changes"}}`, headSHA, baseSHA)

func TestEventFromEnv(t *testing.T) {
	const mergeSHA = "0123456789abcdef0123456789abcdef01234567"
	mgPayload := fmt.Sprintf(`{"action":"checks_requested","merge_group":{"head_sha":%q,"head_ref":"refs/heads/gh-readonly-queue/main/pr-12-%s","base_sha":%q,"base_ref":"refs/heads/main"}}`, mergeSHA, baseSHA, baseSHA)
	vars := func(name string) map[string]string {
		return map[string]string{
			"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": "/ev.json",
			"GITHUB_REPOSITORY": "octo/changes", "GITHUB_SHA": mergeSHA,
		}
	}
	prEvent := func(name string) *Event {
		return &Event{Name: name, Owner: "octo", Repo: "changes", Number: 12, HeadSHA: headSHA, BaseSHA: baseSHA, BaseRef: "main"}
	}
	tests := []struct {
		name    string
		vars    map[string]string
		payload string
		want    *Event
		wantErr error
		wantMsg string
	}{
		{name: "pull_request uses the head, not GITHUB_SHA", vars: vars("pull_request"), payload: prPayload, want: prEvent("pull_request")},
		{name: "pull_request_target", vars: vars("pull_request_target"), payload: prPayload, want: prEvent("pull_request_target")},
		{name: "pull_request_review", vars: vars("pull_request_review"), payload: prPayload, want: prEvent("pull_request_review")},
		{
			name: "merge_group has no number", vars: vars("merge_group"), payload: mgPayload,
			want: &Event{Name: "merge_group", Owner: "octo", Repo: "changes", HeadSHA: mergeSHA, BaseSHA: baseSHA, BaseRef: "main"},
		},
		{name: "push is unsupported", vars: vars("push"), payload: `{}`, wantErr: ErrUnsupportedEvent, wantMsg: "pull_request"},
		{name: "outside Actions", vars: map[string]string{}, wantMsg: "GITHUB_EVENT_NAME is not set"},
		{name: "bad repository", vars: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "octo", "GITHUB_EVENT_PATH": "/ev.json"}, payload: prPayload, wantMsg: "want owner/repository"},
		{name: "no payload path", vars: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "octo/changes"}, wantMsg: "GITHUB_EVENT_PATH is not set"},
		{name: "payload without pull_request", vars: vars("pull_request"), payload: mgPayload, wantMsg: "has no pull_request"},
		{name: "payload with a bad head", vars: vars("pull_request"), payload: `{"pull_request":{"number":12,"head":{"sha":"HEAD"},"base":{"ref":"main","sha":"` + baseSHA + `"}}}`, wantMsg: "head SHA"},
		{name: "payload is not JSON", vars: vars("pull_request"), payload: `{`, wantMsg: "parsing event payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			if tt.payload != "" {
				files["/ev.json"] = tt.payload
			}
			getenv, readFile := env(tt.vars, files)
			got, err := EventFromEnv(getenv, readFile)
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

func TestEventFromEnvMissingFile(t *testing.T) {
	getenv, readFile := env(map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "octo/changes", "GITHUB_EVENT_PATH": "/missing.json"}, nil)
	_, err := EventFromEnv(getenv, readFile)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "got %v", err)
}

func ExampleEventFromEnv() {
	getenv, readFile := env(map[string]string{
		"GITHUB_EVENT_NAME": "pull_request",
		"GITHUB_EVENT_PATH": "/home/runner/work/_temp/_github_workflow/event.json",
		"GITHUB_REPOSITORY": "octo/changes",
	}, map[string]string{
		"/home/runner/work/_temp/_github_workflow/event.json": prPayload,
	})
	ev, err := EventFromEnv(getenv, readFile) // os.Getenv, os.ReadFile in a real run
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Owner, ev.Repo, ev.Number, ev.HeadSHA[:7], ev.BaseRef)
	// Output: octo changes 12 6dcb09b main
}
