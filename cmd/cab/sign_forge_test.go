package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/policy"
)

// GitHub cannot run here: `cab sign --forge github` runs against a real
// git repository and an httptest server that replays the documented REST
// shapes (commits/{sha}/pulls, pulls/{n} with merged, merge_commit_sha and
// merged_by, pulls/{n}/reviews with commit_id, pulls/{n}/commits).

// ghPull is a pull request as the fake GitHub knows it.
type ghPull struct {
	number      int
	head        string
	merged      bool
	mergeCommit string
	mergedBy    int
	// approvers approve reviewed (head when empty).
	approvers []int
	reviewed  string
}

type fakeGitHubMerges struct {
	mu    sync.Mutex
	pulls map[int]*ghPull
	calls []string
}

func (f *fakeGitHubMerges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer test-token" {
		http.Error(w, `{"message": "Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	user := func(id int) map[string]any {
		return map[string]any{"id": id, "login": fmt.Sprint("user", id), "type": "User"}
	}
	pullJSON := func(p *ghPull) map[string]any {
		m := map[string]any{"number": p.number, "html_url": fmt.Sprintf("https://github.com/acme/changes/pull/%d", p.number),
			"state": "open", "user": user(7), "head": map[string]any{"sha": p.head}, "labels": []any{}, "commits": 1,
			"merged": p.merged, "merged_at": nil, "merge_commit_sha": p.mergeCommit, "merged_by": nil}
		if p.merged {
			m["state"], m["merged_at"], m["merged_by"] = "closed", "2026-11-23T11:00:00Z", user(p.mergedBy)
		}
		return m
	}
	path := strings.TrimPrefix(r.URL.Path, "/repos/acme/changes/")
	var body any
	switch parts := strings.Split(path, "/"); {
	case len(parts) == 3 && parts[0] == "commits" && parts[2] == "pulls":
		// GitHub associates a merged pull request with the commit it
		// landed, and an open one with the commits of its branch.
		list := []any{}
		for _, p := range f.pulls {
			if (p.merged && p.mergeCommit == parts[1]) || (!p.merged && p.head == parts[1]) {
				list = append(list, pullJSON(p))
			}
		}
		body = list
	case len(parts) >= 2 && parts[0] == "pulls":
		var n int
		_, _ = fmt.Sscan(parts[1], &n)
		p, ok := f.pulls[n]
		if !ok {
			http.Error(w, `{"message": "Not Found"}`, http.StatusNotFound)
			return
		}
		switch {
		case len(parts) == 2:
			body = pullJSON(p)
		case parts[2] == "reviews":
			reviewed := p.reviewed
			if reviewed == "" {
				reviewed = p.head
			}
			list := []any{}
			for i, a := range p.approvers {
				list = append(list, map[string]any{"id": i + 1, "user": user(a), "state": "APPROVED", "commit_id": reviewed, "submitted_at": "2026-11-23T10:00:00Z"})
			}
			body = list
		case parts[2] == "commits":
			body = []any{map[string]any{"sha": p.head, "author": user(7), "committer": user(7)}}
		}
	default:
		http.Error(w, `{"message": "Not Found"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// changeRepo is a real repository with cab.cue (approvers github:1..3,
// the signing key) and the default policies on main.
type changeRepo struct {
	t   *testing.T
	dir string
	n   int
}

func newChangeRepo(t *testing.T) *changeRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	r := &changeRepo{t: t, dir: t.TempDir()}
	var out, errb bytes.Buffer
	require.Equal(t, 0, Main(context.Background(), []string{"keygen", "--out", filepath.Join(r.dir, "cab")}, &out, &errb), errb.String())
	pub, err := os.ReadFile(filepath.Join(r.dir, "cab.pub"))
	require.NoError(t, err)
	cfg := `apiVersion: "cab.dev/v1"
environments: staging: targets: images: {type: "oci", registry: "registry.staging.example.com"}
approvers: payments: members: ["github:1", "github:2", "github:3"]
services: payments: approvers: "payments"
keys: [{name: "ci", publicKey: """
` + "\t" + strings.ReplaceAll(strings.TrimSpace(string(pub)), "\n", "\n\t") + `
	"""}]
`
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "cab.cue"), []byte(cfg), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "policy"), 0o755))
	for _, p := range policy.Defaults() {
		require.NoError(t, os.WriteFile(filepath.Join(r.dir, p.Name), p.Source, 0o644))
	}
	r.git("init", "-q", "-b", "main")
	r.git("add", "cab.cue", "policy")
	r.git("commit", "-q", "-m", "base")
	return r
}

func (r *changeRepo) git(args ...string) string { return gitCmd(r.t, r.dir, args...) }

// ticket writes a new high-risk ticket (2 approvals needed) and returns its id.
func (r *changeRepo) ticket() string {
	r.n++
	id := fmt.Sprintf("CHG-2026-%04d", r.n)
	src := fmt.Sprintf(`apiVersion: "cab.dev/v1"
id: %q
title: "Promote payments 1.4.%d"
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["staging"]
window: {start: "2099-12-%02dT22:00:00Z", end: "2099-12-%02dT23:00:00Z"}
actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:%s", tag: "p%d"}]
`, id, r.n, r.n, r.n, strings.Repeat(fmt.Sprintf("%02x", r.n), 32), r.n)
	require.NoError(r.t, os.MkdirAll(filepath.Join(r.dir, "changes/payments"), 0o755))
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, "changes/payments", id+".cue"), []byte(src), 0o644))
	return id
}

