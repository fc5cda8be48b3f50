package ledger

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitx"
)

// testKey is a DSSE signer and a verifier trusting only it.
type testKey struct {
	sv signature.SignerVerifier
	id string
}

func newTestKey(t *testing.T) *testKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	id, err := ssldsse.SHA256KeyID(priv.Public())
	require.NoError(t, err)
	return &testKey{sv: sv, id: id}
}

func (k *testKey) KeyID() string { return k.id }

func (k *testKey) SignPayload(ctx context.Context, payloadType string, payload []byte) ([]byte, error) {
	pub, _ := k.sv.PublicKey()
	es, err := ssldsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: k.sv, Pub: pub, PubKeyID: k.id})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, payloadType, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

func (k *testKey) VerifyPayload(envelope []byte, payloadType string) ([]byte, error) {
	var p []byte
	v := sigdsse.WrapVerifier(k.sv, sigdsse.WithExpectedPayloadType(payloadType), sigdsse.WithDecodedPayload(&p))
	if err := v.VerifySignature(bytesReader(envelope), nil); err != nil {
		return nil, err
	}
	return p, nil
}

// editHead commits on top of the local ledger branch the root tree edit
// returns: what cab never writes.
func editHead(t *testing.T, repo *git.Repository, l *Ledger, edit func(s *object.Tree) []object.TreeEntry) plumbing.Hash {
	t.Helper()
	ref, err := repo.Reference(l.branchRef(), true)
	require.NoError(t, err)
	c, err := repo.CommitObject(ref.Hash())
	require.NoError(t, err)
	root, err := c.Tree()
	require.NoError(t, err)
	h := storeTree(t, repo, edit(root))
	sig := object.Signature{Name: "Mallory", Email: "m@example.com", When: t0}
	nc := &object.Commit{Author: sig, Committer: sig, Message: "tamper\n", TreeHash: h, ParentHashes: []plumbing.Hash{c.Hash}}
	obj := repo.Storer.NewEncodedObject()
	require.NoError(t, nc.Encode(obj))
	head, err := repo.Storer.SetEncodedObject(obj)
	require.NoError(t, err)
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(l.branchRef(), head)))
	return head
}

// addFile returns the root entries with the file name of ticket id set
// to data.
func addFile(t *testing.T, repo *git.Repository, root *object.Tree, id, name string, data []byte) []object.TreeEntry {
	t.Helper()
	bh, err := gitx.StoreBlob(repo.Storer, data)
	require.NoError(t, err)
	return setEntry(t, repo, root.Entries, Path(id, name), &object.TreeEntry{Mode: filemode.Regular, Hash: bh})
}

// TestBrokenTicketIsSetAsideOthersRead: a second signed event, an
// impossible transition or an undecodable file sets that ticket aside;
// every other ticket reads, and nothing more is appended to the broken one.
func TestBrokenTicketIsSetAsideOthersRead(t *testing.T) {
	for _, tc := range []struct {
		name, file, data string
		want             error
	}{
		{"duplicate signed", "2-signed.json", `{"seq": 2, "ticket": "CHG-2026-0001", "kind": "signed", "at": "2026-06-01T12:00:00Z"}`, ErrTransition},
		{"impossible transition", "2-verified.json", `{"seq": 2, "ticket": "CHG-2026-0001", "env": "prod", "kind": "verified", "at": "2026-06-01T12:00:00Z"}`, ErrTransition},
		{"bad seq", "3-scheduled.json", `{"seq": 3, "ticket": "CHG-2026-0001", "env": "prod", "kind": "scheduled", "at": "2026-06-01T12:00:00Z"}`, nil},
		{"undecodable", "2-applying.json", `{not json`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			repo, err := git.Init(memory.NewStorage(), nil)
			require.NoError(t, err)
			l := Open(repo, "", "")
			_, err = l.Update(ctx, add(
				Event{Ticket: "CHG-2026-0001", Kind: KindSigned},
				Event{Ticket: "CHG-2026-0002", Kind: KindSigned},
			))
			require.NoError(t, err)
			editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return addFile(t, repo, root, "CHG-2026-0001", tc.file, []byte(tc.data))
			})

			log, err := l.Read(ctx)
			require.NoError(t, err, "one broken ticket does not stop the reader")
			assert.True(t, log.SetAside("CHG-2026-0001"))
			assert.False(t, log.SetAside("CHG-2026-0002"))
			require.NotEmpty(t, log.Problems["CHG-2026-0001"])
			if tc.want != nil {
				assert.ErrorIs(t, log.Problems["CHG-2026-0001"][0], tc.want)
			}
			assert.Equal(t, KindSigned, log.State("CHG-2026-0002").Status)
			assert.Len(t, log.Ticket("CHG-2026-0002"), 1)
			assert.Empty(t, log.Ticket("CHG-2026-0001"))
			assert.Error(t, log.Err(), "the strict reading fails")

			// Appending to the set-aside ticket is refused; to the other, not.
			_, err = l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Env: "prod", Kind: KindScheduled}))
			assert.ErrorIs(t, err, ErrTransition)
			_, err = l.Update(ctx, add(Event{Ticket: "CHG-2026-0002", Env: "prod", Kind: KindScheduled}))
			assert.NoError(t, err)
		})
	}
}

