package gitpush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

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

	"github.com/cabhq/cab/internal/redact"
)

// ErrMoved is returned when the remote advertises the ref elsewhere than
// old before anything is sent: the compare-and-swap was lost. Re-read and
// try again.
var ErrMoved = errors.New("remote ref moved")

// ErrRejected is matched (errors.Is) by a *RejectedError.
var ErrRejected = errors.New("push rejected by the server")

// RejectedError is a push whose ref update receive-pack refused: a
// pre-receive hook declined it, the branch is protected, the ref is
// hidden — or another writer moved the ref while the pack was sent (a
// race lost inside the server). This package does not read the server's
// words to tell these apart; gitx.CompareAndSwap does, by reading the ref
// back. When the ref is still at old, retrying does not help; a human
// must look at Status and Remote.
type RejectedError struct {
	// Ref is the ref the push was to update.
	Ref plumbing.ReferenceName
	// Status is receive-pack's reason for the ref ("pre-receive hook
	// declined"), scrubbed of credentials and bounded.
	Status string
	// Remote is what the server said on the side band while receiving
	// (a hook's explanation), scrubbed and bounded; may be empty.
	Remote string
}

// Error names the ref and gives the server's reason.
func (e *RejectedError) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Ref, e.Status)
	if e.Remote != "" {
		msg += ": remote said: " + e.Remote
	}
	return "push rejected by the server: " + msg
}

// Is makes errors.Is(err, ErrRejected) hold.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// DefaultTimeout bounds one exchange with a git remote (a push, a fetch,
// a listing of its refs) when the context carries no bound of its own
// (WithTimeout).
const DefaultTimeout = 2 * time.Minute

// ErrTimeout is matched by the error of a call that Call's bound cut
// short: the remote accepted the connection and did not answer in time.
var ErrTimeout = errors.New("git remote did not answer in time")

type timeoutKey struct{}

// WithTimeout returns a copy of ctx under which each network call made
// through Call (Push, and the callers' fetches) is bounded by d.
func WithTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, timeoutKey{}, d)
}

// Call returns the context for one network call: ctx bounded by the
// timeout it carries (DefaultTimeout when none). Cancelling ctx still
// cancels the call at once; pass the call's error through Err.
func Call(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Value(timeoutKey{}).(time.Duration)
	if !ok || d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w (%s)", ErrTimeout, d))
}

// Err returns err, made to match ErrTimeout (and say so) when call's
// bound cut the call short.
func Err(call context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(call); cause != nil && errors.Is(cause, ErrTimeout) && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// Push moves ref on the remote of repo named remote from old (zero: the
// ref must not exist) to head by compare-and-swap, sending only the
// objects that the commits from head back to old (by first parent) add
// to their parents. progress, if not nil, receives what the remote says
// while receiving (a hook's reason for refusing, say).
//
// It fails with an error matching ErrMoved when the remote advertises the
// ref elsewhere than old (a lost swap: re-read and retry), with a
// *RejectedError when receive-pack refused the update (a hook declined, a
// protected branch, or a race lost inside the server: read the ref back
// to tell), and with one matching ErrTimeout when the remote did not
// answer within the bound of ctx (see Call).
//
// go-git's Push works out what to send by walking every object reachable
// from what the remote has: on a ledger of thousands of events, or an
// environment repository with years of history, that walk costs more than
// the push, every time. Here the objects are found from each new commit's
// diff to its parent, without reading the history. The remote checks old
// itself (the command carries it), so the swap stays atomic.
func Push(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref plumbing.ReferenceName, old, head plumbing.Hash, progress io.Writer) error {
	return PushPack(ctx, repo, remote, auth, ref, old, head, nil, progress)
}

// PushPack is Push sending pack as it is, when not nil: a complete pack
// holding at least every object that the commits from head back to old
// add to their parents, such as the one the caller just stored those
// commits in (gitx.StoreObjectsPack), which spares compressing every
// object again. Objects the remote has already are allowed in a pack.
func PushPack(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref plumbing.ReferenceName, old, head plumbing.Hash, pack []byte, progress io.Writer) error {
	call, cancel := Call(ctx)
	defer cancel()
	return Err(call, push(call, repo, remote, auth, ref, old, head, pack, progress))
}

func push(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref plumbing.ReferenceName, old, head plumbing.Hash, pack []byte, progress io.Writer) error {
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
	var hashes []plumbing.Hash
	if pack == nil {
		if hashes, err = newObjects(repo.Storer, old, head); err != nil {
			return err
		}
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: old, New: head}}
	// What the server says while receiving is kept (bounded) for the
	// error, and copied to progress.
	said := &tail{max: 4096}
	var sink io.Writer = said
	if progress != nil {
		sink = io.MultiWriter(said, progress)
	}
	req.Progress = sink
	switch {
	case ar.Capabilities.Supports(capability.Sideband64k):
		_ = req.Capabilities.Set(capability.Sideband64k)
	case ar.Capabilities.Supports(capability.Sideband):
		_ = req.Capabilities.Set(capability.Sideband)
	}
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		if pack != nil {
			_, err := wr.Write(pack)
			done <- errors.Join(err, wr.Close())
			return
		}
		enc := packfile.NewEncoder(wr, repo.Storer, !ar.Capabilities.Supports(capability.OFSDelta))
		if _, err := enc.Encode(hashes, 0); err != nil {
			done <- wr.CloseWithError(err)
			return
		}
		done <- wr.Close()
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if rerr := refused(rs, ref, said.String()); rerr != nil {
		_ = rd.Close()
		<-done
		return rerr
	}
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

// refused types receive-pack's refusal of ref, if it reported one, as a
// *RejectedError. Its text is not read to tell a lost race from a refusal
// of the server's own: a caller that needs to know reads the ref back
// (gitx.CompareAndSwap).
func refused(rs *packp.ReportStatus, ref plumbing.ReferenceName, said string) error {
	if rs == nil {
		return nil
	}
	for _, cs := range rs.CommandStatuses {
		if cs.ReferenceName != ref || cs.Status == "ok" {
			continue
		}
		return &RejectedError{Ref: ref, Status: redact.Bound(cs.Status, 512), Remote: redact.Bound(strings.TrimSpace(said), 1024)}
	}
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }

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
