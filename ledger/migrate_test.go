package ledger

import (
	"context"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/gitx"
)

// layout1 rewrites the first-parent history ending at head into layout 1,
// commit by commit (same messages, authors and files, at ledger/<id>/, no
// LEDGER-VERSION), as cab wrote ledgers before layout 2, and returns the
// new head.
func layout1(t testing.TB, repo *git.Repository, head plumbing.Hash) plumbing.Hash {
	t.Helper()
	var chain []*object.Commit
	for h := head; !h.IsZero(); {
		c, err := repo.CommitObject(h)
		require.NoError(t, err)
		chain = append(chain, c)
		h = plumbing.ZeroHash
		if c.NumParents() > 0 {
			h = c.ParentHashes[0]
		}
	}
	parent := plumbing.ZeroHash
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		ls, err := List(StorerObjects(repo.Storer), c.TreeHash)
		require.NoError(t, err)
		require.Equal(t, 2, ls.Version)
		var entries []object.TreeEntry
		for _, td := range ls.Tickets {
			entries = append(entries, object.TreeEntry{Name: td.ID, Mode: filemode.Dir, Hash: td.Tree})
		}
		lh, err := storeSorted(repo.Storer, entries)
		require.NoError(t, err)
		root, err := storeSorted(repo.Storer, []object.TreeEntry{{Name: dir, Mode: filemode.Dir, Hash: lh}})
		require.NoError(t, err)
		nc := &object.Commit{Author: c.Author, Committer: c.Committer, Message: c.Message, TreeHash: root}
		if !parent.IsZero() {
			nc.ParentHashes = []plumbing.Hash{parent}
		}
		parent, err = storeObject(repo.Storer, nc)
		require.NoError(t, err)
	}
	return parent
}

// v1Ledger is a ledger of three tickets with signed outcomes and an
// envelope on signed, written in layout 1 on the local branch.
func v1Ledger(t *testing.T) (*git.Repository, *testKey, plumbing.Hash) {
	t.Helper()
	ctx := context.Background()
	repo, err := git.Init(memory.NewStorage(), nil)
	require.NoError(t, err)
	rec := newTestKey(t)
	l := Open(repo, "", "")
	l.Now, l.Signer = fixedClock(), rec
	var evs []Event
	for _, id := range []string{"CHG-2026-0001", "CHG-2026-0042", "CHG-2026-100042"} {
		evs = append(evs,
			Event{Ticket: id, Kind: KindSigned, Envelope: []byte(`{"payloadType":"x","payload":"e30=","signatures":[]}`), Data: []byte(`{"pr":7}`)},
			Event{Ticket: id, Env: "staging", Kind: KindApplying, Data: []byte(`{"previous":[{"value":"a<b"}]}`)},
			Event{Ticket: id, Env: "staging", Kind: KindApplied})
	}
	log, err := l.Update(ctx, add(evs...))
	require.NoError(t, err)
	head := layout1(t, repo, log.Head)
	require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(l.branchRef(), head)))
	return repo, rec, head
}