// TestOutcomesAreSignedAndChecked: Update signs every outcome with its
// Signer, evidence included; a reader with a verifier takes signed
// outcomes and ignores (and reports, naming the ticket) an unsigned one,
// one signed by another key and one carrying another event's envelope,
// each of which still holds its sequence number.
func TestOutcomesAreSignedAndChecked(t *testing.T) {
	ctx := context.Background()
	rec, other := newTestKey(t), newTestKey(t)
	for _, tc := range []struct {
		name string
		dsse func(forged, applying *Event) []byte // nil: none
		want string
	}{
		{"unsigned", nil, "no envelope"},
		{"another key", func(forged, _ *Event) []byte {
			c, err := Canonical(forged)
			require.NoError(t, err)
			env, err := other.SignPayload(ctx, EventPayloadType, c)
			require.NoError(t, err)
			return env
		}, "verif"},
		{"another event's envelope", func(_, applying *Event) []byte { return applying.Envelope }, "the envelope signs another event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := git.Init(memory.NewStorage(), nil)
			require.NoError(t, err)
			l := Open(repo, "", "")
			l.Now = fixedClock()
			l.Signer = rec
			l.SetVerifier(rec)
			log, err := l.Update(ctx, add(
				Event{Ticket: "CHG-2026-0001", Kind: KindSigned},
				Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: KindApplying, Data: []byte(`{"previous":[{"value":"a<b"}]}`)},
				Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: KindApplied},
			))
			require.NoError(t, err)
			require.Empty(t, log.Problems)
			evs := log.Ticket("CHG-2026-0001")
			require.Len(t, evs, 3)
			assert.Empty(t, evs[0].Envelope, "signed keeps the ticket's own envelope (none here)")
			payload, err := rec.VerifyPayload(evs[1].Envelope, EventPayloadType)
			require.NoError(t, err)
			var signed Event
			require.NoError(t, json.Unmarshal(payload, &signed))
			assert.JSONEq(t, `{"previous":[{"value":"a<b"}]}`, string(signed.Data), "the evidence is inside the signed payload")

			forged := Event{Seq: 4, Ticket: "CHG-2026-0001", Env: "staging", Kind: KindVerified, At: t0, Actor: "rc"}
			data, err := encodeEvent(&forged)
			require.NoError(t, err)
			editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return addFile(t, repo, root, "CHG-2026-0001", "4-verified.json", data)
			})
			if tc.dsse != nil {
				editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
					return addFile(t, repo, root, "CHG-2026-0001", "4-verified.dsse", tc.dsse(&forged, &evs[1]))
				})
			}

			log, err = l.Read(ctx)
			require.NoError(t, err)
			st := log.State("CHG-2026-0001")
			assert.False(t, log.SetAside("CHG-2026-0001"), "a forged outcome is ignored, not a reason to set the ticket aside")
			assert.Equal(t, KindApplied, st.Envs["staging"], "the forged verified is not in the state")
			assert.Equal(t, 4, st.Seq, "but it holds its sequence number")
			var oe *OutcomeError
			require.ErrorAs(t, errors.Join(log.Problems["CHG-2026-0001"]...), &oe)
			assert.ErrorIs(t, oe, ErrUnverifiedOutcome)
			assert.Equal(t, 4, oe.Seq)
			assert.Contains(t, oe.Error(), tc.want)
			assert.Contains(t, oe.Error(), "CHG-2026-0001")
			assert.Len(t, log.Ticket("CHG-2026-0001"), 3, "the forged event is not among the events")

			// Without a verifier (cab log), it is read as it is.
			plain, err := ReadAt(repo, log.Head)
			require.NoError(t, err)
			assert.Equal(t, KindVerified, plain.State("CHG-2026-0001").Envs["staging"])

			// The reconciler's next event goes after it, without collision.
			next, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: KindFailed}))
			require.NoError(t, err)
			assert.Equal(t, 5, next.State("CHG-2026-0001").Seq)
			assert.Equal(t, KindFailed, next.State("CHG-2026-0001").Envs["staging"])
		})
	}
}

