package gitx

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrTooLarge is matched (errors.Is) by a *TooLargeError.
var ErrTooLarge = errors.New("git object too large")

// TooLargeError is a blob larger than the limit it was read with.
type TooLargeError struct {
	// Path is the file's path in its tree; empty when the blob was read
	// by hash alone (ReadBlob).
	Path string
	// Hash is the blob's hash.
	Hash plumbing.Hash
	// Size is the blob's size in bytes as its header gives it.
	Size int64
	// Limit is the largest size that was allowed.
	Limit int64
}

// Error names the file (or blob) and both sizes.
func (e *TooLargeError) Error() string {
	name := e.Path
	if name == "" {
		name = "blob " + e.Hash.String()
	}
	return fmt.Sprintf("%s is %d bytes, more than the %d allowed", name, e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// ErrNotRegular is matched (errors.Is) by a *NotRegularError.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError is a path that does not lead to a regular file: a
// symlink or a submodule on the way or at its end, or a directory where a
// file is expected.
type NotRegularError struct {
	// Path is the path of the entry that was refused: the file itself,
	// or the link or submodule on the way to it.
	Path string
	// Mode is that entry's mode (filemode.Symlink, filemode.Submodule,
	// filemode.Dir, …).
	Mode filemode.FileMode
}

// Error names the entry and what it is.
func (e *NotRegularError) Error() string {
	switch e.Mode {
	case filemode.Symlink:
		return e.Path + " is a symbolic link"
	case filemode.Submodule:
		return e.Path + " is a submodule"
	case filemode.Dir:
		return e.Path + " is a directory"
	}
	return fmt.Sprintf("%s is not a regular file (mode %s)", e.Path, e.Mode)
}

// Is makes errors.Is(err, ErrNotRegular) hold.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// ErrNotFound is matched (errors.Is) by a *NotFoundError.
var ErrNotFound = errors.New("file not found")

// NotFoundError is a path that is not in the tree.
type NotFoundError struct {
	// Path is the path that was asked for.
	Path string
	// At is the first element of Path (as a path from the tree's root)
	// that is missing, or, when NotDir, that is a file where Path needs a
	// directory.
	At string
	// NotDir says that At exists but is a file, so Path cannot.
	NotDir bool
}

// Error names the path and where it stops.
func (e *NotFoundError) Error() string {
	if e.NotDir {
		return fmt.Sprintf("%s does not exist: %s is a file, not a directory", e.Path, e.At)
	}
	return fmt.Sprintf("%s does not exist (at %s)", e.Path, e.At)
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err,
// object.ErrFileNotFound) hold.
func (e *NotFoundError) Is(target error) bool {
	return target == ErrNotFound || target == object.ErrFileNotFound
}

// ErrInvalidPath is matched by the error of ReadFile for a path with an
// empty, "." or ".." element or a NUL byte.
var ErrInvalidPath = errors.New("invalid path")

// ReadBlob reads the blob h from s, refusing one larger than limit bytes
// (*TooLargeError) by its header, before reading it.
func ReadBlob(s storer.EncodedObjectStorer, h plumbing.Hash, limit int64) ([]byte, error) {
	// go-git inflates a loose object whole to decode it: the size comes
	// from the object's header first.
	if size, err := s.EncodedObjectSize(h); err == nil && size > max(limit, 0) {
		return nil, &TooLargeError{Hash: h, Size: size, Limit: max(limit, 0)}
	}
	b, err := object.GetBlob(s, h)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", h, err)
	}
	return readLimited(b, limit)
}

// readLimited reads b, at most limit bytes.
func readLimited(b *object.Blob, limit int64) ([]byte, error) {
	limit = max(limit, 0)
	if b.Size > limit {
		return nil, &TooLargeError{Hash: b.Hash, Size: b.Size, Limit: limit}
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", b.Hash, err)
	}
	defer r.Close()
	// The header said at most limit; the stream is held to it too.
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", b.Hash, err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Hash: b.Hash, Size: max(b.Size, int64(len(data))), Limit: limit}
	}
	return data, nil
}

// ReadFile reads the regular file at path (elements separated by '/',
// relative to t) within limit bytes. It refuses a symlink or a submodule
// on the path or at its end and a directory at its end
// (*NotRegularError), a missing file (*NotFoundError) and a file larger
// than limit (*TooLargeError, with Path set), the last by its blob's
// header before reading it.
func ReadFile(t *object.Tree, path string, limit int64) ([]byte, error) {
	e, err := FileEntry(t, path)
	if err != nil {
		return nil, err
	}
	// As in ReadBlob, the size first, from the object's header.
	if size, err := t.Size(path); err == nil && size > max(limit, 0) {
		return nil, &TooLargeError{Path: path, Hash: e.Hash, Size: size, Limit: max(limit, 0)}
	}
	b, err := t.TreeEntryFile(e)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	data, err := readLimited(&b.Blob, limit)
	if tl, ok := errors.AsType[*TooLargeError](err); ok {
		tl.Path = path
		return nil, tl
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

// FileEntry finds the tree entry of the regular file at path (relative to
// t) without reading it, with the refusals of ReadFile but the size's.
// The entry returned is a copy whose Name is its last element.
func FileEntry(t *object.Tree, path string) (*object.TreeEntry, error) {
	elems, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	last := len(elems) - 1
	if t, err = descend(t, elems[:last], path); err != nil {
		return nil, err
	}
	e := lookup(t, elems[last])
	switch {
	case e == nil:
		return nil, &NotFoundError{Path: path, At: path}
	case !IsRegular(e.Mode):
		return nil, &NotRegularError{Path: path, Mode: e.Mode}
	}
	entry := *e
	return &entry, nil
}

// Subtree returns the directory at path (relative to t) with the refusals
// of FileEntry on the way: a symbolic link or submodule at or above path is
// a NotRegularError, a missing directory or a file in its place a
// NotFoundError. Reading many files of one directory through its Subtree
// decodes the trees above it once.
func Subtree(t *object.Tree, path string) (*object.Tree, error) {
	elems, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	return descend(t, elems, path)
}

func splitPath(path string) ([]string, error) {
	elems := strings.Split(path, "/")
	for _, el := range elems {
		if el == "" || el == "." || el == ".." || strings.IndexByte(el, 0) >= 0 {
			return nil, fmt.Errorf("%w: %q", ErrInvalidPath, path)
		}
	}
	return elems, nil
}

// descend walks t down the directories elems, the leading elements of
// path, which errors name.
func descend(t *object.Tree, elems []string, path string) (*object.Tree, error) {
	for i, el := range elems {
		at := strings.Join(elems[:i+1], "/")
		e := lookup(t, el)
		switch {
		case e == nil:
			return nil, &NotFoundError{Path: path, At: at}
		case e.Mode == filemode.Symlink || e.Mode == filemode.Submodule:
			return nil, &NotRegularError{Path: at, Mode: e.Mode}
		case e.Mode != filemode.Dir:
			return nil, &NotFoundError{Path: path, At: at, NotDir: true}
		}
		sub, err := t.Tree(el)
		if err != nil {
			return nil, fmt.Errorf("reading tree %s: %w", at, err)
		}
		t = sub
	}
	return t, nil
}

// IsRegular reports whether mode is a regular file's: 100644, 100755 or
// the deprecated 100664.
func IsRegular(mode filemode.FileMode) bool {
	return mode == filemode.Regular || mode == filemode.Executable || mode == filemode.Deprecated
}

// lookup finds the entry name of t: by binary search in git's order
// (a tree sorts by name, a directory's name as if it ended in '/'),
// then, for a tree that is not in that order, by a scan.
func lookup(t *object.Tree, name string) *object.TreeEntry {
	key := func(e *object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	for _, want := range []string{name, name + "/"} {
		lo, hi := 0, len(t.Entries)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if key(&t.Entries[m]) < want {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo < len(t.Entries) && t.Entries[lo].Name == name {
			return &t.Entries[lo]
		}
	}
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			return &t.Entries[i]
		}
	}
	return nil
}

// StoreBlob stores data as a blob in s and returns its hash.
func StoreBlob(s storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
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