// pr commits a new ticket on a branch and merges it into main with msg;
// it returns the ticket, the branch head and the merge commit.
func (r *changeRepo) pr(msg string) (id, head, merge string) {
	branch := fmt.Sprint("pr", r.n+1)
	r.git("checkout", "-q", "-b", branch, "main")
	id = r.ticket()
	r.git("add", "changes")
	r.git("commit", "-q", "-m", "add "+id)
	head = r.git("rev-parse", "HEAD")
	r.git("checkout", "-q", "main")
	r.git("merge", "-q", "--no-ff", branch, "-m", msg)
	return id, head, r.git("rev-parse", "HEAD")
}

// push commits a new ticket straight onto main with msg.
func (r *changeRepo) push(msg string) (id, commit string) {
	id = r.ticket()
	r.git("add", "changes")
	r.git("commit", "-q", "-m", msg)
	return id, r.git("rev-parse", "HEAD")
}

// sign runs cab sign and returns the outcome of each ticket by id.
func (r *changeRepo) sign(args ...string) (map[string]map[string]any, string) {
	r.t.Helper()
	r.t.Chdir(r.dir)
	var stdout, stderr bytes.Buffer
	Main(context.Background(), append([]string{"sign", "--key", "file://cab.key", "--remote", "", "--format", "json"}, args...), &stdout, &stderr)
	var doc struct {
		Outcomes []map[string]any `json:"outcomes"`
	}
	require.NoError(r.t, json.Unmarshal(stdout.Bytes(), &doc), "stdout %s\nstderr %s", stdout.String(), stderr.String())
	out := map[string]map[string]any{}
	for _, o := range doc.Outcomes {
		out[o["ticket"].(string)] = o
	}
	return out, stderr.String()
}

// Each attack on `cab sign --forge github` is a commit on main whose
// message or forge record claims approvals it does not have.
func TestSignWithGitHubBindsEvidenceToTheMerge(t *testing.T) {
	r := newChangeRepo(t)
	fake := &fakeGitHubMerges{pulls: map[int]*ghPull{}}
	type want struct {
		kind   string
		reason string
	}
	wants := map[string]want{}

	// A pull request merged with two approvals of its head: signed.
	id, head, merge := r.pr("Merge pull request #1 from acme/pr1")
	fake.pulls[1] = &ghPull{number: 1, head: head, merged: true, mergeCommit: merge, mergedBy: 9, approvers: []int{1, 2}}
	wants[id] = want{kind: "signed"}

	// A direct push naming that pull request in GitHub's merge message.
	id, c := r.push("Merge pull request #1 from acme/pr1")
	wants[id] = want{"unsigned", "no pull request on github records merge commit " + c + " (#1 was merged as " + merge[:12] + ")"}

	// A direct push in squash style, naming an open pull request.
	fake.pulls[2] = &ghPull{number: 2, head: strings.Repeat("2", 40), approvers: []int{1, 2}}
	id, c = r.push("Promote payments (#2)")
	wants[id] = want{"unsigned", "no pull request on github records merge commit " + c + " (#2 is not merged (open))"}

	// A direct push naming a pull request merged as another commit.
	fake.pulls[3] = &ghPull{number: 3, head: strings.Repeat("3", 40), merged: true, mergeCommit: strings.Repeat("4", 40), mergedBy: 9, approvers: []int{1, 2}}
	id, c = r.push("Merge pull request #3 from acme/pr3")
	wants[id] = want{"unsigned", "(#3 was merged as 444444444444)"}

	// A direct push with no pull request at all.
	id, c = r.push("hotfix")
	wants[id] = want{"unsigned", "no pull request on github records merge commit " + c}

	// Approvals of an earlier head do not count.
	id, head, merge = r.pr("Merge pull request #5 from acme/pr5")
	fake.pulls[5] = &ghPull{number: 5, head: head, merged: true, mergeCommit: merge, mergedBy: 9, approvers: []int{1, 2}, reviewed: strings.Repeat("5", 40)}
	wants[id] = want{"unsigned", "has 0"}

	// The merger's approval does not count.
	id, head, merge = r.pr("Merge pull request #6 from acme/pr6")
	fake.pulls[6] = &ghPull{number: 6, head: head, merged: true, mergeCommit: merge, mergedBy: 2, approvers: []int{1, 2}}
	wants[id] = want{"unsigned", "has 1"}

	// A merge queue lands the queue commit GitHub built: it is the pull
	// request's merge_commit_sha, whatever its message says.
	id, head, merge = r.pr("Merge group: promote payments")
	fake.pulls[7] = &ghPull{number: 7, head: head, merged: true, mergeCommit: merge, mergedBy: 3, approvers: []int{1, 2}}
	wants[id] = want{kind: "signed"}

	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv("GITHUB_REPOSITORY", "acme/changes")
	t.Setenv("GITHUB_API_URL", srv.URL)
	t.Setenv("GITHUB_TOKEN", "test-token")
	got, stderr := r.sign("--forge", "github")
	require.Len(t, got, len(wants), stderr)
	for id, w := range wants {
		assert.Equal(t, w.kind, got[id]["kind"], "%s: %v", id, got[id]["reason"])
		if w.reason != "" {
			assert.Contains(t, got[id]["reason"], w.reason, id)
		}
	}
}
