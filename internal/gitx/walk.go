package gitx

import (
	"context"
	"fmt"
	"iter"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// FirstParents walks the first-parent chain from the commit from (zero:
// nothing), from first, newest to oldest, until a root commit. It checks
// ctx before reading each commit; on cancellation, or when a commit cannot
// be read, it yields (nil, err) once and stops. Breaking out of the loop
// stops the walk.
func FirstParents(ctx context.Context, s storer.EncodedObjectStorer, from plumbing.Hash) iter.Seq2[*object.Commit, error] {
	return func(yield func(*object.Commit, error) bool) {
		for h := from; !h.IsZero(); {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			c, err := object.GetCommit(s, h)
			if err != nil {
				yield(nil, fmt.Errorf("reading commit %s: %w", h, err))
				return
			}
			if !yield(c, nil) {
				return
			}
			if len(c.ParentHashes) == 0 {
				return
			}
			h = c.ParentHashes[0]
		}
	}
}
