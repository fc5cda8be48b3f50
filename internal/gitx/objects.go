package gitx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"

	"github.com/cabhq/cab/internal/gitobj"
)

// Open opens the git repository at dir or the nearest directory above it
// holding one (as git does), with its objects read through
// internal/gitobj: the pack indexes are mapped and searched where they
// lie, so the first object read costs a lookup, not go-git's decoding of
// every index and a map of every object's offset (535k entries for the
// 100k-commit benchmark repository, most of a pull-request check's time).
// Everything else (references, configuration, writes) is go-git's
// filesystem storage, and so are objects gitobj will not return (over
// gitobj.MaxObject: go-git reads them, as it did before). Objects are
// returned by the id the object store files them under, as go-git's pack
// reader does; nothing about them is trusted that was not before.
//
// close releases the mapped packs: call it once the repository and the
// objects read from it are no longer used. A repository whose storage is
// not on disk is returned as it is, with a close that does nothing.
func Open(dir string) (repo *git.Repository, close func() error, err error) {
	plain, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	fs, ok := plain.Storer.(*filesystem.Storage)
	if !ok {
		return plain, func() error { return nil }, nil
	}
	objectsDir := filepath.Join(commonDir(fs.Filesystem().Root()), "objects")
	objects, err := gitobj.Open(objectsDir, fs)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the objects of %s: %w", dir, err)
	}
	s := &objectStorage{Storage: fs, objects: objects, dir: objectsDir, dot: dotgit.New(fs.Filesystem())}
	repo, err = git.Open(s, nil)
	if err != nil {
		_ = objects.Close()
		return nil, nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	return repo, s.close, nil
}

// GitDir is the git directory of repo ("" when its storage is not on
// disk), whether it was opened by go-git or by Open.
func GitDir(repo *git.Repository) string {
	switch s := repo.Storer.(type) {
	case *filesystem.Storage:
		return s.Filesystem().Root()
	case *objectStorage:
		return s.Filesystem().Root()
	}
	return ""
}

// commonDir is the directory holding the objects of the git directory
// gitDir: itself, or for a linked worktree the one its commondir names.
func commonDir(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir
	}
	c := strings.TrimSpace(string(b))
	if !filepath.IsAbs(c) {
		c = filepath.Join(gitDir, c)
	}
	return c
}

// objectStorage is go-git's filesystem storage with its object reads
// answered by a gitobj.Reader (which asks the filesystem storage for what
// it cannot find: alternates, packs with a version 1 index).
type objectStorage struct {
	*filesystem.Storage
	mu      sync.Mutex // a gitobj.Reader is not safe for concurrent use
	objects *gitobj.Reader
	dir     string // the objects directory
	// dot writes the packs a fetch receives (see PackfileWriter).
	dot *dotgit.DotGit
}

// PackfileWriter stores the pack a fetch receives, and the index go-git
// builds by parsing it, in the pack directory, as go-git's storage does,
// but without go-git's first step of decoding every pack index already
// there (loadIdxFile over the whole repository, 0.17 s a fetch on a
// 100k-ticket one; the gitobj reader finds objects without it). Once
// written, the reader maps the pack, and go-git's storage, which answers
// only what the reader cannot, reads its indexes again when next asked.
func (s *objectStorage) PackfileWriter() (io.WriteCloser, error) {
	w, err := s.dot.NewObjectPack()
	if err != nil {
		return nil, err
	}
	p := &fetchedPack{PackWriter: w, s: s}
	w.Notify = func(h plumbing.Hash, _ *idxfile.Writer) { p.name = h }
	return p, nil
}

// fetchedPack is a pack being received (objectStorage.PackfileWriter).
type fetchedPack struct {
	*dotgit.PackWriter
	s    *objectStorage
	name plumbing.Hash // the pack's checksum, once written
}

