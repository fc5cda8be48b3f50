package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file Write makes, and of
// those Create makes when given no prefix. A directory's reader that
// lists it (a cache trimming itself) skips, or removes once stale, the
// names that start with it.
const TempPrefix = ".tmp-"

// ErrDone is returned by Commit once the Pending was committed or
// cleaned up.
var ErrDone = errors.New("atomicfile: file already committed or cleaned up")

// Pending is a file being written under a temporary name in the
// directory it will be renamed into. It ends with Commit, which puts it
// in place, or Cleanup, which removes it; defer Cleanup right after
// Create so that every other way out removes it. A Pending is not safe
// for concurrent use.
type Pending struct {
	f    *os.File
	done bool
}

// Create starts a file in dir, under a unique temporary name of prefix
// followed by random digits; prefix "" is TempPrefix. The file has mode
// 0600 until Commit.
func Create(dir, prefix string) (*Pending, error) {
	if prefix == "" {
		prefix = TempPrefix
	}
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return nil, err
	}
	return &Pending{f: f}, nil
}

// Write writes b to the temporary file, as io.Writer does.
func (p *Pending) Write(b []byte) (int, error) {
	return p.f.Write(b)
}

// Sync commits what was written to stable storage (fsync), for a caller
// whose file must survive a crash once Commit returns.
func (p *Pending) Sync() error {
	return p.f.Sync()
}

// Commit gives the file the permissions perm, closes it and renames it
// over path, which must be in the directory given to Create. Whatever it
// returns, the Pending is done: on failure the temporary file is removed
// and what was at path is untouched, and Cleanup is a no-op after it.
func (p *Pending) Commit(path string, perm fs.FileMode) error {
	if p.done {
		return ErrDone
	}
	p.done = true
	err := p.f.Chmod(perm)
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(p.f.Name())
	}
	return err
}

// Cleanup closes and removes the temporary file unless Commit was
// called. It is idempotent and safe to defer.
func (p *Pending) Cleanup() {
	if p.done {
		return
	}
	p.done = true
	_ = p.f.Close()
	_ = os.Remove(p.f.Name())
}

// Write replaces the file at path with data, of permissions perm,
// through a temporary file in path's directory, which must exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	p, err := Create(filepath.Dir(path), "")
	if err != nil {
		return err
	}
	defer p.Cleanup()
	if _, err := p.Write(data); err != nil {
		return err
	}
	return p.Commit(path, perm)
}
