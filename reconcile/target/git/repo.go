package gittarget

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/internal/redact"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/cabhq/cab/reconcile/target"
)

const remoteName = "origin"

// clone is the cached clone of one environment repository.
type clone struct {
	mu   sync.Mutex
	repo *git.Repository
}

// cacheKey names the directory of url's clone.
func cacheKey(url string) string {
	sum := sha256.Sum256([]byte(url))
	return hex.EncodeToString(sum[:12])
}

func trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, branch)
}

// fetch updates the clone's tracking ref of s.branch and returns the
// branch head.
func (d *Driver) fetch(ctx context.Context, repo *git.Repository, s *spec) (plumbing.Hash, error) {
	spec := config.RefSpec("+" + plumbing.NewBranchReferenceName(s.branch).String() + ":" + trackingRef(s.branch).String())
	call, cancel := gitpush.Call(ctx) // a server that never answers must not hang the pass
	defer cancel()
	err := gitpush.Err(call, repo.FetchContext(call, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       d.auth,
		Tags:       git.NoTags,
	}))
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, fmt.Errorf("branch %s does not exist in %s: create it, or set the target's branch in cab.cue", s.branch, s.url)
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetching %s of %s: %w", s.branch, s.url, err)
	}
	ref, err := repo.Reference(trackingRef(s.branch), true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading %s of %s after fetching: %w", s.branch, s.url, err)
	}
	return ref.Hash(), nil
}

// fileAt is one file of a commit.
type fileAt struct {
	content []byte
	blob    plumbing.Hash
	mode    filemode.FileMode
}

// readFile reads s.file at commit, refusing a path through a symlink or
// a submodule (by the tree entries' modes) and a file above the size
// limit.
func (d *Driver) readFile(repo *git.Repository, commit plumbing.Hash, s *spec) (*fileAt, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s of %s: %w", commit, s.url, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s in %s: %w", commit, s.url, err)
	}
	var entry *object.TreeEntry
	for i, name := range s.elems {
		at := strings.Join(s.elems[:i+1], "/")
		entry = nil
		for j := range tree.Entries {
			if tree.Entries[j].Name == name {
				entry = &tree.Entries[j]
				break
			}
		}
		if entry == nil {
			return nil, fmt.Errorf("%w: %s does not exist on %s of %s (at %s): cab edits files, it does not create them; add the file first", ErrNoFile, s.file, s.branch, s.url, at)
		}
		switch entry.Mode {
		case filemode.Symlink:
			return nil, unsafef("%s in %s is a symbolic link: cab does not follow links; point the action at the real path", at, s.url)
		case filemode.Submodule:
			return nil, unsafef("%s in %s is a submodule: cab does not write into other repositories; target the submodule's repository instead", at, s.url)
		}
		if i < len(s.elems)-1 {
			if entry.Mode != filemode.Dir {
				return nil, fmt.Errorf("%w: %s is a file in %s, not a directory, so %s cannot exist", ErrNoFile, at, s.url, s.file)
			}
			if tree, err = repo.TreeObject(entry.Hash); err != nil {
				return nil, fmt.Errorf("reading tree %s of %s: %w", at, s.url, err)
			}
		}
	}
	switch entry.Mode {
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
	default:
		return nil, fmt.Errorf("%s in %s is not a regular file (mode %s)", s.file, s.url, entry.Mode)
	}
	blob, err := repo.BlobObject(entry.Hash)
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s: %w", s.file, s.url, err)
	}
	if blob.Size > d.maxFileSize {
		return nil, unsafef("%s in %s is %d bytes, more than the %d cab edits", s.file, s.url, blob.Size, d.maxFileSize)
	}
	content, err := readBlob(blob, d.maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s: %w", s.file, s.url, err)
	}
	return &fileAt{content: content, blob: entry.Hash, mode: entry.Mode}, nil
}

func readBlob(b *object.Blob, limit int64) ([]byte, error) {
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return data, nil
}

