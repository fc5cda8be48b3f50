package ledger

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/internal/gitx"
)

// message is the commit message of ev: "<kind> <ticket> [<env>]" and trailers.
func message(ev *Event) string {
	var b strings.Builder
	b.WriteString(ev.Kind + " " + ev.Ticket)
	if ev.Env != "" {
		b.WriteString(" " + ev.Env)
	}
	b.WriteString("\n\nCab-Ticket: " + ev.Ticket + "\n")
	if ev.Env != "" {
		b.WriteString("Cab-Env: " + ev.Env + "\n")
	}
	b.WriteString("Cab-Event: " + ev.Kind + "\n")
	return b.String()
}

// encodeEvent is the stored JSON form of ev.
func encodeEvent(ev *Event) ([]byte, error) {
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func storeObject(s storer.EncodedObjectStorer, enc interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	o := s.NewEncodedObject()
	if err := enc.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(o)
}

// subtree returns a copy of the entries of the tree named name in entries
// (none when there is no such entry); path names it in errors.
func subtree(objs Objects, entries []object.TreeEntry, name, path string) ([]object.TreeEntry, error) {
	for _, e := range entries {
		if e.Name != name {
			continue
		}
		if e.Mode != filemode.Dir {
			return nil, &CorruptError{Path: path, Reason: "not a directory"}
		}
		st, err := objs.Tree(e.Hash)
		if err != nil {
			return nil, fmt.Errorf("reading tree %s: %w", path, err)
		}
		return slices.Clone(st), nil
	}
	return nil, nil
}

// treeMemo reads trees through a storer and keeps the last ones read or
// written: an append writes the trees on the path to one ticket, which
// the read that follows and the next append read again. Small blobs (the
// layout marker, read on every append) are kept too.
type treeMemo struct {
	s     storer.EncodedObjectStorer
	trees map[plumbing.Hash][]object.TreeEntry
	small map[plumbing.Hash][]byte
}

// memoSize bounds the trees a treeMemo keeps (a handful per event).
const memoSize = 256

// smallBlob is the size up to which treeMemo keeps blobs.
const smallBlob = 64

func newTreeMemo(s storer.EncodedObjectStorer) *treeMemo {
	return &treeMemo{s: s, trees: map[plumbing.Hash][]object.TreeEntry{}, small: map[plumbing.Hash][]byte{}}
}

// over returns a memo reading through s (the objects of an append being
// built, see staging) that shares m's trees: what is kept is keyed by
// object id, whichever store it came from.
func (m *treeMemo) over(s storer.EncodedObjectStorer) *treeMemo {
	return &treeMemo{s: s, trees: m.trees, small: m.small}
}

func (m *treeMemo) Tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if t, ok := m.trees[h]; ok {
		return t, nil
	}
	t, err := StorerObjects(m.s).Tree(h)
	if err == nil {
		m.remember(h, t)
	}
	return t, err
}

func (m *treeMemo) Blob(h plumbing.Hash, limit int64) ([]byte, error) {
	if limit > smallBlob {
		return StorerObjects(m.s).Blob(h, limit)
	}
	if b, ok := m.small[h]; ok && int64(len(b)) <= limit {
		return b, nil
	}
	b, err := StorerObjects(m.s).Blob(h, limit)
	if err == nil {
		if len(m.small) >= memoSize {
			clear(m.small)
		}
		m.small[h] = b
	}
	return b, err
}

// remember keeps tree h (entries, not to be modified afterwards).
func (m *treeMemo) remember(h plumbing.Hash, entries []object.TreeEntry) {
	if len(m.trees) >= memoSize {
		clear(m.trees)
	}
	m.trees[h] = entries
}

// put replaces or adds the entry in entries and stores the sorted tree.
func put(s storer.EncodedObjectStorer, entries []object.TreeEntry, add ...object.TreeEntry) (*object.Tree, plumbing.Hash, error) {
	for _, a := range add {
		replaced := false
		for i := range entries {
			if entries[i].Name == a.Name {
				entries[i], replaced = a, true
			}
		}
		if !replaced {
			entries = append(entries, a)
		}
	}
	sortEntries(entries)
	t := &object.Tree{Entries: entries}
	h, err := storeObject(s, t)
	return t, h, err
}

// appendCommit stores one commit on top of parent (zero: a root commit,
// which starts a ledger of layout Version) adding ev's files where the
// layout of parent puts them, and returns its hash. Only the trees on
// the path to the ticket's directory are rewritten.
func appendCommit(s storer.EncodedObjectStorer, memo *treeMemo, parent plumbing.Hash, ev *Event, author object.Signature) (plumbing.Hash, error) {
	// ev was checked (ticket id, env, kind, seq) by the state machine
	// before reaching here; check again since the names become paths.
	if err := ev.check(); err != nil {
		return plumbing.ZeroHash, err
	}
	var rootEntries []object.TreeEntry
	var parents []plumbing.Hash
	version := Version
	if !parent.IsZero() {
		c, err := object.GetCommit(s, parent)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading ledger head %s: %w", parent, err)
		}
		root, err := memo.Tree(c.TreeHash)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading ledger tree: %w", err)
		}
		lo, err := readLayout(memo, c.TreeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		version, rootEntries, parents = lo.version, slices.Clone(root), []plumbing.Hash{parent}
	} else {
		vh, err := gitx.StoreBlob(s, versionContent)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		rootEntries = []object.TreeEntry{{Name: VersionFile, Mode: filemode.Regular, Hash: vh}}
	}
	// The trees from the root to the ticket's directory.
	tdir := pathIn(version, ev.Ticket, "")
	names := strings.Split(tdir, "/")
	levels := make([][]object.TreeEntry, len(names)+1)
	levels[0] = rootEntries
	for i, n := range names {
		var err error
		if levels[i+1], err = subtree(memo, levels[i], n, strings.Join(names[:i+1], "/")); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	ticketEntries := levels[len(names)]

	data, err := encodeEvent(ev)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding event: %w", err)
	}
	jh, err := gitx.StoreBlob(s, data)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	files := []object.TreeEntry{{Name: ev.name() + ".json", Mode: filemode.Regular, Hash: jh}}
	for _, e := range ticketEntries {
		if e.Name == files[0].Name {
			return plumbing.ZeroHash, &CorruptError{Path: tdir + "/" + e.Name, Reason: "already exists"}
		}
	}
	if len(ev.Envelope) > 0 {
		dh, err := gitx.StoreBlob(s, ev.Envelope)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		files = append(files, object.TreeEntry{Name: ev.name() + ".dsse", Mode: filemode.Regular, Hash: dh})
	}
	t, h, err := put(s, ticketEntries, files...)
	for i := len(names) - 1; i >= 0 && err == nil; i-- {
		memo.remember(h, t.Entries)
		t, h, err = put(s, levels[i], object.TreeEntry{Name: names[i], Mode: filemode.Dir, Hash: h})
	}
	if err == nil {
		memo.remember(h, t.Entries)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing tree: %w", err)
	}
	sig := author
	sig.When = ev.At
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message(ev),
		TreeHash:     h,
		ParentHashes: parents,
	}
	return storeObject(s, c)
}
