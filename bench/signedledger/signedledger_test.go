package signedledger_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/bench/signedledger"
	"github.com/cabhq/cab/bench/synth"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// Write signs every ticket merged on main once, each envelope verifying
// against the key it was given as `cab verify` checks it (digest of the
// ticket as merged, id, environments, merge commit, repository); Limit
// stops early, and a second Write adds only what is missing.
func TestWriteSignsEveryMergedTicket(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	_, err := synth.Generate(ctx, dir, synth.Options{Seed: 2, Tickets: 12, Commits: 20})
	require.NoError(t, err)
	priv, pub, err := sign.Keygen(sign.AlgECDSAP256)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "k.key")
	require.NoError(t, os.WriteFile(keyFile, priv, 0o600))
	signer, err := sign.LoadSigner(ctx, keyFile, nil)
	require.NoError(t, err)
	keys := []model.Key{{Name: "bench", PublicKey: string(pub), Roles: []string{model.RoleSign}}}

	o := signedledger.Options{Dir: dir, Signer: signer, Repository: "github.com/acme/changes",
		At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 5}
	n, first, err := signedledger.Write(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	o.Limit = 0
	n, head, err := signedledger.Write(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, 7, n, "only the tickets not signed yet")
	require.NotEqual(t, first, head)

	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	log, err := ledger.ReadAt(repo, head)
	require.NoError(t, err)
	require.NoError(t, log.Err())
	merges, err := validate.Mainline(ctx, dir, "HEAD", plumbing.ZeroHash)
	require.NoError(t, err)
	s, err := schema.Compile(nil)
	require.NoError(t, err)
	tickets := 0
	for _, m := range merges {
		for _, p := range m.Tickets {
			tickets++
			id := filepath.Base(p[:len(p)-len(".cue")])
			evs := log.Ticket(id)
			require.Len(t, evs, 1, id)
			assert.Equal(t, ledger.KindSigned, evs[0].Kind)
			src, err := os.ReadFile(filepath.Join(dir, p))
			require.NoError(t, err)
			parsed, ds := s.ParseTicket(p, src)
			require.NotNil(t, parsed, "%v", ds)
			_, err = sign.Verify(evs[0].Envelope, keys, sign.Expect{
				TicketPath: p, TicketDigest: sign.Digest(parsed.JSON), ID: id,
				Environments: parsed.Ticket.Environments, MergeCommit: m.Commit, Repository: "github.com/acme/changes",
			})
			require.NoError(t, err, id)
		}
	}
	assert.Equal(t, 12, tickets)
	assert.Len(t, log.States(), 12)
}