func storeBlob(s storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
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

func storeObject(s storer.EncodedObjectStorer, enc interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	o := s.NewEncodedObject()
	if err := enc.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(o)
}

// replaceInTree stores the tree at h with the blob at elems replaced by
// blob (the entry exists: readFile found it) and returns its hash.
func replaceInTree(s storer.EncodedObjectStorer, h plumbing.Hash, elems []string, blob plumbing.Hash) (plumbing.Hash, error) {
	t, err := object.GetTree(s, h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	entries := append([]object.TreeEntry(nil), t.Entries...)
	for i := range entries {
		if entries[i].Name != elems[0] {
			continue
		}
		if len(elems) == 1 {
			entries[i].Hash = blob
		} else if entries[i].Hash, err = replaceInTree(s, entries[i].Hash, elems[1:], blob); err != nil {
			return plumbing.ZeroHash, err
		}
		return storeObject(s, &object.Tree{Entries: entries})
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: no such tree entry", elems[0])
}

// commit stores a commit on top of parent in which s.file holds content.
func (d *Driver) commit(repo *git.Repository, parent plumbing.Hash, s *spec, content []byte, msg string) (plumbing.Hash, error) {
	pc, err := repo.CommitObject(parent)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", parent, err)
	}
	blob, err := storeBlob(repo.Storer, content)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing %s: %w", s.file, err)
	}
	tree, err := replaceInTree(repo.Storer, pc.TreeHash, s.elems, blob)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("building the tree for %s: %w", s.file, err)
	}
	sig := d.author
	sig.When = d.now()
	h, err := storeObject(repo.Storer, &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      msg,
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent},
	})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing the commit: %w", err)
	}
	return h, nil
}

// message is a commit message: a subject, then git trailers.
func message(subject string, trailers ...[2]string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(strings.ReplaceAll(subject, "\r", "")))
	b.WriteString("\n\n")
	for _, t := range trailers {
		if t[1] != "" {
			b.WriteString(t[0] + ": " + oneLine(t[1]) + "\n")
		}
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errConflict marks a push that lost the race: the branch moved.
var errConflict = errors.New("branch moved")

// push moves the remote branch from old to head with a compare-and-swap:
// a plain (never forced) push required to find the branch at old. It
// returns errConflict when the branch moved, and a *RejectedError when
// the remote refused the push for another reason.
func (d *Driver) push(ctx context.Context, repo *git.Repository, s *spec, old, head plumbing.Hash) error {
	branch := plumbing.NewBranchReferenceName(s.branch)
	progress := &limitedBuffer{max: 4 << 10}
	err := gitpush.Push(ctx, repo, remoteName, d.auth, branch, old, head, progress)
	if errors.Is(err, gitpush.ErrMoved) {
		return fmt.Errorf("%w: %v", errConflict, err)
	}
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return d.track(repo, s, head)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rej, ok := errors.AsType[*gitpush.RejectedError](err); ok {
		return &RejectedError{URL: s.url, Branch: s.branch, Message: rej.Error()}
	}
	// Anything else (a connection dropped after the update, say): look
	// at where the branch is now to tell a landed push from a lost race.
	now, lerr := d.remoteHead(ctx, repo, s)
	switch {
	case lerr != nil:
		return fmt.Errorf("pushing %s to %s: %w (and reading the branch back failed: %v)", s.branch, s.url, err, lerr)
	case now == head:
		return d.track(repo, s, head)
	case now != old:
		return fmt.Errorf("%w: %v", errConflict, err)
	}
	return &RejectedError{URL: s.url, Branch: s.branch, Message: redact.String(strings.TrimSpace(err.Error() + "\n" + progress.String()))}
}

// track moves the tracking ref to a head the push landed.
func (d *Driver) track(repo *git.Repository, s *spec, head plumbing.Hash) error {
	if err := repo.Storer.SetReference(plumbing.NewHashReference(trackingRef(s.branch), head)); err != nil {
		return fmt.Errorf("updating %s: %w", trackingRef(s.branch), err)
	}
	return nil
}

func (d *Driver) remoteHead(ctx context.Context, repo *git.Repository, s *spec) (plumbing.Hash, error) {
	rem, err := repo.Remote(remoteName)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	call, cancel := gitpush.Call(ctx)
	defer cancel()
	refs, err := rem.ListContext(call, &git.ListOptions{Auth: d.auth})
	if err != nil {
		return plumbing.ZeroHash, gitpush.Err(call, err)
	}
	for _, r := range refs {
		if r.Name() == plumbing.NewBranchReferenceName(s.branch) {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// limitedBuffer keeps the first max bytes written to it (what the remote
// said while receiving a push, e.g. a hook's reason for refusing it).
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ target.Driver = (*Driver)(nil)
