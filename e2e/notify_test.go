//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/notify"
)

// receiver is a webhook sink: it records the events it took, and answers
// status (503 while down).
type receiver struct {
	mu     sync.Mutex
	events []notify.Event
	bodies []string
	bad    int
	status int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status != 0 {
		w.WriteHeader(r.status)
		return
	}
	if req.Header.Get(notify.SignatureHeader) != notify.Sign([]byte(notifySecret), b) {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev notify.Event
	if json.Unmarshal(b, &ev) == nil {
		r.events = append(r.events, ev)
		r.bodies = append(r.bodies, string(b))
	}
}

func (r *receiver) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, ev.Environment+":"+ev.Kind)
	}
	return out
}

const notifySecret = "notify-secret-planted-0123456789"

// TestNotifyAfterRollback: cab reconcile tells the webhook of cab.cue's
// notify: about the failed, rolled-back and quarantined events it
// recorded, signed, scrubbed and once — and a sink that is down neither
// fails nor blocks the apply: what it missed is sent by the next run.
func TestNotifyAfterRollback(t *testing.T) {
	t.Parallel()
	rcv := &receiver{status: http.StatusServiceUnavailable}
	sink := httptest.NewServer(rcv)
	defer sink.Close()
	w := newWorldWith(t, `notify: {
	sinks: hook: {type: "webhook", url: "`+sink.URL+`/cab", secretEnv: "CAB_NOTIFY_SECRET"}
	routes: [{sinks: ["hook"], services: ["app"]}]
}
`)
	health := healthy(t)
	down := newStatusServer(t, func(int32) int { return http.StatusServiceUnavailable })
	w.reg.pushImage(t, "staging/app", "live")
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001",
		actions:    []string{ociAction(img, "live")},
		prechecks:  []string{httpCheck(health.URL + "/healthz")},
		postchecks: []string{httpCheck(down.URL + "/ready?token=" + notifySecret)},
	})
	w.sign(suite.key)
	git(t, w.rc, "pull", "-q", "--ff-only", "origin", "main")
	env := []string{"CAB_NOTIFY_SECRET=" + notifySecret}
	run := func() int {
		args := append(append([]string{"reconcile"}, reconcileArgs()...), "--notify-timeout", "2s")
		stdout, stderr, code := try(t, w.rc, env, suite.cab, args...)
		require.NotEqual(t, 2, code, "%s\n%s", stdout, stderr)
		return code
	}

	assert.Equal(t, 1, run(), "a rolled-back change exits 1 whether or not the sink is up")
	assert.Equal(t, []string{"staging:failed", "staging:rolled-back", "prod:quarantined"}, w.events()["CHG-2026-0001"][3:])
	assert.Empty(t, rcv.kinds(), "the sink was down")

	rcv.mu.Lock()
	rcv.status = 0
	rcv.mu.Unlock()
	run()
	assert.ElementsMatch(t, []string{"staging:failed", "staging:rolled-back", "prod:quarantined"}, rcv.kinds(),
		"the next run sends what the sink missed")
	run()
	assert.Len(t, rcv.kinds(), 3, "and never twice")

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	assert.Zero(t, rcv.bad, "every delivery is signed with the secret from the environment")
	for i, ev := range rcv.events {
		assert.Equal(t, "app", ev.Service, "described from the ticket")
		assert.Equal(t, "CHG-2026-0001", ev.Ticket)
		assert.NotContains(t, rcv.bodies[i], notifySecret, "no secret in any message")
	}
	assert.True(t, strings.HasPrefix(rcv.events[0].ID, "CHG-2026-0001/"))
}
