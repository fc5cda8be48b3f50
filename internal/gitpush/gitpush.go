package gitpush

import (
	"context"

	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// ErrMoved is returned when the remote ref is not at old: the
// compare-and-swap was lost before anything was sent.
var ErrMoved = errors.New("remote ref moved")

// Push moves ref on the remote of repo named remote from old (zero: the
// ref must not exist) to head by compare-and-swap, sending only the
// objects that the commits from head back to old (by first parent) add
// to their parents. progress, if not nil, receives what the remote says
// while receiving (a hook's reason for refusing, say).
//
// go-git's Push works out what to send by walking every object reachable
// from what the remote has: on a ledger of thousands of events, or an
// environment repository with years of history, that walk costs more than
// the push, every time. Here the objects are found from each new commit's
// diff to its parent, without reading the history. The remote checks old
// itself (the command carries it), so the swap stays atomic.
func Push(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref plumbing.ReferenceName, old, head plumbing.Hash, progress io.Writer) error {
	rem, err := repo.Remote(remote)
	if err != nil {
		return fmt.Errorf("remote %q: %w", remote, err)
	}
	urls := rem.Config().URLs
	if len(urls) == 0 {
		return fmt.Errorf("remote %q has no URL", remote)
	}
	ep, err := transport.NewEndpoint(urls[len(urls)-1])
	if err != nil {
		return err
	}
	cli, err := client.NewClient(ep)
	if err != nil {
		return err
	}
	sess, err := cli.NewReceivePackSession(ep, auth)
	if err != nil {
		return err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return err
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return err
	}
	cur := plumbing.ZeroHash
	if r, err := refs.Reference(ref); err == nil {
		cur = r.Hash()
	}
	switch {
	case cur == head:
		return nil
	case cur != old:
		return fmt.Errorf("%w: %s is %s, not %s", ErrMoved, ref, cur, old)
	}
	hashes, err := newObjects(repo.Storer, old, head)
	if err != nil {
		return err
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: old, New: head}}
	if progress != nil {
		req.Progress = progress
		switch {
		case ar.Capabilities.Supports(capability.Sideband64k):
			_ = req.Capabilities.Set(capability.Sideband64k)
		case ar.Capabilities.Supports(capability.Sideband):
			_ = req.Capabilities.Set(capability.Sideband)
		}
	}
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		enc := packfile.NewEncoder(wr, repo.Storer, !ar.Capabilities.Supports(capability.OFSDelta))
		if _, err := enc.Encode(hashes, 0); err != nil {
			done <- wr.CloseWithError(err)
			return
		}
		done <- wr.Close()
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		_ = rd.Close()
		<-done
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	if rs != nil {
		return rs.Error()
	}
	return nil
}

// newObjects lists the objects of the commits from head back to old (by
// first parent) that their parents do not have.
func newObjects(s storer.EncodedObjectStorer, old, head plumbing.Hash) ([]plumbing.Hash, error) {
	var out []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for h := head; h != old; {
		c, err := object.GetCommit(s, h)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", h, err)
		}
		out = append(out, h)
		var parentTree plumbing.Hash
		next := plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			next = c.ParentHashes[0]
			p, err := object.GetCommit(s, next)
			if err != nil {
				return nil, fmt.Errorf("commit %s: %w", next, err)
			}
			parentTree = p.TreeHash
		}
		if err := addedObjects(s, c.TreeHash, parentTree, seen, &out); err != nil {
			return nil, err
		}
		if next.IsZero() && !old.IsZero() {
			return nil, fmt.Errorf("commit %s does not descend from %s by first parents", head, old)
		}
		h = next
	}
	return out, nil
}

// addedObjects appends tree and what it holds that base (a tree hash, zero
// for none) does not hold at the same path.
func addedObjects(s storer.EncodedObjectStorer, tree, base plumbing.Hash, seen map[plumbing.Hash]bool, out *[]plumbing.Hash) error {
	if tree == base || seen[tree] {
		return nil
	}
	seen[tree] = true
	*out = append(*out, tree)
	t, err := object.GetTree(s, tree)
	if err != nil {
		return err
	}
	had := map[string]plumbing.Hash{}
	if !base.IsZero() {
		// A base that is not a tree (a file became a directory) has
		// nothing in common with this one.
		if b, err := object.GetTree(s, base); err == nil {
			for _, e := range b.Entries {
				had[e.Name] = e.Hash
			}
		}
	}
	for _, e := range t.Entries {
		prev, ok := had[e.Name]
		if ok && prev == e.Hash {
			continue
		}
		switch e.Mode {
		case filemode.Dir:
			if err := addedObjects(s, e.Hash, prev, seen, out); err != nil {
				return err
			}
		case filemode.Submodule:
		default:
			if !seen[e.Hash] {
				seen[e.Hash] = true
				*out = append(*out, e.Hash)
			}
		}
	}
	return nil
}
