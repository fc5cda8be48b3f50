//go:build e2e

package e2e

import (
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
)

// TestUntrustedKey: tickets signed with a key cab.cue does not trust are
// quarantined by cab reconcile (exit 1) and nothing is applied; cab
// verify refuses the chain too.
func TestUntrustedKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	health := healthy(t)
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001",
		actions:    []string{ociAction(img, "live"), gitAction("app@" + digestOf(img))},
		prechecks:  []string{httpCheck(health.URL + "/healthz")},
		postchecks: []string{httpCheck(health.URL + "/ready")},
	})
	stdout, stderr, code := try(t, w.work, nil, suite.cab, "sign", "--key", "file://"+suite.stranger+".key", "--forge", "git")
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, "1 signed, 0 unsigned", "cab sign signs with the key it is given (a rotation lands the key in cab.cue first)")
	assert.Contains(t, stderr, "is not among the keys cab.cue trusts", "but warns that nothing will accept it")
	envBefore := w.envHead()

	sum, code := w.reconcile()
	assert.Equal(t, 1, code)
	assert.Equal(t, []string{"signed", "quarantined"}, w.events()["CHG-2026-0001"])
	reason := w.reason("CHG-2026-0001", "")
	assert.Contains(t, reason, "signature:")
	assert.Contains(t, reason, "not made by a trusted key")
	assert.Equal(t, map[string]int{"quarantined": 2}, sum.States)
	for _, env := range []string{"staging", "prod"} {
		assert.Zero(t, w.reg.puts(env+"/app:live"), env)
		assert.Empty(t, w.reg.tagDigest(t, env+"/app:live"), env)
	}
	assert.Equal(t, envBefore, w.envHead())
	assert.Zero(t, health.hits.Load(), "not even a precheck ran")

	_, _, code = try(t, w.rc, nil, suite.cab, "verify")
	assert.Equal(t, 1, code, "cab verify refuses the chain")
}

// TestReplayedSignature: the envelope cab sign made for a staging-only
// ticket, recorded on the ledger as the signature of a ticket that also
// names prod, does not verify: that ticket is quarantined and nothing of
// it is applied, while the ticket the envelope was made for applies.
func TestReplayedSignature(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	health := healthy(t)
	img := w.reg.pushImage(t, "build/app", "")
	w.merge(ticket{id: "CHG-2026-0001", envs: []string{"staging"}, actions: []string{ociAction(img, "one")}})
	w.sign(suite.key)
	mergeP := w.merge(ticket{id: "CHG-2026-0002", actions: []string{ociAction(img, "two")},
		prechecks:  []string{httpCheck(health.URL + "/healthz")},
		postchecks: []string{httpCheck(health.URL + "/ready")},
	})

	// Not through cab sign: by hand, on the ledger of the remote.
	repo, err := gogit.PlainOpen(w.work)
	require.NoError(t, err)
	l := ledger.Open(repo, "origin", "")
	log, err := l.Read(t.Context())
	require.NoError(t, err)
	var envelope []byte
	for _, ev := range log.Ticket("CHG-2026-0001") {
		if ev.Kind == ledger.KindSigned {
			envelope = ev.Envelope
		}
	}
	require.NotEmpty(t, envelope)
	_, err = l.Update(t.Context(), func(*ledger.Log) ([]ledger.Event, error) {
		return []ledger.Event{{Ticket: "CHG-2026-0002", Kind: ledger.KindSigned, Commit: mergeP, Actor: "mallory",
			Data: []byte(`{"path":"changes/app/CHG-2026-0002.cue"}`), Envelope: envelope}}, nil
	})
	require.NoError(t, err)

	_, code := w.reconcile()
	assert.Equal(t, 1, code)
	ev := w.events()
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, ev["CHG-2026-0001"])
	assert.Equal(t, []string{"signed", "quarantined"}, ev["CHG-2026-0002"])
	reason := w.reason("CHG-2026-0002", "")
	assert.Contains(t, reason, "signature:")
	assert.Contains(t, reason, "attestation does not match")
	assert.Contains(t, reason, "changes/app/CHG-2026-0002.cue", "names the ticket it was checked for")
	for _, env := range []string{"staging", "prod"} {
		assert.Zero(t, w.reg.puts(env+"/app:two"), env)
	}
	assert.Zero(t, health.hits.Load(), "not even a precheck ran")
}
