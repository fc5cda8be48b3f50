package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/cabhq/cab/internal/gitx"
)

// migrationMessage is the commit message of the migration to layout 2:
// it records no event, so it has no Cab-Event trailer.
const migrationMessage = "migrate the ledger to layout 2\n\nCab-Ledger-Layout: 2\n"

// Migration is what Ledger.Migrate found and did.
type Migration struct {
	// From is the layout version found: 1 (migrated), 2 (nothing to do),
	// or 0 when there is no ledger yet (nothing to do: a new ledger
	// starts in layout 2).
	From int
	// Head is the ledger head afterwards: the migration commit when From
	// is 1.
	Head plumbing.Hash
	// Tickets is the number of ticket directories moved.
	Tickets int
}

// Migrate moves a layout 1 ledger to layout 2 in one commit, published
// like an event (a compare-and-swap on the branch, retried when another
// writer moved it first): every ticket directory moves, byte for byte
// (the same tree), to ledger/<last two digits>/<id>/, the file
// LEDGER-VERSION is added, and nothing else changes. It is the one
// commit AppendOnly and CheckAppendOnly accept that moves files, and
// only when it is exactly that. A ledger already in layout 2, or none,
// is left alone. Writers append in layout 2 from then on.
func (l *Ledger) Migrate(ctx context.Context) (*Migration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out *Migration
	head, err := l.transact(ctx, func(ctx context.Context, log *Log) (plumbing.Hash, error) {
		out = &Migration{Head: log.Head}
		if log.Head.IsZero() {
			return log.Head, nil
		}
		c, err := object.GetCommit(l.repo.Storer, log.Head)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading ledger head %s: %w", log.Head, err)
		}
		lo, err := readLayout(StorerObjects(l.repo.Storer), c.TreeHash)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading the layout of the ledger: %w", err)
		}
		if out.From = lo.version; lo.version != 1 {
			return log.Head, nil
		}
		st := newStaging(l.repo.Storer)
		root, n, err := migrateTree(StorerObjects(l.repo.Storer), st, c.TreeHash)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("migrating the ledger: %w", err)
		}
		now := l.Now
		if now == nil {
			now = time.Now
		}
		sig := l.Author
		sig.When = now().UTC()
		head, err := storeObject(st, &object.Commit{
			Author: sig, Committer: sig, Message: migrationMessage, TreeHash: root, ParentHashes: []plumbing.Hash{log.Head},
		})
		if err == nil {
			_, err = st.store()
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("storing the migration commit: %w", err)
		}
		out.Tickets = n
		return head, nil
	})
	if err != nil {
		return nil, err
	}
	if head != out.Head {
		if _, err := l.readLog(head); err != nil {
			return nil, err
		}
		out.Head = head
	}
	return out, nil
}

// migrateTree stores in s the layout 2 tree of the layout 1 ledger tree
// root (read through objs) and returns its id and the number of ticket
// directories moved. Every ticket directory (a valid id naming a
// directory) moves, as the same tree, under its shard; every other entry
// stays where it is; LEDGER-VERSION is added. An entry of ledger/ that is
// not a ticket directory but has a shard's name cannot be kept in place:
// a *CorruptError.
func migrateTree(objs Objects, s storer.EncodedObjectStorer, root plumbing.Hash) (plumbing.Hash, int, error) {
	entries, err := objs.Tree(root)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("reading the ledger tree %s: %w", root, err)
	}
	vh, err := gitx.StoreBlob(s, versionContent)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	out := []object.TreeEntry{{Name: VersionFile, Mode: filemode.Regular, Hash: vh}}
	n := 0
	for _, e := range entries {
		switch {
		case e.Name == VersionFile:
			return plumbing.ZeroHash, 0, &CorruptError{Path: VersionFile, Reason: "already there: not a layout 1 ledger"}
		case e.Name != dir:
			out = append(out, e)
		case e.Mode != filemode.Dir:
			return plumbing.ZeroHash, 0, &CorruptError{Path: dir, Reason: "not a directory"}
		default:
			var h plumbing.Hash
			if h, n, err = migrateDir(objs, s, e.Hash); err != nil {
				return plumbing.ZeroHash, 0, err
			}
			out = append(out, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h})
		}
	}
	h, err := storeSorted(s, out)
	return h, n, err
}

