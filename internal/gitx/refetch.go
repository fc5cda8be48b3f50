package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Refetch fetches ref from the remote named remote of repo as if repo
// held nothing of it, adds to repo the objects it lacks, sets tracking
// to the head fetched and returns it (zero, tracking removed, when the
// remote has no such ref).
//
// It repairs a store that holds a commit but not everything the commit
// reaches (a fetch or a copy cut short, objects removed by hand), which
// FetchRef cannot: go-git asks for no object it holds (a head whose
// commit is present is "up to date") and tells the server it has
// everything reachable from its refs. The remote itself is complete
// (receive-pack checks connectivity), so what is missing here is fetched
// whole, into memory, and only what repo lacks is written, as one pack
// when repo's store takes packs. The fetch is bounded by gitpush.Call as FetchRef's is.
// Its cost is that of the whole history of ref: a repair, not a reading.
func Refetch(ctx context.Context, repo *git.Repository, remote string, auth transport.AuthMethod, ref, tracking plumbing.ReferenceName) (plumbing.Hash, error) {
	rem, err := repo.Remote(remote)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("remote %q: %w", remote, err)
	}
	mem := memory.NewStorage()
	tmp, err := git.Init(mem, nil)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := tmp.CreateRemote(&config.RemoteConfig{Name: remote, URLs: rem.Config().URLs}); err != nil {
		return plumbing.ZeroHash, err
	}
	head, err := fetchRef(ctx, tmp, remote, auth, ref, tracking)
	if err != nil || head.IsZero() {
		if err == nil {
			err = repo.Storer.RemoveReference(tracking)
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				err = nil
			}
		}
		return plumbing.ZeroHash, err
	}
	if err := copyMissing(repo.Storer, mem); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("refetching %s from %s: %w", ref, remote, err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(tracking, head)); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("updating %s: %w", tracking, err)
	}
	return head, nil
}

// copyMissing writes to dst the objects of src that dst lacks.
func copyMissing(dst storer.EncodedObjectStorer, src *memory.Storage) error {
	var missing []plumbing.Hash
	for h := range src.Objects {
		if dst.HasEncodedObject(h) != nil {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return StoreObjects(dst, src, missing, 1, 10)
}

// StoreObjects writes the objects hs of src to dst, in that order: as one
// pack and its index (deltas searched over window objects; 0 for none)
// when dst writes packs and there are at least packMin of them, else as
// one loose object each. A pack is complete before dst knows it, so a
// failure leaves no partial pack behind. A store opened by Open gets a
// pack without deltas (window 0) from writePack, which indexes what it
// wrote instead of parsing it again as go-git's pack writer does.
func StoreObjects(dst, src storer.EncodedObjectStorer, hs []plumbing.Hash, packMin int, window uint) error {
	_, err := storeObjects(dst, src, hs, packMin, window, false)
	return err
}

// StoreObjectsPack is StoreObjects returning the pack it wrote (nil when
// it wrote loose objects): a push of the same objects can send those
// bytes as they are (gitpush.PushPack) rather than compress every object
// again.
func StoreObjectsPack(dst, src storer.EncodedObjectStorer, hs []plumbing.Hash, packMin int, window uint) ([]byte, error) {
	return storeObjects(dst, src, hs, packMin, window, true)
}

// storeObjects is StoreObjects, keeping a copy of the pack written when
// keep is set.
func storeObjects(dst, src storer.EncodedObjectStorer, hs []plumbing.Hash, packMin int, window uint, keep bool) ([]byte, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	if s, ok := dst.(*objectStorage); ok && window == 0 && len(hs) >= packMin {
		return s.storePack(src, hs, keep)
	}
	if pw, ok := dst.(storer.PackfileWriter); ok && len(hs) >= packMin {
		w, err := pw.PackfileWriter()
		if err != nil {
			return nil, err
		}
		var pack *bytes.Buffer
		out := io.Writer(w)
		if keep {
			pack = new(bytes.Buffer)
			out = io.MultiWriter(w, pack)
		}
		if _, err := packfile.NewEncoder(out, src, false).Encode(hs, window); err != nil {
			_ = w.Close()
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if pack == nil {
			return nil, nil
		}
		return pack.Bytes(), nil
	}
	for _, h := range hs {
		o, err := src.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, err
		}
		if _, err := dst.SetEncodedObject(o); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
