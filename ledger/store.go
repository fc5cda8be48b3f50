package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
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

func storeBlob(s storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	o := s.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(data)))
	w, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(o)
}

// subtree returns the entries of the tree named name in t (nil t or a
// missing entry give none).
func subtree(s storer.EncodedObjectStorer, t *object.Tree, name string) ([]object.TreeEntry, error) {
	if t == nil {
		return nil, nil
	}
	for _, e := range t.Entries {
		if e.Name != name {
			continue
		}
		if e.Mode != filemode.Dir {
			return nil, &CorruptError{Path: name, Reason: "not a directory"}
		}
		st, err := object.GetTree(s, e.Hash)
		if err != nil {
			return nil, fmt.Errorf("reading tree %s: %w", name, err)
		}
		return append([]object.TreeEntry(nil), st.Entries...), nil
	}
	return nil, nil
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
	sort.Sort(object.TreeEntrySorter(entries))
	t := &object.Tree{Entries: entries}
	h, err := storeObject(s, t)
	return t, h, err
}

// appendCommit stores one commit on top of parent (zero: a root commit)
// adding ev's files, and returns its hash.
func appendCommit(s storer.EncodedObjectStorer, parent plumbing.Hash, ev *Event, author object.Signature) (plumbing.Hash, error) {
	// ev was checked (ticket id, env, kind, seq) by the state machine
	// before reaching here; check again since the names become paths.
	if err := ev.check(); err != nil {
		return plumbing.ZeroHash, err
	}
	var root *object.Tree
	var parents []plumbing.Hash
	if !parent.IsZero() {
		c, err := object.GetCommit(s, parent)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading ledger head %s: %w", parent, err)
		}
		if root, err = c.Tree(); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading ledger tree: %w", err)
		}
		parents = []plumbing.Hash{parent}
	}
	ledgerEntries, err := subtree(s, root, dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var ledgerTree *object.Tree
	if len(ledgerEntries) > 0 {
		ledgerTree = &object.Tree{Entries: ledgerEntries}
	}
	ticketEntries, err := subtreeOf(s, ledgerTree, ev.Ticket)
	if err != nil {
		return plumbing.ZeroHash, err
	}

	data, err := encodeEvent(ev)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding event: %w", err)
	}
	jh, err := storeBlob(s, data)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	files := []object.TreeEntry{{Name: ev.name() + ".json", Mode: filemode.Regular, Hash: jh}}
	for _, e := range ticketEntries {
		if e.Name == files[0].Name {
			return plumbing.ZeroHash, &CorruptError{Path: dir + "/" + ev.Ticket + "/" + e.Name, Reason: "already exists"}
		}
	}
	if len(ev.Envelope) > 0 {
		dh, err := storeBlob(s, ev.Envelope)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		files = append(files, object.TreeEntry{Name: ev.name() + ".dsse", Mode: filemode.Regular, Hash: dh})
	}
	_, th, err := put(s, ticketEntries, files...)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing tree: %w", err)
	}
	_, lh, err := put(s, ledgerEntries, object.TreeEntry{Name: ev.Ticket, Mode: filemode.Dir, Hash: th})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing tree: %w", err)
	}
	var rootEntries []object.TreeEntry
	if root != nil {
		rootEntries = append(rootEntries, root.Entries...)
	}
	_, rh, err := put(s, rootEntries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: lh})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing tree: %w", err)
	}
	sig := author
	sig.When = ev.At
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message(ev),
		TreeHash:     rh,
		ParentHashes: parents,
	}
	return storeObject(s, c)
}

func subtreeOf(s storer.EncodedObjectStorer, t *object.Tree, name string) ([]object.TreeEntry, error) {
	es, err := subtree(s, t, name)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			ce.Path = dir + "/" + ce.Path
		}
	}
	return es, err
}
