//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutoRollback: a postcheck that keeps answering 503 fails the change
// in staging after the check budget; the registry tag and the environment
// repository's file are restored to what they were, prod is never
// touched, and cab reconcile exits 1.
func TestAutoRollback(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	health := healthy(t)
	down := newStatusServer(t, func(int32) int { return http.StatusServiceUnavailable })
	old := w.reg.pushImage(t, "staging/app", "live")
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001",
		actions:    []string{ociAction(img, "live"), gitAction("app@" + digestOf(img))},
		prechecks:  []string{httpCheck(health.URL + "/healthz")},
		postchecks: []string{httpCheck(down.URL + "/ready")},
	})
	w.sign(suite.key)
	envBefore := w.envHead()

	sum, code := w.reconcile()
	assert.Equal(t, 1, code, "a rolled-back change makes cab reconcile exit 1")
	assert.Equal(t, []string{"signed",
		"staging:applying", "staging:applied", "staging:failed", "staging:rolled-back",
		"prod:quarantined"}, w.events()["CHG-2026-0001"])
	assert.Equal(t, map[string]int{"rolled-back": 1, "quarantined": 1}, sum.States)
	assert.Contains(t, failedReason(w, "CHG-2026-0001", "staging"), "status 503, want 200")
	assert.Contains(t, w.reason("CHG-2026-0001", "prod"), "not promoted: staging ended rolled-back")
	assert.Greater(t, down.hits.Load(), int32(2), "the postcheck was retried within its budget")

	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:live"), "the previous digest is back")
	assert.Equal(t, appYAML("app:old"), w.envFile("clusters/staging/app.yaml"), "the previous content is back")
	assert.Empty(t, w.reg.tagDigest(t, "prod/app:live"), "prod never touched")
	assert.Equal(t, appYAML("app:old"), w.envFile("clusters/prod/app.yaml"))
	msgs := w.envLog(envBefore)
	assert.Equal(t, 1, strings.Count(msgs, "Cab-Ticket: CHG-2026-0001"), "one apply:\n%s", msgs)
	assert.Equal(t, 1, strings.Count(msgs, "Cab-Rollback: CHG-2026-0001"), "one restore:\n%s", msgs)
}

// TestRollbackOfNewTag: distribution (Debian's docker-registry, without
// storage.delete) refuses to delete a tag, so the rollback of a change that
// created one (there was no previous digest to point it back at) points the
// tag at a tombstone: an image with no layers and no command, labelled with
// the ticket, that nothing can run. The change ends rolled-back, not
// rollback-failed, and the environment repository is restored as well.
func TestRollbackOfNewTag(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	down := newStatusServer(t, func(int32) int { return http.StatusServiceUnavailable })
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"},
		actions:    []string{ociAction(img, "new"), gitAction("app@" + digestOf(img))},
		postchecks: []string{httpCheck(down.URL + "/ready")},
	})
	w.sign(suite.key)

	sum, code := w.reconcile()
	assert.Equal(t, 1, code, "a rolled-back change makes cab reconcile exit 1")
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:failed", "staging:rolled-back"}, w.events()["CHG-2026-0001"])
	assert.Equal(t, map[string]int{"rolled-back": 1}, sum.States)

	tag, err := name.NewTag(suite.registry+"/"+w.reg.ns+"/staging/app:new", name.Insecure)
	require.NoError(t, err)
	stone, err := remote.Image(tag, remote.WithContext(t.Context()))
	require.NoError(t, err, "the tag still exists: distribution cannot delete it")
	d, err := stone.Digest()
	require.NoError(t, err)
	assert.NotEqual(t, digestOf(img), d.String(), "the tag no longer names the rolled-back release")
	layers, err := stone.Layers()
	require.NoError(t, err)
	assert.Empty(t, layers, "the tombstone has no content")
	cf, err := stone.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "true", cf.Config.Labels["dev.cab.tombstone"])
	assert.Equal(t, "CHG-2026-0001", cf.Config.Labels["dev.cab.tombstone.ticket"])
	assert.Empty(t, cf.Config.Cmd)
	assert.Empty(t, cf.Config.Entrypoint)
	assert.Equal(t, appYAML("app:old"), w.envFile("clusters/staging/app.yaml"))

	// A second pass finds nothing to do: the rollback is recorded once.
	_, code = w.reconcile()
	assert.Equal(t, 0, code)
	assert.Equal(t, d.String(), w.reg.tagDigest(t, "staging/app:new"))
}

// failedReason is the reason of id's failed event in env.
func failedReason(w *world, id, env string) string {
	for _, ev := range w.ledger().Ticket(id) {
		if ev.Env == env && ev.Kind == "failed" {
			return string(ev.Data)
		}
	}
	return ""
}

// TestEnvironmentPushRejected: the environment repository refuses the
// push (a pre-receive hook); the change fails with git's words in the
// ledger, and its registry change, applied first, is rolled back.
func TestEnvironmentPushRejected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hook := filepath.Join(w.env, "hooks", "pre-receive")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'clusters are frozen by the platform team' >&2\nexit 1\n"), 0o755))
	old := w.reg.pushImage(t, "staging/app", "live")
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"},
		actions: []string{ociAction(img, "live"), gitAction("app@" + digestOf(img))},
	})
	w.sign(suite.key)
	envBefore := w.envHead()

	_, code := w.reconcile()
	assert.Equal(t, 1, code)
	assert.Equal(t, []string{"signed", "staging:applying", "staging:failed", "staging:rolled-back"}, w.events()["CHG-2026-0001"])
	reason := failedReason(w, "CHG-2026-0001", "staging")
	assert.Contains(t, reason, "action 2 (deploy)")
	assert.Contains(t, reason, "rejected")
	assert.Contains(t, reason, "clusters are frozen by the platform team", "git's message reaches the ledger")
	assert.Equal(t, 2, w.reg.puts("staging/app:live"), "the tag was written by the apply, and again by the rollback")
	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:live"), "the previous digest is back")
	assert.Equal(t, envBefore, w.envHead(), "nothing reached the environment repository")
}