func (p *fetchedPack) Close() error {
	if err := p.PackWriter.Close(); err != nil {
		return err
	}
	p.s.Storage.ObjectStorage.Reindex()
	if p.name.IsZero() {
		return nil // an empty pack: nothing written
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	// Not mapping it is only a cost: the reader lists the directory again
	// at its next miss.
	_ = p.s.objects.AddPack(filepath.Join(p.s.dir, "pack", "pack-"+p.name.String()+".idx"))
	return nil
}

// storePack writes the objects hs of src as one pack (see writePack) and
// makes them readable through s: the reader maps the new pack, and
// go-git's storage, which answers what the reader cannot, reads its pack
// indexes again when next asked. With keep it returns the pack's bytes.
func (s *objectStorage) storePack(src storer.EncodedObjectStorer, hs []plumbing.Hash, keep bool) ([]byte, error) {
	idx, err := writePack(s.dir, src, hs)
	if err != nil {
		return nil, fmt.Errorf("writing a pack: %w", err)
	}
	s.mu.Lock()
	err = s.objects.AddPack(idx)
	s.mu.Unlock()
	s.Storage.ObjectStorage.Reindex()
	if err != nil || !keep {
		return nil, err
	}
	// The pack as written, for a push to send as it is (from the page
	// cache: it was written a moment ago).
	pack, err := os.ReadFile(strings.TrimSuffix(idx, ".idx") + ".pack")
	if err != nil {
		return nil, fmt.Errorf("reading back the pack written: %w", err)
	}
	return pack, nil
}

var _ storage.Storer = (*objectStorage)(nil)

func (s *objectStorage) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects.Close()
}

// EncodedObject reads object h, failing with plumbing.ErrObjectNotFound
// when it is missing or not of type t (unless t is plumbing.AnyObject).
func (s *objectStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	s.mu.Lock()
	typ, data, err := s.objects.Read(h)
	var size int64
	if err != nil && !errors.Is(err, gitobj.ErrNotFound) {
		// Refused by its size? go-git reads it, as it did before.
		size, _ = s.objects.Size(h)
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, gitobj.ErrNotFound):
		return nil, plumbing.ErrObjectNotFound
	case err != nil && size > gitobj.MaxObject:
		return s.Storage.EncodedObject(t, h)
	case err != nil:
		return nil, err
	}
	o := &readObject{hash: h, data: data}
	switch typ {
	case gitobj.TypeCommit:
		o.typ = plumbing.CommitObject
	case gitobj.TypeTree:
		o.typ = plumbing.TreeObject
	case gitobj.TypeBlob:
		o.typ = plumbing.BlobObject
	case gitobj.TypeTag:
		o.typ = plumbing.TagObject
	default:
		return nil, fmt.Errorf("object %s is a %s", h, typ)
	}
	if t != plumbing.AnyObject && o.typ != t {
		return nil, plumbing.ErrObjectNotFound
	}
	return o, nil
}

// EncodedObjectSize reads the size of object h from its headers, without
// inflating it.
func (s *objectStorage) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	s.mu.Lock()
	size, err := s.objects.Size(h)
	s.mu.Unlock()
	if errors.Is(err, gitobj.ErrNotFound) {
		return 0, plumbing.ErrObjectNotFound
	}
	return size, err
}

// HasEncodedObject returns nil when object h exists,
// plumbing.ErrObjectNotFound when it does not.
func (s *objectStorage) HasEncodedObject(h plumbing.Hash) error {
	_, err := s.EncodedObjectSize(h)
	return err
}

// readObject is an object as a gitobj.Reader returned it. Its content may
// be shared with the reader's cache: it is read only.
type readObject struct {
	hash plumbing.Hash
	typ  plumbing.ObjectType
	data []byte
}

// errReadOnly is the error of writing to an object that was read.
var errReadOnly = errors.New("gitx: an object read from the store cannot be written")

func (o *readObject) Hash() plumbing.Hash             { return o.hash }
func (o *readObject) Type() plumbing.ObjectType       { return o.typ }
func (o *readObject) SetType(plumbing.ObjectType)     {}
func (o *readObject) Size() int64                     { return int64(len(o.data)) }
func (o *readObject) SetSize(int64)                   {}
func (o *readObject) Writer() (io.WriteCloser, error) { return nil, errReadOnly }

func (o *readObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data)), nil
}