// migrateDir stores the layout 2 ledger/ of the layout 1 ledger/ tree h.
func migrateDir(objs Objects, s storer.EncodedObjectStorer, h plumbing.Hash) (plumbing.Hash, int, error) {
	entries, err := objs.Tree(h)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("reading %s/: %w", dir, err)
	}
	shards := map[string][]object.TreeEntry{}
	var out []object.TreeEntry
	n := 0
	for _, e := range entries {
		if ValidTicketID(e.Name) && e.Mode == filemode.Dir {
			shards[shardOf(e.Name)] = append(shards[shardOf(e.Name)], e)
			n++
			continue
		}
		out = append(out, e)
	}
	for _, e := range out {
		if _, taken := shards[e.Name]; taken || isShard(e.Name) {
			return plumbing.ZeroHash, 0, &CorruptError{Path: dir + "/" + e.Name, Reason: "not a ticket directory, and named like a layout 2 shard: cannot migrate"}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(shards)) {
		sh, err := storeSorted(s, shards[name])
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		out = append(out, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: sh})
	}
	lh, err := storeSorted(s, out)
	return lh, n, err
}

// checkMigration returns how the tree root of a commit whose parent's
// tree is parent (layout 1) differs from the exact migration of parent
// to layout 2 (nothing: it is that migration): the entries it loses or
// changes, and those it adds.
func checkMigration(objs Objects, parent, root plumbing.Hash) ([]Change, error) {
	ov := newOverlay(objs)
	want, _, err := migrateTree(ov, ov.mem, parent)
	var ce *CorruptError
	if errors.As(err, &ce) {
		// No migration of this ledger exists: whatever the commit did, it
		// is not one. Name what it lost, or the marker it added.
		changes, err := diffTrees(objs, parent, root, false)
		if err == nil && len(changes) == 0 {
			changes = []Change{{Path: VersionFile, What: "adds"}}
		}
		return changes, err
	}
	if err != nil {
		return nil, err
	}
	if want == root {
		return nil, nil
	}
	changes, err := diffTrees(ov, want, root, true)
	if err == nil && len(changes) == 0 {
		changes = []Change{{Path: "/", What: "modifies"}} // the same entries, otherwise encoded
	}
	return changes, err
}

// storeSorted stores a tree of entries, sorted as git sorts them.
func storeSorted(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	entries = slices.Clone(entries)
	sortEntries(entries)
	return storeObject(s, &object.Tree{Entries: entries})
}

// sortEntries sorts tree entries as git does: by name, a directory's
// name compared as if it ended in "/" (without building that string).
func sortEntries(entries []object.TreeEntry) {
	slices.SortFunc(entries, func(a, b object.TreeEntry) int {
		n := min(len(a.Name), len(b.Name))
		if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
			return c
		}
		return cmp.Compare(nameByte(a, n), nameByte(b, n))
	})
}

// nameByte is byte i of e's name as git sorts it: "/" past the end of a
// directory's name, 0 past the end of a file's.
func nameByte(e object.TreeEntry, i int) byte {
	switch {
	case i < len(e.Name):
		return e.Name[i]
	case e.Mode == filemode.Dir:
		return '/'
	}
	return 0
}

// overlay reads objects from a memory store first, then from base: the
// trees of a migration computed to be compared, never stored in the
// repository.
type overlay struct {
	mem  *memory.Storage
	base Objects
}

func newOverlay(base Objects) *overlay { return &overlay{mem: memory.NewStorage(), base: base} }

func (o *overlay) Tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if _, err := o.mem.EncodedObject(plumbing.TreeObject, h); err == nil {
		return StorerObjects(o.mem).Tree(h)
	}
	return o.base.Tree(h)
}

func (o *overlay) Blob(h plumbing.Hash, limit int64) ([]byte, error) {
	if _, err := o.mem.EncodedObject(plumbing.BlobObject, h); err == nil {
		return StorerObjects(o.mem).Blob(h, limit)
	}
	return o.base.Blob(h, limit)
}

// treeCache keeps the trees read for one commit and its parent: walking
// a chain, each commit's trees are its child's parent trees, read once.
// Small blobs (the layout marker) are kept for the whole walk.
type treeCache struct {
	base     Objects
	cur, old map[plumbing.Hash][]object.TreeEntry
	blobs    map[plumbing.Hash][]byte
}

func newTreeCache(base Objects) *treeCache {
	return &treeCache{base: base, cur: map[plumbing.Hash][]object.TreeEntry{}, blobs: map[plumbing.Hash][]byte{}}
}

func (c *treeCache) Tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if t, ok := c.cur[h]; ok {
		return t, nil
	}
	t, ok := c.old[h]
	if !ok {
		var err error
		if t, err = c.base.Tree(h); err != nil {
			return nil, err
		}
	}
	c.cur[h] = t
	return t, nil
}

func (c *treeCache) Blob(h plumbing.Hash, limit int64) ([]byte, error) {
	if limit > 64 {
		return c.base.Blob(h, limit)
	}
	if b, ok := c.blobs[h]; ok {
		return b, nil
	}
	b, err := c.base.Blob(h, limit)
	if err == nil {
		c.blobs[h] = b
	}
	return b, err
}

// rotate forgets the trees read before the last commit's.
func (c *treeCache) rotate() {
	c.old, c.cur = c.cur, make(map[plumbing.Hash][]object.TreeEntry, len(c.cur))
}
