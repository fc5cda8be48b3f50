//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/reconcile/check"
	"github.com/cabhq/cab/reconcile/target"
	gittarget "github.com/cabhq/cab/reconcile/target/git"
	"github.com/cabhq/cab/reconcile/target/oci"
	"github.com/cabhq/cab/sign"
)

// isTagPut matches the manifest write that points a tag.
func isTagPut(r *http.Request) bool {
	_, _, ok := manifestTag(r)
	return ok && r.Method == http.MethodPut
}

// TestRegistryFlaky: errors fewer than the retry budget (--retries 2: one
// failure per request) on the first write, the tag's manifest write or
// the first manifest read cost at most a retry, not the change: it is
// applied, and the tag written once.
func TestRegistryFlaky(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	img := w.reg.pushImage(t, "build/app", "")
	for _, tc := range []struct {
		id, tag string
		fault   fault
	}{
		{"CHG-2026-0001", "first-write", fault{match: isWrite, status: http.StatusInternalServerError, times: 1}},
		{"CHG-2026-0002", "tag-put", fault{match: isTagPut, status: http.StatusServiceUnavailable, times: 1}},
		{"CHG-2026-0003", "first-read", fault{match: isManifest, status: http.StatusBadGateway, times: 1}},
	} {
		w.merge(ticket{id: tc.id, envs: []string{"staging"}, actions: []string{ociAction(img, tc.tag)}})
		w.sign(suite.key)
		w.reg.inject(&tc.fault)
		_, code := w.reconcile()
		assert.Zero(t, code, tc.tag)
		assert.Equal(t, 1, w.reg.injectedCount(), "%s: the fault happened", tc.tag)
		w.reg.inject(nil)
		assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, w.events()[tc.id], tc.tag)
		assert.Equal(t, digestOf(img), w.reg.tagDigest(t, "staging/app:"+tc.tag), tc.tag)
		assert.Equal(t, 1, w.reg.puts("staging/app:"+tc.tag), "%s: the tag was written once", tc.tag)
	}
}

// TestRegistryDown: a registry answering 500 to everything cannot even be
// observed, so the change waits (scheduled, with the registry's answer
// as the reason) without touching anything, and cab reconcile exits 1;
// once the registry is back, the next pass applies it.
func TestRegistryDown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"},
		actions: []string{ociAction(img, "live"), gitAction("app@" + digestOf(img))}})
	w.sign(suite.key)
	envBefore := w.envHead()

	w.reg.inject(&fault{status: http.StatusInternalServerError})
	sum, code := w.reconcile()
	assert.Equal(t, 1, code, "held because the registry could not be read: CI goes red")
	assert.Equal(t, []string{"signed", "staging:scheduled"}, w.events()["CHG-2026-0001"])
	reason := w.reason("CHG-2026-0001", "staging")
	assert.Contains(t, reason, "observing images before applying")
	assert.Contains(t, reason, "500")
	assert.Equal(t, map[string]int{"scheduled": 1}, sum.States)
	assert.Positive(t, w.reg.injectedCount())
	assert.Zero(t, w.reg.puts("staging/app:live"))
	assert.Equal(t, envBefore, w.envHead(), "the environment repository was not touched")

	// Still down: the same wait is not recorded twice, but still reported.
	head := w.ledgerHead()
	_, code = w.reconcile()
	assert.Equal(t, 1, code)
	assert.Equal(t, head, w.ledgerHead(), "nothing new to say")

	w.reg.inject(nil)
	_, code = w.reconcile()
	assert.Zero(t, code)
	assert.Equal(t, []string{"signed", "staging:scheduled", "staging:applying", "staging:applied", "staging:verified"}, w.events()["CHG-2026-0001"])
	assert.Equal(t, digestOf(img), w.reg.tagDigest(t, "staging/app:live"))
	assert.Equal(t, 1, w.reg.puts("staging/app:live"))
	assert.Equal(t, appYAML("app@"+digestOf(img)), w.envFile("clusters/staging/app.yaml"))
}

