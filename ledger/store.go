package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// dir is the directory of the ledger branch holding one directory per ticket.
const dir = "ledger"

// maxFile bounds the size of one file read from the ledger branch.
const maxFile = 4 << 20

var fileRE = regexp.MustCompile(`^([1-9][0-9]{0,8})-([a-z-]{1,32})\.(json|dsse)$`)

// CorruptError reports a ledger branch whose content cab did not write:
// an unexpected path, a file disagreeing with its name, undecodable JSON.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("ledger: corrupt entry %s: %s", e.Path, e.Reason)
}

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

func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash, path string) ([]byte, error) {
	b, err := object.GetBlob(s, h)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if b.Size > maxFile {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("%d bytes, more than %d", b.Size, maxFile)}
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

// readTree returns the events stored in the tree of commit head, ordered
// by ticket id, then sequence number.
func readTree(s storer.EncodedObjectStorer, head plumbing.Hash) ([]Event, error) {
	c, err := object.GetCommit(s, head)
	if err != nil {
		return nil, fmt.Errorf("reading ledger head %s: %w", head, err)
	}
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading ledger tree: %w", err)
	}
	tickets, err := subtree(s, root, dir)
	if err != nil {
		return nil, err
	}
	var events []Event
	for _, te := range tickets {
		tpath := dir + "/" + te.Name
		if !ValidTicketID(te.Name) || te.Mode != filemode.Dir {
			return nil, &CorruptError{Path: tpath, Reason: "not a ticket directory"}
		}
		files, err := subtree(s, &object.Tree{Entries: []object.TreeEntry{te}}, te.Name)
		if err != nil {
			return nil, err
		}
		bySeq := map[int]*Event{}
		envelopes := map[string][]byte{}
		for _, fe := range files {
			fpath := tpath + "/" + fe.Name
			m := fileRE.FindStringSubmatch(fe.Name)
			if m == nil || fe.Mode != filemode.Regular {
				return nil, &CorruptError{Path: fpath, Reason: "not <seq>-<kind>.json or .dsse"}
			}
			data, err := readBlob(s, fe.Hash, fpath)
			if err != nil {
				return nil, err
			}
			if m[3] == "dsse" {
				envelopes[m[1]+"-"+m[2]] = data
				continue
			}
			var ev Event
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				return nil, &CorruptError{Path: fpath, Reason: err.Error()}
			}
			seq, _ := strconv.Atoi(m[1])
			if ev.Seq != seq || ev.Kind != m[2] || ev.Ticket != te.Name {
				return nil, &CorruptError{Path: fpath, Reason: fmt.Sprintf("holds %s event %d of %s", ev.Kind, ev.Seq, ev.Ticket)}
			}
			if bySeq[seq] != nil {
				return nil, &CorruptError{Path: fpath, Reason: fmt.Sprintf("second event %d", seq)}
			}
			bySeq[seq] = &ev
		}
		for name, env := range envelopes {
			seq, _ := strconv.Atoi(name[:strings.IndexByte(name, '-')])
			ev := bySeq[seq]
			if ev == nil || ev.name() != name {
				return nil, &CorruptError{Path: tpath + "/" + name + ".dsse", Reason: "envelope without its event"}
			}
			ev.Envelope = env
		}
		for seq := 1; seq <= len(bySeq); seq++ {
			ev := bySeq[seq]
			if ev == nil {
				return nil, &CorruptError{Path: tpath, Reason: fmt.Sprintf("event %d missing", seq)}
			}
			events = append(events, *ev)
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].Ticket != events[j].Ticket {
			return events[i].Ticket < events[j].Ticket
		}
		return events[i].Seq < events[j].Seq
	})
	return events, nil
}
