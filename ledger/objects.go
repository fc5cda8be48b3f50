package ledger

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/internal/gitx"
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

// ErrTooLarge is wrapped by Objects.Blob for a blob over its limit. It is
// gitx.ErrTooLarge itself, so that a *gitx.TooLargeError matches it.
var ErrTooLarge = gitx.ErrTooLarge

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

// Blob reads through gitx.ReadBlob: the size is checked from the
// object's header before the blob is inflated.
func (o storerObjects) Blob(h plumbing.Hash, limit int64) ([]byte, error) {
	return gitx.ReadBlob(o.s, h, limit)
}
