//go:build e2e

package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate is an http check target that holds every request while closed
// (until the client goes away, or a minute passes) and answers 200 once
// opened.
type gate struct {
	*httptest.Server
	arrived atomic.Int32
	mu      sync.Mutex
	open    chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{open: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived.Add(1)
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		case <-time.After(time.Minute):
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	}))
	t.Cleanup(g.Close)
	t.Cleanup(g.release) // before Close: held requests end first
	return g
}

// release opens the gate.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// killWhen starts cab reconcile in the reconciler's checkout and SIGKILLs
// it as soon as ready reports true (polled, for at most a minute); it
// fails the test if the pass ends first.
func (w *world) killWhen(ready func() bool) {
	t := w.t
	t.Helper()
	git(t, w.rc, "pull", "-q", "--ff-only", "origin", "main")
	cmd := exec.Command(suite.cab, append([]string{"reconcile"}, reconcileArgs()...)...)
	cmd.Dir = w.rc
	cmd.Env = commandEnv(nil)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(time.Minute)
	for !ready() {
		select {
		case err := <-done:
			t.Fatalf("cab reconcile ended (%v) before the moment to kill it:\n%s", err, out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("the moment to kill cab reconcile did not come within a minute:\n%s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NoError(t, cmd.Process.Kill())
	err := <-done
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.False(t, ee.Exited(), "killed by a signal, not exited: %v", err)
}

// TestKilledReconciler: cab reconcile is SIGKILLed while the registry holds
// its tag write, then again while a postcheck is in flight; each next pass
// resumes where the ledger says, and in the end every tag and every
// environment commit was written exactly once.
func TestKilledReconciler(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	health := healthy(t)
	post := newGate(t)
	img := w.reg.pushImage(t, "build/app", "")
	digest := digestOf(img)
	w.merge(ticket{id: "CHG-2026-0001",
		actions:    []string{ociAction(img, "live"), gitAction("app@" + digest)},
		prechecks:  []string{httpCheck(health.URL + "/healthz")},
		postchecks: []string{httpCheck(post.URL + "/ready")},
	})
	w.sign(suite.key)
	envBefore := w.envHead()

	// Killed in the middle of the apply: the tag write never lands.
	w.reg.inject(&fault{match: isTagPut, hang: true})
	w.killWhen(func() bool { return w.reg.injectedCount() > 0 })
	w.reg.inject(nil)
	assert.Equal(t, []string{"signed", "staging:applying"}, w.events()["CHG-2026-0001"])
	assert.Empty(t, w.reg.tagDigest(t, "staging/app:live"))
	assert.Equal(t, envBefore, w.envHead())

	// Resumed, applied, and killed while the postcheck waits.
	w.killWhen(func() bool { return post.arrived.Load() > 0 })
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied"}, w.events()["CHG-2026-0001"])
	assert.Equal(t, digest, w.reg.tagDigest(t, "staging/app:live"))
	assert.Equal(t, 1, strings.Count(w.envLog(envBefore), "Cab-Ticket: CHG-2026-0001"))

	// Resumed again: the postcheck passes, then prod.
	post.release()
	_, code := w.reconcile()
	assert.Zero(t, code)
	assert.Equal(t, []string{"signed",
		"staging:applying", "staging:applied", "staging:verified",
		"prod:applying", "prod:applied", "prod:verified"}, w.events()["CHG-2026-0001"])
	for _, env := range []string{"staging", "prod"} {
		assert.Equal(t, digest, w.reg.tagDigest(t, env+"/app:live"), env)
		assert.Equal(t, 1, w.reg.puts(env+"/app:live"), "%s tag written once", env)
		assert.Equal(t, appYAML("app@"+digest), w.envFile("clusters/"+env+"/app.yaml"), env)
	}
	msgs := w.envLog(envBefore)
	assert.Equal(t, 2, strings.Count(msgs, "Cab-Ticket: CHG-2026-0001"), "one commit per environment:\n%s", msgs)
}
