package validate

import (
	"bytes"
	"encoding/json"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/sign/statement"
)

// idIndex is the ticket index (see ticketIndex) of the changes/ tree
// whose hash is tree.
type idIndex struct {
	tree plumbing.Hash
	ids  map[string][]string
}

// changesHash is the hash of the changes/ tree of t (zero without one).
func changesHash(t *object.Tree) plumbing.Hash {
	for _, e := range t.Entries {
		if e.Name == ChangesDir && e.Mode == filemode.Dir {
			return e.Hash
		}
	}
	return plumbing.ZeroHash
}

// ticketIDs is ticketIndex(head). A session keeps the last index it made,
// starting from the one stored under the git directory (cab/ids-v1.idx),
// and moves it by the changes from the tree it describes to head's: from
// base, by the changes the caller has; from another tree, by their
// difference (git skips identical subtrees by hash). So a check costs
// what changed since the last one, and judging the merges of main one
// after the other costs what each merge adds, not the size of the tree.
// The map returned is valid until the next call.
func (s *Session) ticketIDs(base, head *object.Tree, changes []change) (map[string][]string, error) {
	want := changesHash(head)
	if s.ids == nil {
		s.ids = loadIDs(s.repo)
	}
	x := s.ids
	if x != nil && x.tree == want {
		return x.ids, nil
	}
	// A move that fails leaves x in an unknown state: read afresh then.
	moved := false
	switch {
	case x == nil:
	case x.tree == changesHash(base):
		moved = applyIDs(x.ids, changes)
	default:
		moved = s.moveIDs(x, head)
	}
	if !moved {
		ids, err := ticketIndex(head)
		if err != nil {
			return nil, err
		}
		x = &idIndex{ids: ids}
	}
	x.tree = want
	s.ids = x
	if s.batch {
		s.idsDirty = true
	} else {
		x.save(s.repo)
	}
	return x.ids, nil
}

// moveIDs moves x by the difference between its tree and head's; false
// when it cannot (the tree is gone, or the difference is not only files
// added and deleted under changes/<service>/).
func (s *Session) moveIDs(x *idIndex, head *object.Tree) bool {
	var from *object.Tree
	if !x.tree.IsZero() {
		var err error
		if from, err = s.repo.TreeObject(x.tree); err != nil {
			return false
		}
	}
	to, _, err := changesTree(head)
	if err != nil {
		return false
	}
	changes, refused, err := diffTrees(s.repo.Storer, from, to, ChangesDir)
	return err == nil && len(refused) == 0 && applyIDs(x.ids, changes)
}

// The stored ticket-id index, one file for the last tree indexed:
//
//	cab-ids v1 <hash of the changes/ tree> <number of entries>
//	<id>\t<path>
//	...
//
// A file for another tree, or one that does not parse, is only a cost:
// the header says which tree the entries describe.
const (
	idsName   = "ids-v1.idx"
	idsHeader = "cab-ids v1 "
)

// idsFile is where the ticket-id index is stored.
var idsFile = treeIndexFile{name: idsName, header: idsHeader}

// loadIDs reads the stored index; nil when there is none or it does not
// parse.
func loadIDs(repo *git.Repository) *idIndex {
	tree, body, ok := idsFile.read(repo)
	if !ok {
		return nil
	}
	x := &idIndex{tree: tree, ids: map[string][]string{}}
	for line := range bytes.Lines(body) {
		id, path, ok := strings.Cut(strings.TrimSuffix(string(line), "\n"), "\t")
		if !ok || id == "" || !strings.HasPrefix(path, ChangesDir+"/") {
			return nil
		}
		x.ids[id] = append(x.ids[id], path)
	}
	return x
}

// save writes the index (see treeIndexFile.write).
func (x *idIndex) save(repo *git.Repository) {
	var lines []string
	for id, paths := range x.ids {
		for _, path := range paths {
			if strings.ContainsAny(id+path, "\t\n") {
				return // not representable: derive it again next time
			}
			lines = append(lines, id+"\t"+path+"\n")
		}
	}
	slices.Sort(lines)
	idsFile.write(repo, x.tree, []byte(strings.Join(lines, "")))
}

// applyIDs moves ids by changes (files added and deleted under
// changes/<service>/). It returns false, leaving ids in an unknown state,
// for what it does not follow (anything but files two levels down, or a
// path that is not where the index has it); the caller then reads the
// tree afresh.
func applyIDs(ids map[string][]string, changes []change) bool {
	for _, c := range changes {
		if !strings.HasPrefix(c.Path, ChangesDir+"/") {
			continue
		}
		if strings.Count(c.Path, "/") != 2 || isTree(c.FromMode) || isTree(c.ToMode) {
			return false
		}
		id, ok := strings.CutSuffix(path.Base(c.Path), ".cue")
		switch {
		case !ok || !c.Added() && !c.Deleted():
			// Not an id, or the same path on both sides.
		case c.Added():
			if slices.Contains(ids[id], c.Path) {
				return false
			}
			ids[id] = append(ids[id], c.Path)
			slices.Sort(ids[id]) // the order of the tree: by service
		default:
			i := slices.Index(ids[id], c.Path)
			if i < 0 {
				return false
			}
			if ids[id] = slices.Delete(ids[id], i, i+1); len(ids[id]) == 0 {
				delete(ids, id)
			}
		}
	}
	return true
}

func isTree(m filemode.FileMode) bool {
	return m == filemode.Dir || m == filemode.Submodule
}

// signedRecord is a ticket signed on the ledger, as overdueReviews reads it.
type signedRecord struct {
	ticket, path string
	signedAt     time.Time
}

// signedLog holds, for the ledger commit at, its signed tickets by author.
type signedLog struct {
	at     plumbing.Hash
	author map[string][]signedRecord
}

// signedBy returns the tickets of author signed on the ledger at commit
// at, in ledger order, decoding the ledger once per commit for the
// session.
func (s *Session) signedBy(at plumbing.Hash, author string) ([]signedRecord, error) {
	if s.signed == nil || s.signed.at != at {
		log, err := ledger.ReadAt(s.repo, at)
		if err != nil {
			return nil, err
		}
		sl := &signedLog{at: at, author: map[string][]signedRecord{}}
		for _, ev := range log.Events() {
			if ev.Kind != ledger.KindSigned || len(ev.Envelope) == 0 {
				continue
			}
			p, err := statement.PredicateOf(ev.Envelope)
			if err != nil {
				continue
			}
			var data struct {
				Path string `json:"path"`
			}
			if json.Unmarshal(ev.Data, &data) != nil || data.Path == "" {
				continue
			}
			sl.author[p.Author] = append(sl.author[p.Author], signedRecord{ticket: ev.Ticket, path: data.Path, signedAt: p.SignedAt})
		}
		s.signed = sl
	}
	return s.signed.author[author], nil
}
