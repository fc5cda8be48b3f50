package gittarget

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cabhq/cab/internal/gitpush"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/internal/redact"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

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
	head, err := gitx.FetchRef(ctx, repo, remoteName, d.auth, plumbing.NewBranchReferenceName(s.branch), trackingRef(s.branch))
	switch {
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("fetching %s of %s: %w", s.branch, s.url, err)
	case head.IsZero():
		return plumbing.ZeroHash, fmt.Errorf("branch %s does not exist in %s: create it, or set the target's branch in cab.cue", s.branch, s.url)
	}
	return head, nil
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
	entry, err := gitx.FileEntry(tree, s.file)
	if err != nil {
		return nil, s.refused(err)
	}
	content, err := gitx.ReadBlob(repo.Storer, entry.Hash, d.maxFileSize)
	if tl, ok := errors.AsType[*gitx.TooLargeError](err); ok {
		return nil, unsafef("%s in %s is %d bytes, more than the %d cab edits", s.file, s.url, tl.Size, tl.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s: %w", s.file, s.url, err)
	}
	return &fileAt{content: content, blob: entry.Hash, mode: entry.Mode}, nil
}

// refused explains why gitx did not find s.file as a regular file.
func (s *spec) refused(err error) error {
	if nf, ok := errors.AsType[*gitx.NotFoundError](err); ok {
		if nf.NotDir {
			return fmt.Errorf("%w: %s is a file in %s, not a directory, so %s cannot exist", ErrNoFile, nf.At, s.url, s.file)
		}
		return fmt.Errorf("%w: %s does not exist on %s of %s (at %s): cab edits files, it does not create them; add the file first", ErrNoFile, s.file, s.branch, s.url, nf.At)
	}
	if nr, ok := errors.AsType[*gitx.NotRegularError](err); ok {
		switch nr.Mode {
		case filemode.Symlink:
			return unsafef("%s in %s is a symbolic link: cab does not follow links; point the action at the real path", nr.Path, s.url)
		case filemode.Submodule:
			return unsafef("%s in %s is a submodule: cab does not write into other repositories; target the submodule's repository instead", nr.Path, s.url)
		}
		return fmt.Errorf("%s in %s is not a regular file (mode %s)", s.file, s.url, nr.Mode)
	}
	return fmt.Errorf("reading %s of %s: %w", s.file, s.url, err)
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
	blob, err := gitx.StoreBlob(repo.Storer, content)
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

// pushError explains why gitx.CompareAndSwap did not land cab's commit:
// every attempt lost the race (ErrContention), the remote refused it (a
// *RejectedError), or it failed and the branch could not be read back.
// Other errors (the edit's, the context's) are returned as they are.
func (s *spec) pushError(err error, progress *limitedBuffer) error {
	if lr, ok := errors.AsType[*gitx.LostRaceError](err); ok {
		return fmt.Errorf("%w: %d attempts to push %s to %s of %s lost the race: %w", ErrContention, lr.Attempts, s.file, s.branch, s.url, err)
	}
	ue, ok := errors.AsType[*gitx.UpdateError](err)
	switch {
	case !ok:
		return err
	case ue.ReadBack != nil:
		return fmt.Errorf("pushing %s to %s: %w (and reading the branch back failed: %v)", s.branch, s.url, ue.Err, ue.ReadBack)
	}
	if rej, ok := errors.AsType[*gitpush.RejectedError](err); ok {
		return &RejectedError{URL: s.url, Branch: s.branch, Message: rej.Error()}
	}
	// The push failed and the branch is where it was: the remote said why.
	return &RejectedError{URL: s.url, Branch: s.branch, Message: redact.String(strings.TrimSpace(ue.Err.Error() + "\n" + progress.String()))}
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
