//go:build e2e

package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statusServer answers every request with the status status() returns
// and counts the requests.
type statusServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newStatusServer(t *testing.T, status func(n int32) int) *statusServer {
	s := &statusServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status(s.hits.Add(1)))
	}))
	t.Cleanup(s.Close)
	return s
}

func healthy(t *testing.T) *statusServer {
	return newStatusServer(t, func(int32) int { return http.StatusOK })
}

// TestPromotion: a ticket that promotes an image (a copy from build/app
// to the staging and prod repositories of the registry) and points the
// environment repository at it, signed by cab sign, is applied by cab
// reconcile in staging then prod and verified; a second pass changes
// nothing anywhere.
func TestPromotion(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	health := healthy(t)
	img := w.reg.pushImage(t, "build/app", "")
	digest := digestOf(img)
	w.merge(ticket{id: "CHG-2026-0001",
		actions:    []string{ociAction(img, "live"), gitAction("app@" + digest)},
		prechecks:  []string{httpCheck(health.URL + "/healthz")},
		postchecks: []string{httpCheck(health.URL + "/ready")},
	})
	out := w.sign(suite.key)
	assert.Contains(t, out, "1 signed, 0 unsigned")
	envBefore := w.envHead()

	sum, code := w.reconcile()
	assert.Zero(t, code)
	assert.Equal(t, []string{"signed",
		"staging:applying", "staging:applied", "staging:verified",
		"prod:applying", "prod:applied", "prod:verified"}, w.events()["CHG-2026-0001"])
	assert.Equal(t, map[string]int{"verified": 2}, sum.States)
	require.NotEmpty(t, sum.Steps)
	assert.Contains(t, strings.Join(sum.Steps[0].Changes, "\n"), "oci images:live absent → "+digest)

	for _, env := range []string{"staging", "prod"} {
		assert.Equal(t, digest, w.reg.tagDigest(t, env+"/app:live"), "%s tag", env)
		assert.Equal(t, 1, w.reg.puts(env+"/app:live"), "%s tag written once", env)
		assert.Equal(t, appYAML("app@"+digest), w.envFile("clusters/"+env+"/app.yaml"), "%s deployment, the rest of the file kept", env)
	}
	msgs := w.envLog(envBefore)
	assert.Equal(t, 2, strings.Count(msgs, "Cab-Ticket: CHG-2026-0001"), "one commit per environment:\n%s", msgs)
	assert.Contains(t, msgs, "Cab-Env: staging")
	assert.Contains(t, msgs, "Cab-Env: prod")

	// Plain git reads the ledger too: one commit per event, with trailers.
	trailers := git(t, w.changes, "log", "--format=%(trailers:key=Cab-Event,valueonly)", "refs/heads/cab/ledger")
	assert.Equal(t, []string{"verified", "applied", "applying", "verified", "applied", "applying", "signed"}, strings.Fields(trailers))

	// Again: nothing to do, nothing written.
	ledgerHead, envHead := w.ledgerHead(), w.envHead()
	sum, code = w.reconcile()
	assert.Zero(t, code)
	assert.Empty(t, sum.Steps)
	assert.Equal(t, ledgerHead, w.ledgerHead(), "no new ledger commit")
	assert.Equal(t, envHead, w.envHead(), "no new environment commit")
	for _, env := range []string{"staging", "prod"} {
		assert.Equal(t, 1, w.reg.puts(env+"/app:live"), "%s tag still written once", env)
	}

	// The whole chain verifies.
	out = runIn(t, w.rc, nil, suite.cab, "verify")
	assert.Contains(t, out, "chain intact")
}
