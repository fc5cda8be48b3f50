package validate

import (
	"encoding/json"
	"path"
	"slices"
	"strings"
	"time"

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

// ticketIDs is ticketIndex(head). A session keeps the last index it made
// and moves it by the changes from base to head when it describes base,
// so that judging the merges of main one after the other costs what each
// merge adds, not the size of the tree. The map returned is valid until
// the next call.
func (s *Session) ticketIDs(base, head *object.Tree, changes []change) (map[string][]string, error) {
	want := changesHash(head)
	if s.ids != nil && s.ids.tree == want {
		return s.ids.ids, nil
	}
	if s.ids != nil && s.ids.tree == changesHash(base) && applyIDs(s.ids.ids, changes) {
		s.ids.tree = want
		return s.ids.ids, nil
	}
	ids, err := ticketIndex(head)
	if err != nil {
		return nil, err
	}
	s.ids = &idIndex{tree: want, ids: ids}
	return ids, nil
}

// applyIDs moves ids by changes (files added and deleted under
// changes/<service>/). It returns false, leaving ids in an unknown state,
// for what it does not follow (anything but files two levels down, or a
// path that is not where the index has it); the caller then reads the
// tree afresh.
func applyIDs(ids map[string][]string, changes []change) bool {
	for _, c := range changes {
		if !strings.HasPrefix(c.name, ChangesDir+"/") {
			continue
		}
		if strings.Count(c.name, "/") != 2 || isTree(c.from) || isTree(c.to) {
			return false
		}
		id, ok := strings.CutSuffix(path.Base(c.name), ".cue")
		switch {
		case !ok || c.from != nil && c.to != nil:
			// Not an id, or the same path on both sides.
		case c.to != nil:
			if slices.Contains(ids[id], c.name) {
				return false
			}
			ids[id] = append(ids[id], c.name)
			slices.Sort(ids[id]) // the order of the tree: by service
		default:
			i := slices.Index(ids[id], c.name)
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

func isTree(e *object.TreeEntry) bool {
	return e != nil && (e.Mode == filemode.Dir || e.Mode == filemode.Submodule)
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
		for _, ev := range log.Events {
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
