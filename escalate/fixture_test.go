package escalate

import (
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

	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gittest"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/notify"
	"github.com/cabhq/cab/policy"
)

// cabCue is the change repository's cab.cue: payments is approved by
// "pay"; a high-risk change may wait 4h for approvals, then "sre" (the
// backup group) is told 2h later.
const cabCue = `apiVersion: "cab.dev/v1"
promotion: ["staging", "prod"]
environments: {
	staging: {prometheus: "https://prometheus.staging.example.com", targets: {images: {type: "oci", registry: "registry.staging.example.com"}}}
	prod: {
		protected: true, prometheus: "https://prometheus.example.com"
		targets: {images: {type: "oci", registry: "registry.example.com"}}
	}
}
approvers: {
	pay: members: ["github:1", "github:2", "github:3"]
	sre: members: ["github:20", "github:21"]
}
services: payments: {approvers: "pay"}
emergency: postReviewDays: 2
approvalSLA: {
	risk: {high: "4h", medium: "24h"}
	backup: "sre"
	escalateAfter: "2h"
}
`

// ticketCue is a valid high-risk prod ticket whose window is after the
// test's clock.
func ticketCue(id, title string) string {
	return fmt.Sprintf(`apiVersion: "cab.dev/v1"
id: %q
title: %q
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["staging", "prod"]
window: {start: "2026-12-10T22:00:00Z", end: "2026-12-10T23:00:00Z"}
actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:%s", tag: "payments"}]
prechecks: [{type: "http", url: "https://payments.example.com/healthz"}]
postchecks: [{type: "prometheus", query: "errors", op: "<", threshold: 1}]
rollback: {auto: true}
`, id, title, strings.Repeat("ab", 32))
}

// changeRepo is a change repository served by git http-backend on
// loopback, a pull request's head pushed to refs/pull/<n>/head as GitHub
// keeps it, and a clone of it: cab serve's checkout.
type changeRepo struct {
	url      string
	checkout string
	head     string // the pull request's head commit
}

func newChangeRepo(t *testing.T, pr int, headRef string) *changeRepo {
	t.Helper()
	return newChangeRepoWith(t, cabCue, pr, headRef)
}

// newChangeRepoWith is newChangeRepo with cab.cue cfg.
func newChangeRepoWith(t *testing.T, cfg string, pr int, headRef string) *changeRepo {
	t.Helper()
	srv := gittest.NewServer(t)
	_, url := srv.Bare(t, "changes")
	work := t.TempDir()
	git := func(args ...string) string { return gittest.Git(t, work, args...) }
	git("init", "-q", "-b", "main")
	git("config", "user.email", "dev@example.com")
	git("config", "user.name", "dev")
	require.NoError(t, os.WriteFile(filepath.Join(work, "cab.cue"), []byte(cfg), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(work, "policy"), 0o755))
	for _, p := range policy.Defaults() { // the rules cab init writes
		require.NoError(t, os.WriteFile(filepath.Join(work, "policy", filepath.Base(p.Name)), p.Source, 0o644))
	}
	git("add", ".")
	git("commit", "-qm", "cab.cue")
	git("push", "-q", url, "main")
	git("checkout", "-qb", "topic")
	require.NoError(t, os.MkdirAll(filepath.Join(work, "changes", "payments"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, "changes", "payments", "CHG-2026-0042.cue"), []byte(ticketCue("CHG-2026-0042", "Promote payments 1.4.2")), 0o644))
	git("add", ".")
	git("commit", "-qm", "CHG-2026-0042")
	head := git("rev-parse", "HEAD")
	git("push", "-q", url, fmt.Sprintf("HEAD:"+headRef, pr))
	checkout := t.TempDir()
	gittest.Git(t, checkout, "clone", "-q", url, ".")
	return &changeRepo{url: url, checkout: checkout, head: head}
}

// emergencyCue is an emergency change of incident INC-7.
func emergencyCue(id string) string {
	return strings.Replace(ticketCue(id, "Hotfix "+id), `kind: "normal"`, `kind: "emergency"`, 1) +
		"incident: {id: \"INC-7\", url: \"https://status.example.com/INC-7\"}\n"
}

// hook is a webhook sink on loopback that keeps the events it got.
type hook struct {
	mu     sync.Mutex
	events []notify.Event
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev notify.Event
	if json.Unmarshal(b, &ev) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *hook) got() []notify.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Event(nil), h.events...)
}

// newNotifier sends every event to a webhook sink on loopback, keeping
// its state under dir.
func newNotifier(t *testing.T, dir string) (*notify.Notifier, *hook) {
	t.Helper()
	h := &hook{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	n, err := notify.New(notify.Options{
		Config: &model.Notify{Sinks: map[string]model.Sink{"hook": {Type: model.SinkWebhook, URL: srv.URL, SecretEnv: "HOOK_SECRET"}},
			Routes: []model.Route{{Sinks: []string{"hook"}}}},
		Getenv:    func(string) string { return "hook-secret-0123456789" },
		StateFile: notify.StatePath(filepath.Join(dir, ".git")),
	})
	require.NoError(t, err)
	return n, h
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}
