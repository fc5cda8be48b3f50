package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/reconcile"
)

// slaConfig is a cab.cue whose high-risk changes may wait 4h for two of
// "pay", then "sre" is told 2h later, through a webhook sink.
const slaConfig = `apiVersion: "cab.dev/v1"
promotion: ["prod"]
environments: prod: targets: images: {type: "oci", registry: "registry.example.com"}
approvers: {
	pay: members: ["github:1", "github:2", "github:3"]
	sre: members: ["github:20"]
}
services: payments: approvers: "pay"
approvalSLA: {risk: high: "4h", backup: "sre", escalateAfter: "2h"}
notify: {
	sinks: hook: {type: "webhook", url: %q, secretEnv: "CAB_TEST_HOOK_SECRET"}
	routes: [{sinks: ["hook"]}]
}
`

const slaTicket = `apiVersion: "cab.dev/v1"
id: "CHG-2026-0042"
title: "Promote payments 1.4.2"
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["prod"]
window: {start: "2027-01-10T22:00:00Z", end: "2027-01-10T23:00:00Z"}
actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:` + "abababababababababababababababababababababababababababababababab" + `", tag: "payments"}]
prechecks: [{type: "http", url: "https://payments.example.com/healthz"}]
postchecks: [{type: "prometheus", query: "errors", op: "<", threshold: 1}]
rollback: {auto: true}
`

// sinkEvents is a webhook sink on loopback.
type sinkEvents struct {
	mu  sync.Mutex
	evs []notify.Event
}

func (s *sinkEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev notify.Event
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &ev) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.evs = append(s.evs, ev)
	s.mu.Unlock()
}

func (s *sinkEvents) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.evs {
		out = append(out, ev.ID)
	}
	return out
}

// cab serve --sla-interval end to end: the pull request's head comes from
// refs/pull/7/head on a real git server, its evidence from the GitHub API
// (replayed), the verdict from the gate; the approver group is told once,
// the backup group once when the breach has lasted (the fake's created_at
// moved back: time passing), and never twice for a level over many polls.
func TestServeSLAPollEscalatesOncePerLevel(t *testing.T) {
	sink := &sinkEvents{}
	hook := httptest.NewServer(sink)
	defer hook.Close()

	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "changes")
	work := t.TempDir()
	git := func(args ...string) string { return gitCmd(t, work, args...) }
	git("init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(work, "cab.cue"), []byte(fmt.Sprintf(slaConfig, hook.URL)), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(work, "policy"), 0o755))
	for _, p := range policy.Defaults() {
		require.NoError(t, os.WriteFile(filepath.Join(work, "policy", filepath.Base(p.Name)), p.Source, 0o644))
	}
	git("add", ".")
	git("commit", "-qm", "cab.cue")
	git("push", "-q", url, "main")
	git("checkout", "-qb", "topic")
	require.NoError(t, os.MkdirAll(filepath.Join(work, "changes", "payments"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, "changes", "payments", "CHG-2026-0042.cue"), []byte(slaTicket), 0o644))
	git("add", ".")
	git("commit", "-qm", "CHG-2026-0042")
	head := git("rev-parse", "HEAD")
	git("push", "-q", url, "HEAD:refs/pull/7/head") // where GitHub keeps a pull request's head
	checkout := t.TempDir()
	gitCmd(t, checkout, "clone", "-q", url, ".")

	fake := &fakeGitHub{head: head, unapproved: true, opened: time.Now().Add(-5 * time.Hour)}
	api := httptest.NewServer(fake)
	defer api.Close()
	polls := func() int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		n := 0
		for _, r := range fake.requests {
			if r == "GET /repos/acme/changes/pulls" {
				n++
			}
		}
		return n
	}
	t.Setenv("GITHUB_REPOSITORY", "acme/changes")
	t.Setenv("GITHUB_TOKEN", "test-token")
	t.Setenv("GITHUB_API_URL", api.URL)
	t.Setenv("CAB_TEST_HOOK_SECRET", "hook-secret-0123456789")
	t.Chdir(checkout)
	wireReconcile(t, func(context.Context, serveOptions, reconcile.Observer) (*reconcile.Summary, error) {
		return &reconcile.Summary{States: map[string]int{}}, nil
	})
	d := startServe(t, "--interval", "1h", "--forge", "github", "--sla-interval", "100ms")

	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(serveWait); !cond(); time.Sleep(10 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "%s\nsink: %v\nlogs:\n%s", what, sink.ids(), d.stderr)
		}
	}
	waitUntil("the approver group is told", func() bool { return len(sink.ids()) >= 1 })
	p := polls()
	waitUntil("three more polls", func() bool { return polls() >= p+3 })
	assert.Equal(t, []string{"sla/7/1"}, sink.ids(), "level 1 once")

	fake.mu.Lock()
	fake.opened = time.Now().Add(-7 * time.Hour) // the breach has lasted 3h: past escalateAfter
	fake.mu.Unlock()
	waitUntil("the backup group is told", func() bool { return len(sink.ids()) >= 2 })
	p = polls()
	waitUntil("three more polls", func() bool { return polls() >= p+3 })
	assert.Equal(t, []string{"sla/7/1", "sla/7/2"}, sink.ids(), "each level once")

	sink.mu.Lock()
	assert.Equal(t, []string{"github:1", "github:2", "github:3"}, sink.evs[0].Approvers)
	assert.Equal(t, []string{"github:20"}, sink.evs[1].Approvers)
	sink.mu.Unlock()
	_, metrics := httpDo(t, "GET", d.url+"/metrics", nil, nil)
	assert.Contains(t, metrics, "cab_approval_sla_breaches_total 2\n")
	o := struct {
		Breaches []struct {
			PR    int64 `json:"pr"`
			Level int   `json:"level"`
		} `json:"approvalSLABreaches"`
	}{}
	_, body := httpDo(t, "GET", d.url+"/ui/api/v1/overview", nil, nil)
	require.NoError(t, json.Unmarshal([]byte(body), &o), body)
	require.Len(t, o.Breaches, 1, "the overview shows the last poll")
	assert.Equal(t, 2, o.Breaches[0].Level)
	assert.Equal(t, exitOK, d.stop())
	assert.NotContains(t, d.stderr.String(), "test-token")
	assert.False(t, strings.Contains(d.stderr.String(), "hook-secret-0123456789"))
}
