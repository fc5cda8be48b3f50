//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/sign"
)

// reconcileIn runs cab reconcile in the reconciler's checkout as it is
// (no git pull first) with reconcileArgs and extra flags, and returns
// its summary and exit code.
func (w *world) reconcileIn(extra ...string) (summary, int) {
	t := w.t
	t.Helper()
	args := append(append([]string{"reconcile"}, reconcileArgs()...), extra...)
	stdout, stderr, code := try(t, w.rc, nil, suite.cab, args...)
	var s summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &s), "cab reconcile (exit %d) printed no summary:\n%s\n%s", code, stdout, stderr)
	require.NotEqual(t, 2, code, "cab reconcile failed:\n%s", stderr)
	return s, code
}

// TestStrandedTicket: cab reconcile in a checkout that has not pulled the
// merge of a signed ticket does not set it aside: it waits (scheduled,
// recorded once, exit 1 while held) and, once cab reconcile fetches main
// itself, applies it. A ticket an older cab quarantined for the same
// reason ("merge commit … is not in the repository (fetch main)") is
// judged again and applied.
func TestStrandedTicket(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	merge := w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"}, actions: []string{gitAction("app:v2")}})
	w.sign(suite.key)
	envBefore := w.envHead()

	// The reconciler's checkout was cloned before the merge; --no-fetch
	// keeps it so.
	for range 2 {
		sum, code := w.reconcileIn("--no-fetch")
		assert.Equal(t, 1, code, "held: a signed change cannot be judged yet")
		require.Len(t, sum.Steps, 1)
		assert.Equal(t, "scheduled", sum.Steps[0].Kind)
		assert.Contains(t, sum.Steps[0].Reason, merge)
		assert.Zero(t, sum.States["quarantined"])
	}
	assert.Equal(t, []string{"signed", "scheduled"}, w.events()["CHG-2026-0001"], "recorded once, never quarantined")
	assert.Contains(t, w.reason("CHG-2026-0001", ""), "fetch main")
	assert.Equal(t, envBefore, w.envHead())

	// Without --no-fetch cab reconcile fetches main first: applied.
	sum, code := w.reconcileIn()
	assert.Zero(t, code)
	assert.Equal(t, []string{"signed", "scheduled", "staging:applying", "staging:applied", "staging:verified"}, w.events()["CHG-2026-0001"])
	assert.Equal(t, map[string]int{"verified": 1}, sum.States)
	assert.Contains(t, w.envFile("clusters/staging/app.yaml"), "image: app:v2")

	// A set-aside an older reconciler recorded for a missing merge commit.
	merge = w.merge(ticket{id: "CHG-2026-0002", envs: []string{"staging"}, actions: []string{gitAction("app:v3")}})
	w.sign(suite.key)
	repo, err := gogit.PlainOpen(w.work)
	require.NoError(t, err)
	// Recorded by a reconciler cab.cue trusts: an unsigned set-aside would
	// be ignored (and the ticket applied outright).
	old := ledger.Open(repo, "origin", "")
	old.Signer, err = sign.LoadSigner(t.Context(), "file://"+suite.key+".key", nil)
	require.NoError(t, err)
	_, err = old.Update(t.Context(), func(*ledger.Log) ([]ledger.Event, error) {
		return []ledger.Event{{Ticket: "CHG-2026-0002", Kind: ledger.KindQuarantined, Actor: "cab-reconcile@old", Commit: merge,
			Data: json.RawMessage(fmt.Sprintf(`{"reason":"the merge commit %s is not in the repository (fetch main): object not found"}`, merge))}}, nil
	})
	require.NoError(t, err)
	sum, code = w.reconcileIn()
	assert.Zero(t, code)
	assert.Equal(t, []string{"signed", "quarantined", "scheduled", "staging:applying", "staging:applied", "staging:verified"}, w.events()["CHG-2026-0002"])
	assert.Contains(t, w.envFile("clusters/staging/app.yaml"), "image: app:v3")
	assert.Equal(t, map[string]int{"verified": 2}, sum.States)

	_, stderr, code := try(t, w.rc, nil, suite.cab, "verify")
	assert.Zero(t, code, "the chain verifies, readmission included:\n%s", stderr)
}
