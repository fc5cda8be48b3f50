package signedledger_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/bench/signedledger"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/sign"
)

// Append writes the very commits Ledger.Update writes for the same events
// (the same head hash, Ed25519 signatures being deterministic), onto an
// empty ledger and onto one that has events; every outcome verifies with
// the reconcile key; a ticket that has events already is refused.
func TestAppendWritesWhatUpdateWrites(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	ctx := context.Background()
	priv, pub, err := sign.Keygen(sign.AlgEd25519)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "k.key")
	require.NoError(t, os.WriteFile(keyFile, priv, 0o600))
	signer, err := sign.LoadSigner(ctx, keyFile, nil)
	require.NoError(t, err)
	v, err := sign.NewVerifier([]model.Key{{Name: "r", PublicKey: string(pub), Roles: []string{model.RoleReconcile}}}, model.RoleReconcile)
	require.NoError(t, err)

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	batch := func(from, to int) []ledger.Event {
		var evs []ledger.Event
		for _, kind := range []string{ledger.KindSigned, ledger.KindApplying, ledger.KindApplied, ledger.KindVerified} {
			for i := from; i < to; i++ {
				ev := ledger.Event{Ticket: fmt.Sprintf("CHG-2026-%04d", i), Kind: kind, At: at.Add(time.Duration(i) * time.Second), Actor: "bench"}
				if kind == ledger.KindSigned {
					ev.Commit, ev.Data, ev.Envelope = "0123456789abcdef0123456789abcdef01234567", []byte(`{"path":"changes/x/y.cue"}`), []byte(`{"payload":"e30="}`)
				} else {
					ev.Env = "staging"
				}
				evs = append(evs, ev)
			}
		}
		return evs
	}
	repoAt := func() (string, *ledger.Ledger) {
		dir := t.TempDir()
		out, err := exec.Command("git", "init", "-q", "--bare", dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
		repo, err := git.PlainOpen(dir)
		require.NoError(t, err)
		l := ledger.Open(repo, "", "")
		l.Signer = signer
		l.SetVerifier(v)
		return dir, l
	}
	update := func(l *ledger.Ledger, evs []ledger.Event) *ledger.Log {
		log, err := l.Update(ctx, func(*ledger.Log) ([]ledger.Event, error) { return evs, nil })
		require.NoError(t, err)
		return log
	}

	_, want := repoAt()
	update(want, batch(1, 40))
	wantLog := update(want, batch(40, 45))

	dir, got := repoAt()
	o := signedledger.AppendOptions{Dir: dir, Signer: signer}
	first, err := signedledger.Append(ctx, o, batch(1, 40))
	require.NoError(t, err)
	head, err := signedledger.Append(ctx, o, batch(40, 45))
	require.NoError(t, err)
	assert.NotEqual(t, first, head)
	assert.Equal(t, wantLog.Head, head, "the commits Update writes")

	log, err := got.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, log.Err(), "every outcome verifies")
	assert.Len(t, log.Events(), 44*4)
	assert.Equal(t, ledger.KindVerified, log.State("CHG-2026-0044").Envs["staging"])

	_, err = signedledger.Append(ctx, o, batch(44, 46))
	require.ErrorContains(t, err, "CHG-2026-0044 already has events")

	// Several events a commit: fewer commits, the same head tree.
	few, _ := repoAt()
	_, err = signedledger.Append(ctx, signedledger.AppendOptions{Dir: few, Signer: signer, PerCommit: 7}, batch(1, 45))
	require.NoError(t, err)
	fewRepo, err := git.PlainOpen(few)
	require.NoError(t, err)
	ref, err := fewRepo.Reference(plumbing.NewBranchReferenceName(ledger.DefaultBranch), true)
	require.NoError(t, err)
	c, err := fewRepo.CommitObject(ref.Hash())
	require.NoError(t, err)
	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	wantHead, err := repo.CommitObject(head)
	require.NoError(t, err)
	assert.Equal(t, wantHead.TreeHash, c.TreeHash)
}
