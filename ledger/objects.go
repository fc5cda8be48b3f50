package ledger

import (
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Objects reads the git objects a ledger is made of. The ledger reads
// through go-git's storer (StorerObjects); cab log supplies its own fast
// pack reader, so that it decodes the ledger with this package's rules at
// its own speed.
type Objects interface {
	// Tree returns the entries of tree h.
	Tree(h plumbing.Hash) ([]object.TreeEntry, error)
	// Blob returns the content of blob h. A blob larger than limit is an
	// error wrapping ErrTooLarge; a missing one wraps
	// plumbing.ErrObjectNotFound.
	Blob(h plumbing.Hash, limit int64) ([]byte, error)
}

// ErrTooLarge is wrapped by Objects.Blob for a blob over its limit.
var ErrTooLarge = errors.New("too large")

// StorerObjects reads the objects of a go-git storer.
func StorerObjects(s storer.EncodedObjectStorer) Objects { return storerObjects{s} }

type storerObjects struct{ s storer.EncodedObjectStorer }

func (o storerObjects) Tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	t, err := object.GetTree(o.s, h)
	if err != nil {
		return nil, err
	}
	return t.Entries, nil
}

func (o storerObjects) Blob(h plumbing.Hash, limit int64) ([]byte, error) {
	b, err := object.GetBlob(o.s, h)
	if err != nil {
		return nil, err
	}
	if b.Size > limit {
		return nil, fmt.Errorf("%d bytes, more than %d: %w", b.Size, limit, ErrTooLarge)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, limit+1))
}
