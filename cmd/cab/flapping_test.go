package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/policy"
)

// signedRepo makes a change repository in a fresh directory (the working
// directory from then on) whose staging environment has one http target
// at url, merges a ticket CHG-2026-0001 that calls it (approved by Alice
// and Bob) and signs it with cab sign onto the local ledger.
func signedRepo(t *testing.T, url string) {
	t.Helper()
	for _, tool := range []string{"git", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("needs " + tool)
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for k, v := range map[string]string{
		"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
		"GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
		"GIT_CONFIG_NOSYSTEM": "1", "HOME": dir,
	} {
		t.Setenv(k, v)
	}
	git := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	cab := func(args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		require.Equal(t, exitOK, Main(t.Context(), args, &bytes.Buffer{}, &stderr), "cab %v: %s", args, &stderr)
	}

	cab("keygen", "--out", "cab", "--force-in-repo")
	pub, err := os.ReadFile("cab.pub")
	require.NoError(t, err)
	// The maintainer signs merge commits (SSH); cab.cue lists the key, so
	// the merge's Approved-by trailers count.
	mergeKey := filepath.Join(dir, "maintainer")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintainer", "-f", mergeKey).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	mergePub, err := os.ReadFile(mergeKey + ".pub")
	require.NoError(t, err)
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
		require.NoError(t, os.WriteFile(name, []byte(content), 0o644))
	}
	write("cab.cue", fmt.Sprintf(`apiVersion: "cab.dev/v1"
environments: staging: targets: hook: {type: "http", url: %q}
approvers: payments: members: ["git:alice@example.com", "git:bob@example.com"]
services: payments: approvers: "payments"
keys: [{name: "ci", roles: ["sign", "reconcile"], publicKey: """
	%s
	"""}]
mergeSigners: [{identity: "git:maintainer@example.com", publicKey: %q}]
`, url, strings.ReplaceAll(strings.TrimSpace(string(pub)), "\n", "\n\t"), strings.TrimSpace(string(mergePub))))
	for _, p := range policy.Defaults() {
		write(p.Name, string(p.Source))
	}
	git(nil, "init", "-q", "-b", "main")
	git(nil, "add", "-A")
	git(nil, "commit", "-q", "-m", "base")

	now := time.Now().UTC().Truncate(time.Second)
	git(nil, "checkout", "-q", "-b", "pr")
	write("changes/payments/CHG-2026-0001.cue", fmt.Sprintf(`apiVersion: "cab.dev/v1"
id:         "CHG-2026-0001"
title:      "Turn the new checkout on"
kind:       "normal"
risk:       "high"
owner:      "team-payments"
service:    "payments"
environments: ["staging"]
window: {start: %q, end: %q}
actions: [{type: "http", target: "hook", path: "/flags/checkout", body: {on: true}}]
`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(3*time.Hour).Format(time.RFC3339)))
	git(nil, "add", "changes")
	git(nil, "commit", "-q", "-m", "add CHG-2026-0001")
	git(nil, "checkout", "-q", "main")
	git([]string{"GIT_COMMITTER_NAME=Maintainer", "GIT_COMMITTER_EMAIL=maintainer@example.com"},
		"-c", "gpg.format=ssh", "-c", "user.signingkey="+mergeKey, "merge", "-q", "--no-ff", "-S", "pr", "-m", "Merge pr", "-m", "Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")
	cab("sign", "--key", "file://cab.key", "--forge", "git", "--remote", "")
}

// events reads the local ledger of the repository in the working
// directory: each ticket's events as "env:kind" ("kind" ticket-wide).
func localEvents(t *testing.T) map[string][]string {
	t.Helper()
	repo, err := gogit.PlainOpen(".")
	require.NoError(t, err)
	log, err := ledger.Open(repo, "", "").Read(context.Background())
	require.NoError(t, err)
	out := map[string][]string{}
	for _, ev := range log.Events() {
		k := ev.Kind
		if ev.Env != "" {
			k = ev.Env + ":" + k
		}
		out[ev.Ticket] = append(out[ev.Ticket], k)
	}
	return out
}

// A webhook target that answers every call with a new error body (a 401
// with a request id), under cab serve with a 10ms interval for many
// passes: every pass ends, the target is tried each pass, and the ledger
// holds one wait for it — not one per wording.
func TestServeFlappingTargetLedgerStaysBounded(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		http.Error(w, fmt.Sprintf("unauthorized: request id %d-%x", n, time.Now().UnixNano()), http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	signedRepo(t, srv.URL)

	d := startServe(t, "--interval", "10ms", "--remote", "", "--retries", "0", "--key", "file://cab.key")
	const passes = 30
	var metrics string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		_, metrics = httpDo(t, "GET", d.url+"/metrics", nil, nil)
		if n := metricValue(metrics, "cab_reconcile_passes_total"); n >= passes {
			break
		}
		require.True(t, time.Now().Before(deadline), "fewer than %d passes ended in two minutes (a pass that never ends?):\n%s\n%s", passes, metrics, d.stderr)
	}
	assert.Equal(t, exitOK, d.stop())
	assert.GreaterOrEqual(t, int(calls.Load()), passes, "the target is tried again every pass")
	assert.Equal(t, []string{"signed", "staging:scheduled"}, localEvents(t)["CHG-2026-0001"],
		"one wait on the ledger for %d calls with as many error bodies", calls.Load())
	assert.Zero(t, metricValue(metrics, "cab_reconcile_errors_total"), "a held change is not a failed pass")
}

// metricValue returns the value of an unlabelled metric in a Prometheus
// text exposition (-1 when absent).
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		var v float64
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}