// TestMigrateKeepsEveryEvent: a layout 1 ledger reads and is appended in
// layout 1; Migrate moves it to layout 2 in one commit that the
// append-only checks accept, after which the log is the same, event by
// event and byte for byte, and appends go to layout 2 paths.
func TestMigrateKeepsEveryEvent(t *testing.T) {
	ctx := context.Background()
	repo, rec, v1 := v1Ledger(t)
	ls := listAt(t, repo, v1)
	require.Equal(t, 1, ls.Version)
	assert.Equal(t, "ledger/CHG-2026-0042", ls.Tickets[1].Path)

	l := Open(repo, "", "")
	l.Now, l.Signer = fixedClock(), rec
	l.SetVerifier(rec)
	before, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0042", Env: "staging", Kind: KindVerified}))
	require.NoError(t, err)
	require.Empty(t, before.Problems)
	require.Len(t, before.Events(), 10)
	assert.Equal(t, 1, listAt(t, repo, before.Head).Version, "a layout 1 ledger is appended in layout 1")
	fileAt(t, repo, before.Head, "ledger/CHG-2026-0042/4-verified.json")

	m, err := l.Migrate(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, m.From)
	assert.Equal(t, 3, m.Tickets)
	c, err := repo.CommitObject(m.Head)
	require.NoError(t, err)
	assert.Equal(t, []plumbing.Hash{before.Head}, c.ParentHashes, "one commit on top")
	assert.Equal(t, migrationMessage, c.Message)
	ls = listAt(t, repo, m.Head)
	require.Equal(t, 2, ls.Version)
	old := listAt(t, repo, before.Head)
	require.Len(t, ls.Tickets, len(old.Tickets))
	for i, td := range ls.Tickets {
		assert.Equal(t, old.Tickets[i].Tree, td.Tree, "%s moved as the same tree, byte for byte", td.ID)
		assert.Equal(t, Path(td.ID, ""), td.Path)
	}
	assert.Equal(t, "ledger/42/CHG-2026-100042", Path("CHG-2026-100042", ""))

	require.NoError(t, AppendOnly(context.Background(), repo, m.Head, plumbing.ZeroHash))
	require.NoError(t, CheckAppendOnly(context.Background(), repo, before.Head, m.Head))
	require.NoError(t, CheckAppendOnly(context.Background(), repo, v1, m.Head))

	for _, read := range []func() (*Log, error){
		func() (*Log, error) { return l.Read(ctx) },
		func() (*Log, error) { g := Open(repo, "", ""); g.SetVerifier(rec); g.Guard(v1); return g.Read(ctx) },
	} {
		after, err := read()
		require.NoError(t, err)
		assert.Equal(t, m.Head, after.Head)
		assert.Equal(t, before.Events(), after.Events(), "every event, byte for byte")
		assert.Equal(t, before.States(), after.States())
		assert.Empty(t, after.Problems)
	}

	next, err := l.Update(ctx, add(Event{Ticket: "CHG-2026-0001", Env: "staging", Kind: KindVerified}))
	require.NoError(t, err)
	fileAt(t, repo, next.Head, "ledger/01/CHG-2026-0001/4-verified.json")
	fileAt(t, repo, next.Head, "ledger/01/CHG-2026-0001/4-verified.dsse")
	require.NoError(t, AppendOnly(context.Background(), repo, next.Head, plumbing.ZeroHash))
	require.NoError(t, CheckAppendOnly(context.Background(), repo, v1, next.Head))

	again, err := l.Migrate(ctx)
	require.NoError(t, err)
	assert.Equal(t, &Migration{From: 2, Head: next.Head}, again, "already layout 2: nothing to do")
	empty, err := Open(must(git.Init(memory.NewStorage(), nil)), "", "").Migrate(ctx)
	require.NoError(t, err)
	assert.Equal(t, &Migration{}, empty, "no ledger: nothing to do")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func listAt(t *testing.T, repo *git.Repository, head plumbing.Hash) *Listing {
	t.Helper()
	c, err := repo.CommitObject(head)
	require.NoError(t, err)
	ls, err := List(StorerObjects(repo.Storer), c.TreeHash)
	require.NoError(t, err)
	return ls
}

func fileAt(t *testing.T, repo *git.Repository, head plumbing.Hash, path string) {
	t.Helper()
	c, err := repo.CommitObject(head)
	require.NoError(t, err)
	root, err := c.Tree()
	require.NoError(t, err)
	entryAt(t, root, path)
}

// TestForgedMigrationsAreRewrites: a commit that moves a layout 1 ledger
// to layout 2 and does anything but that is refused by AppendOnly (named
// as not a lossless migration) and CheckAppendOnly (naming every ticket
// and path), and a guarded reader refuses it.
func TestForgedMigrationsAreRewrites(t *testing.T) {
	blob := func(t *testing.T, repo *git.Repository, data string) *object.TreeEntry {
		h, err := gitx.StoreBlob(repo.Storer, []byte(data))
		require.NoError(t, err)
		return &object.TreeEntry{Mode: filemode.Regular, Hash: h}
	}
	for _, tc := range []struct {
		name    string
		forge   func(t *testing.T, repo *git.Repository, root *object.Tree) []object.TreeEntry
		tickets []string
		changes []string
	}{
		{"drop one event", func(t *testing.T, repo *git.Repository, root *object.Tree) []object.TreeEntry {
			return setEntry(t, repo, root.Entries, "ledger/42/CHG-2026-0042/3-applied.json", nil)
		}, []string{"CHG-2026-0042"}, []string{"deletes ledger/42/CHG-2026-0042/3-applied.json"}},
		{"edit one event", func(t *testing.T, repo *git.Repository, root *object.Tree) []object.TreeEntry {
			return setEntry(t, repo, root.Entries, "ledger/01/CHG-2026-0001/1-signed.dsse", blob(t, repo, "{}"))
		}, []string{"CHG-2026-0001"}, []string{"modifies ledger/01/CHG-2026-0001/1-signed.dsse"}},
		{"add one event", func(t *testing.T, repo *git.Repository, root *object.Tree) []object.TreeEntry {
			return setEntry(t, repo, root.Entries, "ledger/01/CHG-2026-0001/4-verified.json",
				blob(t, repo, `{"seq": 4, "ticket": "CHG-2026-0001", "env": "staging", "kind": "verified", "at": "2026-06-01T12:00:00Z"}`))
		}, []string{"CHG-2026-0001"}, []string{"adds ledger/01/CHG-2026-0001/4-verified.json"}},
		{"move one event to a wrong id", func(t *testing.T, repo *git.Repository, root *object.Tree) []object.TreeEntry {
			e := entryAt(t, root, "ledger/42/CHG-2026-0042/3-applied.json")
			entries := setEntry(t, repo, root.Entries, "ledger/42/CHG-2026-0042/3-applied.json", nil)
			return setEntry(t, repo, entries, "ledger/01/CHG-2026-0001/3-applied.json", &e)
		}, []string{"CHG-2026-0001", "CHG-2026-0042"}, []string{"deletes ledger/42/CHG-2026-0042/3-applied.json", "modifies ledger/01/CHG-2026-0001/3-applied.json"}},
		{"move a ticket to another shard", func(t *testing.T, repo *git.Repository, root *object.Tree) []object.TreeEntry {
			e := entryAt(t, root, "ledger/01/CHG-2026-0001")
			entries := setEntry(t, repo, root.Entries, "ledger/01/CHG-2026-0001", nil)
			return setEntry(t, repo, entries, "ledger/07/CHG-2026-0001", &e)
		}, []string{"CHG-2026-0001"}, []string{"deletes ledger/01/CHG-2026-0001", "adds ledger/07/CHG-2026-0001"}},
		// nil: the layout 1 tree as it is, plus LEDGER-VERSION.
		{"marker only", nil, []string{"CHG-2026-0001", "CHG-2026-0042", "CHG-2026-100042"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			repo, rec, v1 := v1Ledger(t)
			pc, err := repo.CommitObject(v1)
			require.NoError(t, err)
			want, _, err := migrateTree(StorerObjects(repo.Storer), repo.Storer, pc.TreeHash)
			require.NoError(t, err)
			wantTree, err := object.GetTree(repo.Storer, want)
			require.NoError(t, err)
			var entries []object.TreeEntry
			if tc.forge != nil {
				entries = tc.forge(t, repo, wantTree)
			} else {
				v1Tree, err := pc.Tree()
				require.NoError(t, err)
				entries = setEntry(t, repo, v1Tree.Entries, VersionFile, blob(t, repo, "2\n"))
			}
			root, err := storeSorted(repo.Storer, entries)
			require.NoError(t, err)
			sig := object.Signature{Name: "Mallory", Email: "m@example.com", When: t0}
			bad, err := storeObject(repo.Storer, &object.Commit{Author: sig, Committer: sig, Message: migrationMessage, TreeHash: root, ParentHashes: []plumbing.Hash{v1}})
			require.NoError(t, err)

			err = AppendOnly(context.Background(), repo, bad, plumbing.ZeroHash)
			var ae *AppendOnlyError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, bad, ae.Commit)
			assert.Contains(t, err.Error(), "is not a lossless migration to layout 2")

			err = CheckAppendOnly(context.Background(), repo, v1, bad)
			var ce *CheckpointError
			require.ErrorAs(t, err, &ce)
			assert.ErrorIs(t, err, ErrNotAppendOnly)
			assert.Equal(t, tc.tickets, ce.Tickets())
			var got []string
			for _, c := range ce.Changes {
				got = append(got, c.What+" "+c.Path)
			}
			for _, c := range tc.changes {
				assert.Contains(t, got, c)
			}

			require.NoError(t, repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(DefaultBranch), bad)))
			g := Open(repo, "", "")
			g.SetVerifier(rec)
			g.Guard(v1)
			_, err = g.Read(ctx)
			assert.ErrorIs(t, err, ErrNotAppendOnly, "a reconciler stops")
			_, err = g.Migrate(ctx)
			assert.ErrorIs(t, err, ErrNotAppendOnly)
		})
	}
}