// TestCheckAppendOnly: a ledger that only grew passes; a rewind, a commit
// deleting, editing or renaming events, and a merge fail, naming every
// ticket concerned.
func TestCheckAppendOnly(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*git.Repository, *Ledger, plumbing.Hash) {
		repo, err := git.Init(memory.NewStorage(), nil)
		require.NoError(t, err)
		l := Open(repo, "", "")
		log, err := l.Update(ctx, add(
			Event{Ticket: "CHG-2026-0001", Kind: KindSigned},
			Event{Ticket: "CHG-2026-0002", Kind: KindSigned},
			Event{Ticket: "CHG-2026-0002", Env: "prod", Kind: KindScheduled},
		))
		require.NoError(t, err)
		return repo, l, log.Head
	}
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, repo *git.Repository, l *Ledger) plumbing.Hash
		tickets []string
		paths   []string
	}{
		{"delete", func(t *testing.T, repo *git.Repository, l *Ledger) plumbing.Hash {
			return editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return dropFile(t, repo, root, "CHG-2026-0002", "2-scheduled.json")
			})
		}, []string{"CHG-2026-0002"}, []string{"deletes " + Path("CHG-2026-0002", "2-scheduled.json")}},
		{"delete a ticket and edit another", func(t *testing.T, repo *git.Repository, l *Ledger) plumbing.Hash {
			editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return addFile(t, repo, root, "CHG-2026-0001", "1-signed.json", []byte("{}"))
			})
			return editHead(t, repo, l, func(root *object.Tree) []object.TreeEntry {
				return setEntry(t, repo, root.Entries, Path("CHG-2026-0002", ""), nil)
			})
		}, []string{"CHG-2026-0001", "CHG-2026-0002"}, []string{"modifies " + Path("CHG-2026-0001", "1-signed.json"), "deletes " + Path("CHG-2026-0002", "")}},
		{"rewind", func(t *testing.T, repo *git.Repository, l *Ledger) plumbing.Hash {
			// Back to before the checkpoint's last event.
			ref, err := repo.Reference(l.branchRef(), true)
			require.NoError(t, err)
			c, err := repo.CommitObject(ref.Hash())
			require.NoError(t, err)
			c, err = c.Parent(0) // the checkpoint
			require.NoError(t, err)
			h := c.ParentHashes[0]
			require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(l.branchRef(), h)))
			return h
		}, []string{"CHG-2026-0002"}, []string{"deletes " + Path("CHG-2026-0002", "2-scheduled.json")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, l, checkpoint := setup(t)
			require.NoError(t, CheckAppendOnly(context.Background(), repo, checkpoint, checkpoint))
			grown, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0003", Kind: KindSigned}))
			require.NoError(t, err)
			require.NoError(t, CheckAppendOnly(context.Background(), repo, checkpoint, grown.Head), "an append is no rewrite")
			require.NoError(t, CheckAppendOnly(context.Background(), repo, plumbing.ZeroHash, grown.Head), "no checkpoint yet: trust on first use")

			head := tc.edit(t, repo, l)
			err = CheckAppendOnly(context.Background(), repo, checkpoint, head)
			var ce *CheckpointError
			require.ErrorAs(t, err, &ce)
			assert.ErrorIs(t, err, ErrNotAppendOnly)
			assert.Equal(t, tc.tickets, ce.Tickets())
			var got []string
			for _, c := range ce.Changes {
				got = append(got, c.What+" "+c.Path)
			}
			assert.Equal(t, tc.paths, got)
			for _, id := range tc.tickets {
				assert.Contains(t, err.Error(), id)
			}

			// A guarded ledger refuses to read it, and keeps refusing.
			g := Open(repo, "", "")
			g.Guard(checkpoint)
			for range 2 {
				_, err = g.Read(ctx)
				assert.ErrorIs(t, err, ErrNotAppendOnly)
				assert.Equal(t, checkpoint, g.Checkpoint(), "the checkpoint does not move past a rewrite")
			}
		})
	}
}

// dropFile returns the root entries without the file name of ticket id.
func dropFile(t *testing.T, repo *git.Repository, root *object.Tree, id, name string) []object.TreeEntry {
	t.Helper()
	return setEntry(t, repo, root.Entries, Path(id, name), nil)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
