package ledger

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/cabhq/cab/internal/gitx"
)

// packMin is the number of new objects from which an append is stored as
// one pack rather than as loose objects: a batch (cab sign of many
// merges) writes one pack and its index, where loose objects cost a file
// each; a handful of events (a reconciler's step) stays loose, so that
// small appends do not pile up packs every later lookup walks.
const packMin = 64

// packWindow is the delta window of the packs an append writes: none.
// A delta search cost about 2.7 s per 1,000 signed merges for a pack that
// zlib already keeps small.
const packWindow = 0

// staging keeps the objects one append writes in memory, reading through
// to the repository's store for the others, until store writes them to
// the repository: as one pack (with its index) when there are packMin or
// more, else loose. Nothing is in the repository before store, so an
// append that fails leaves nothing behind, and nothing the append built
// is published before all of it is stored.
type staging struct {
	storer.EncodedObjectStorer // the repository's objects
	mem                        *memory.Storage
	order                      []plumbing.Hash
}

func newStaging(s storer.EncodedObjectStorer) *staging {
	return &staging{EncodedObjectStorer: s, mem: memory.NewStorage()}
}

func (s *staging) NewEncodedObject() plumbing.EncodedObject { return s.mem.NewEncodedObject() }

// SetEncodedObject keeps o for store.
func (s *staging) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h := o.Hash()
	if _, ok := s.mem.Objects[h]; ok {
		return h, nil
	}
	if _, err := s.mem.SetEncodedObject(o); err != nil {
		return plumbing.ZeroHash, err
	}
	s.order = append(s.order, h)
	return h, nil
}

func (s *staging) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, err := s.mem.EncodedObject(t, h); !errors.Is(err, plumbing.ErrObjectNotFound) {
		return o, err
	}
	return s.EncodedObjectStorer.EncodedObject(t, h)
}

func (s *staging) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := s.mem.Objects[h]; ok {
		return nil
	}
	return s.EncodedObjectStorer.HasEncodedObject(h)
}

func (s *staging) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if o, ok := s.mem.Objects[h]; ok {
		return o.Size(), nil
	}
	return s.EncodedObjectStorer.EncodedObjectSize(h)
}

// store writes the staged objects to the repository's store and forgets
// them: one pack, when there are packMin or more and the store writes
// packs, else one loose object each. It returns the pack written (nil:
// none), which a push of these objects may send as it is.
func (s *staging) store() ([]byte, error) {
	defer func() { s.order, s.mem = nil, memory.NewStorage() }()
	if len(s.order) == 0 {
		return nil, nil
	}
	pack, err := gitx.StoreObjectsPack(s.EncodedObjectStorer, s.mem, s.order, packMin, packWindow)
	if err != nil {
		return nil, fmt.Errorf("storing ledger objects: %w", err)
	}
	return pack, nil
}
