package audit

import (
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/gitobj"
)

// objects is the object reader as the ledger scan (scan_ledger.go) calls
// it. The reader and its parsers are internal/gitobj's; these forwarders
// only keep that file's names while the ledger reading moves into package
// ledger (issue 12), and go with it.
type objects struct{ *gitobj.Reader }

func (o *objects) readType(h plumbing.Hash, t gitobj.Type) ([]byte, error) { return o.ReadType(h, t) }

func (o *objects) clone() *objects { return &objects{o.Clone()} }

const (
	objCommit = gitobj.TypeCommit
	objTree   = gitobj.TypeTree
	objBlob   = gitobj.TypeBlob
)

// errObjectMissing is gitobj.ErrNotFound.
var errObjectMissing = gitobj.ErrNotFound

func parseCommit(h plumbing.Hash, data []byte) (*gitobj.Commit, error) {
	return gitobj.ParseCommit(h, data)
}

func nextEntry(b []byte) (gitobj.TreeEntry, []byte, error) { return gitobj.NextEntry(b) }
