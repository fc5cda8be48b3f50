package load

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitx"
)

// TreeFile reads the regular file at name (a '/'-separated repository
// path) of tree through gitx.ReadFile, without trusting it: a symlink or a
// submodule on the path or at its end, a directory at its end and a blob
// over max are refused by their tree entry or the blob's header, before
// any byte is read. A refusal is a diagnostic; (nil, nil, nil) when there
// is no such file; an error is a failure to read the repository.
func TreeFile(tree *object.Tree, name string, max int64) ([]byte, *diag.Diagnostic, error) {
	src, err := gitx.ReadFile(tree, name, max)
	if errors.Is(err, gitx.ErrNotFound) {
		return nil, nil, nil
	}
	if nr, ok := errors.AsType[*gitx.NotRegularError](err); ok {
		return nil, RefuseEntry(name, nr.Mode), nil
	}
	return blobRead(name, src, err)
}

// BlobFile reads the file at name whose tree entry has mode and blob h in
// s (a file a diff names, say), with the refusals of TreeFile: what is
// not a regular file (RefuseEntry) and a blob over max.
func BlobFile(s storer.EncodedObjectStorer, name string, mode filemode.FileMode, h plumbing.Hash, max int64) ([]byte, *diag.Diagnostic, error) {
	if d := RefuseEntry(name, mode); d != nil {
		return nil, d, nil
	}
	src, err := gitx.ReadBlob(s, h, max)
	return blobRead(name, src, err)
}

// RefuseEntry is the diagnostic refusing the tree entry at name when its
// mode is not a regular file's (gitx.IsRegular); nil when it is.
func RefuseEntry(name string, mode filemode.FileMode) *diag.Diagnostic {
	refuse := func(msg, hint string) *diag.Diagnostic {
		return &diag.Diagnostic{File: name, Line: 1, Column: 1, Severity: diag.Error, Code: "file", Message: msg, Hint: hint}
	}
	switch {
	case gitx.IsRegular(mode):
		return nil
	case mode == filemode.Symlink:
		return refuse("symlinks are refused", "commit the file itself, not a link to it")
	case mode == filemode.Submodule:
		return refuse("submodules are refused", "tickets and policies live in this repository")
	default:
		return refuse(fmt.Sprintf("not a regular file (mode %s)", mode), "commit a plain file")
	}
}

// blobRead turns the result of a gitx read of name into a diagnostic
// when the blob was too large.
func blobRead(name string, src []byte, err error) ([]byte, *diag.Diagnostic, error) {
	if tl, ok := errors.AsType[*gitx.TooLargeError](err); ok {
		return nil, &diag.Diagnostic{File: name, Line: 1, Column: 1, Severity: diag.Error, Code: "file",
			Message: fmt.Sprintf("file is %d bytes, more than the %d allowed", tl.Size, tl.Limit),
			Hint:    "a ticket describes one change; keep large content in the repository it changes"}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return src, nil, nil
}