// TestRegistryRefusesWrites: a registry that reads but answers every
// write with 500 fails the apply once the retries are spent; the failure
// is rolled back, the tag still points where it did, the environment
// repository action after it never ran, and a healed registry does not
// bring a rolled-back change back.
func TestRegistryRefusesWrites(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	old := w.reg.pushImage(t, "staging/app", "live")
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"},
		actions: []string{ociAction(img, "live"), gitAction("app@" + digestOf(img))}})
	w.sign(suite.key)
	envBefore := w.envHead()

	w.reg.inject(&fault{match: isWrite, status: http.StatusInternalServerError})
	_, code := w.reconcile()
	assert.Equal(t, 1, code)
	assert.Equal(t, []string{"signed", "staging:applying", "staging:failed", "staging:rolled-back"}, w.events()["CHG-2026-0001"])
	reason := failedReason(w, "CHG-2026-0001", "staging")
	assert.Contains(t, reason, "action 1 (images)")
	assert.Contains(t, reason, "gave up after 2 attempts")
	assert.Contains(t, reason, "500")
	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:live"), "the tag never moved")
	assert.Zero(t, w.reg.puts("staging/app:live"))
	assert.Equal(t, envBefore, w.envHead(), "no apply and no restore commit in the environment repository")

	w.reg.inject(nil)
	sum, code := w.reconcile()
	assert.Zero(t, code)
	assert.Empty(t, sum.Steps, "a rolled-back change stays rolled back")
	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:live"))
}

// TestRegistryTimeout: a registry that accepts requests and never answers
// is bounded by the oci driver's per-call timeout (here 1s, in process:
// cab reconcile has no flag for it). Hung writes fail the apply and the
// change is rolled back; hung reads hold it as scheduled; the ledger says
// why each time, and a healed registry lets the held change apply.
func TestRegistryTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	old := w.reg.pushImage(t, "staging/app", "hung-write")
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"}, actions: []string{ociAction(img, "hung-write")}})
	w.merge(ticket{id: "CHG-2026-0002", envs: []string{"staging"}, actions: []string{ociAction(img, "hung-read")}})
	w.sign(suite.key)
	git(t, w.rc, "pull", "-q", "--ff-only", "origin", "main")

	pass := func(id string) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := reconcile.Run(ctx, inProcess(t, w.rc, id))
		require.NoError(t, err)
		return time.Since(start)
	}

	w.reg.inject(&fault{match: isWrite, hang: true})
	took := pass("CHG-2026-0001")
	assert.Less(t, took, 20*time.Second, "bounded by the driver timeout")
	assert.Equal(t, []string{"signed", "staging:applying", "staging:failed", "staging:rolled-back"}, w.events()["CHG-2026-0001"])
	assert.Contains(t, failedReason(w, "CHG-2026-0001", "staging"), "context deadline exceeded")
	assert.Equal(t, digestOf(old), w.reg.tagDigest(t, "staging/app:hung-write"))
	assert.Positive(t, w.reg.injectedCount())

	w.reg.inject(&fault{hang: true})
	took = pass("CHG-2026-0002")
	assert.Less(t, took, 20*time.Second)
	assert.Equal(t, []string{"signed", "staging:scheduled"}, w.events()["CHG-2026-0002"])
	assert.Contains(t, w.reason("CHG-2026-0002", "staging"), "context deadline exceeded")
	assert.Zero(t, w.reg.puts("staging/app:hung-read"))

	w.reg.inject(nil)
	pass("CHG-2026-0002")
	assert.Equal(t, []string{"signed", "staging:scheduled", "staging:applying", "staging:applied", "staging:verified"}, w.events()["CHG-2026-0002"])
	assert.Equal(t, digestOf(img), w.reg.tagDigest(t, "staging/app:hung-read"))
}

// inProcess is a reconciler over the checkout dir, limited to ticket id,
// with an oci driver whose calls time out after 1s and are not retried.
func inProcess(t *testing.T, dir, id string) reconcile.Options {
	repo, err := gogit.PlainOpen(dir)
	require.NoError(t, err)
	gitDriver, err := gittarget.New(t.TempDir())
	require.NoError(t, err)
	client := &http.Client{Timeout: 5 * time.Second}
	l := ledger.Open(repo, "origin", "")
	l.Signer, err = sign.LoadSigner(t.Context(), "file://"+suite.key+".key", nil) // cab.cue trusts it to reconcile
	require.NoError(t, err)
	return reconcile.Options{
		Dir: dir, Ledger: l, Instance: "e2e-in-process", Tickets: []string{id},
		Drivers: map[string]target.Driver{
			"oci": oci.New(oci.WithRetry(1, 0), oci.WithTimeout(time.Second)),
			"git": gitDriver,
		},
		Checks: func(ctx context.Context, _ reconcile.Phase, checks []model.Check, prometheus string) error {
			_, err := check.Run(ctx, checks, check.Options{Client: client, Prometheus: prometheus, Interval: 100 * time.Millisecond})
			return err
		},
	}
}