// TestPostcheckFlapping: an http postcheck without for passes on its first
// success within the budget, so a service answering 503 and 200 in turn
// verifies; a prometheus postcheck holding for 2s does not pass against a
// value that flaps, and the change is rolled back — while the same check
// against a steady value verifies.
func TestPostcheckFlapping(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	flap := newStatusServer(t, func(n int32) int {
		if n%2 == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	flapProm := newPrometheus(t, func(n int32) float64 { return float64(n%2) * 5 })
	steadyProm := newPrometheus(t, func(int32) float64 { return 0.2 })
	promCheck := func(url string) string {
		return fmt.Sprintf(`{type: "prometheus", server: %q, query: "sum(rate(http_errors_total[1m]))", op: "<", threshold: 1, for: "2s"}`, url)
	}
	img := w.reg.pushImage(t, "build/app", "")
	old := w.reg.pushImage(t, "staging/app", "prom-flap")
	w.merge(
		ticket{id: "CHG-2026-0001", envs: []string{"staging"}, actions: []string{ociAction(img, "http-flap")},
			postchecks: []string{httpCheck(flap.URL + "/ready")}},
		ticket{id: "CHG-2026-0002", envs: []string{"staging"}, actions: []string{ociAction(img, "prom-flap")},
			postchecks: []string{promCheck(flapProm.URL)}},
		ticket{id: "CHG-2026-0003", envs: []string{"staging"}, actions: []string{ociAction(img, "prom-steady")},
			postchecks: []string{promCheck(steadyProm.URL)}},
	)
	w.sign(suite.key)

	_, code := w.reconcile("--check-budget", "3s", "--check-interval", "200ms")
	assert.Equal(t, 1, code)
	ev := w.events()
	ok := []string{"signed", "staging:applying", "staging:applied", "staging:verified"}
	assert.Equal(t, ok, ev["CHG-2026-0001"])
	assert.GreaterOrEqual(t, flap.hits.Load(), int32(2), "the first answer was a 503")
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:failed", "staging:rolled-back"}, ev["CHG-2026-0002"])
	assert.Contains(t, failedReason(w, "CHG-2026-0002", "staging"), "postchecks failed")
	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:prom-flap"), "rolled back")
	assert.GreaterOrEqual(t, flapProm.hits.Load(), int32(4), "sampled over the budget")
	assert.Equal(t, ok, ev["CHG-2026-0003"], "a steady value holds for 2s")
	assert.GreaterOrEqual(t, steadyProm.hits.Load(), int32(2), "sampled more than once")
	held := w.eventAt("CHG-2026-0003", "staging", "verified").Sub(w.eventAt("CHG-2026-0003", "staging", "applied"))
	assert.GreaterOrEqual(t, held, 2*time.Second, "verified only after the value held for 2s")
	assert.Equal(t, digestOf(img), w.reg.tagDigest(t, "staging/app:prom-steady"))
}

// prometheus is a fake Prometheus speaking the instant query API: the
// n-th query gets value(n) as a one-sample vector.
type prometheus struct {
	*httptest.Server
	hits atomic.Int32
}

func newPrometheus(t *testing.T, value func(n int32) float64) *prometheus {
	p := &prometheus{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") == "" {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"unknown path or empty query"}`, http.StatusBadRequest)
			return
		}
		v := value(p.hits.Add(1))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1767225600,"%g"]}]}}`, v)
	}))
	t.Cleanup(p.Close)
	return p
}

// TestDependencyFailed: B depends on A; A's postcheck fails, so A is
// rolled back in staging and set aside in prod, and B is quarantined
// without touching anything.
func TestDependencyFailed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	health := healthy(t)
	down := newStatusServer(t, func(int32) int { return http.StatusServiceUnavailable })
	old := w.reg.pushImage(t, "staging/app", "a")
	img := w.reg.pushImage(t, "build/app", "")
	pre := []string{httpCheck(health.URL + "/healthz")}
	w.merge(ticket{id: "CHG-2026-0001", actions: []string{ociAction(img, "a")},
		prechecks: pre, postchecks: []string{httpCheck(down.URL + "/ready")}})
	w.merge(ticket{id: "CHG-2026-0002", dependsOn: []string{"CHG-2026-0001"}, actions: []string{ociAction(img, "b")},
		prechecks: pre, postchecks: []string{httpCheck(health.URL + "/ready")}})
	assert.Contains(t, w.sign(suite.key), "2 signed, 0 unsigned")

	sum, code := w.reconcile()
	assert.Equal(t, 1, code)
	ev := w.events()
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:failed", "staging:rolled-back", "prod:quarantined"}, ev["CHG-2026-0001"])
	assert.Equal(t, []string{"signed", "staging:scheduled", "staging:quarantined", "prod:quarantined"}, ev["CHG-2026-0002"],
		"B waits for A in staging, is set aside when A fails, and prod follows")
	assert.Contains(t, w.reason("CHG-2026-0002", "staging"), "dependency CHG-2026-0001 ended rolled-back in staging")
	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:a"))
	assert.Zero(t, w.reg.puts("staging/app:b"))
	assert.Zero(t, w.reg.puts("prod/app:b"))
	assert.Equal(t, 1, sum.States["rolled-back"])
}