// TestReadBothLayouts: the same events read the same from a layout 1 and
// a layout 2 branch, with ReadAt and a Ledger, and a layout cab does not
// know is reported, not guessed.
func TestReadBothLayouts(t *testing.T) {
	repo, _, v1 := v1Ledger(t)
	m, err := Open(repo, "", "").Migrate(context.Background())
	require.NoError(t, err)
	a, err := ReadAt(repo, v1)
	require.NoError(t, err)
	b, err := ReadAt(repo, m.Head)
	require.NoError(t, err)
	assert.Equal(t, a.Events(), b.Events())
	assert.Equal(t, a.States(), b.States())
	assert.Len(t, a.Events(), 9)

	// A marker naming a layout this cab does not know.
	c, err := repo.CommitObject(m.Head)
	require.NoError(t, err)
	tree, err := c.Tree()
	require.NoError(t, err)
	vh, err := gitx.StoreBlob(repo.Storer, []byte("3\n"))
	require.NoError(t, err)
	root, err := storeSorted(repo.Storer, setEntry(t, repo, tree.Entries, VersionFile, &object.TreeEntry{Mode: filemode.Regular, Hash: vh}))
	require.NoError(t, err)
	sig := object.Signature{Name: "x", Email: "x@example.com", When: t0}
	h, err := storeObject(repo.Storer, &object.Commit{Author: sig, Committer: sig, Message: "v3\n", TreeHash: root, ParentHashes: []plumbing.Hash{m.Head}})
	require.NoError(t, err)
	log, err := ReadAt(repo, h)
	require.NoError(t, err)
	assert.Empty(t, log.Events())
	require.Len(t, log.Problems[""], 1)
	assert.Contains(t, log.Problems[""][0].Error(), `LEDGER-VERSION: layout version "3"`)
	err = AppendOnly(context.Background(), repo, h, plumbing.ZeroHash)
	assert.ErrorIs(t, err, ErrNotAppendOnly, "changing the marker is an edit")
}

// TestMigrateRefusesWhatItCannotKeep: a layout 1 ledger/ entry named like
// a shard cannot stay in place: Migrate refuses rather than lose it.
func TestMigrateRefusesWhatItCannotKeep(t *testing.T) {
	repo, _, v1 := v1Ledger(t)
	c, err := repo.CommitObject(v1)
	require.NoError(t, err)
	tree, err := c.Tree()
	require.NoError(t, err)
	bh, err := gitx.StoreBlob(repo.Storer, []byte("x"))
	require.NoError(t, err)
	_, _, err = migrateTree(StorerObjects(repo.Storer), repo.Storer, must(storeSorted(repo.Storer, setEntry(t, repo, tree.Entries, "ledger/42", &object.TreeEntry{Mode: filemode.Regular, Hash: bh}))))
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "ledger/42", ce.Path)
}
