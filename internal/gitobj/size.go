package gitobj

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// MaxObject is the size of the largest object Read returns: a larger one
// is refused with an error (Size still tells its size).
const MaxObject = maxObject

// Size returns the size of object h's content (a delta's: the size of the
// object it rebuilds) from headers alone, inflating nothing but a pack
// delta's first bytes or a loose object's header: a caller can refuse an
// object by its size before it is read. It looks where Read looks, in the
// same order; a missing object is an error wrapping ErrNotFound.
func (o *Reader) Size(h plumbing.Hash) (int64, error) {
	if p, off, ok := o.locate(h); ok {
		return o.packedSize(p, off)
	}
	if size, err := o.looseSize(h); !errors.Is(err, ErrNotFound) {
		return size, err
	}
	if found, err := o.reload(); err != nil {
		return 0, err
	} else if found {
		if p, off, ok := o.locate(h); ok {
			return o.packedSize(p, off)
		}
	}
	if o.fallback == nil || o.sees() {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, h)
	}
	o.fallback.mu.Lock()
	defer o.fallback.mu.Unlock()
	size, err := o.fallback.s.EncodedObjectSize(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, h)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the size of object %s: %w", h, err)
	}
	return size, nil
}

// locate finds the pack holding h and its offset there.
func (o *Reader) locate(h plumbing.Hash) (*pack, int64, bool) {
	for _, p := range o.packs {
		if off, ok := p.find(h); ok {
			return p, off, true
		}
	}
	return nil, 0, false
}

// packedSize reads the size of the object at off in p: its header's, or
// for a delta the result size at the start of the delta.
func (o *Reader) packedSize(p *pack, off int64) (int64, error) {
	t, size, pos, err := p.header(off)
	if err != nil {
		return 0, err
	}
	switch t {
	case TypeCommit, TypeTree, TypeBlob, TypeTag:
		return size, nil
	case objOfsDelta:
		_, n, err := ofsDeltaOffset(p.data[pos:])
		if err != nil {
			return 0, fmt.Errorf("%s: bad delta base offset at %d", p.name, off)
		}
		pos += int64(n)
	case objRefDelta:
		pos += 20
	default:
		return 0, fmt.Errorf("%s: unknown object type %d at offset %d", p.name, t, off)
	}
	if pos >= int64(len(p.data)) {
		return 0, fmt.Errorf("%s: truncated delta at %d", p.name, off)
	}
	// Two varints of at most 10 bytes each: the base's size, the result's.
	head := make([]byte, min(size, 20))
	zr, err := o.inflater(p.data[pos:])
	if err != nil {
		return 0, fmt.Errorf("%s: inflating the delta at offset %d: %w", p.name, off, err)
	}
	if _, err := io.ReadFull(zr, head); err != nil {
		return 0, fmt.Errorf("%s: inflating the delta at offset %d: %w", p.name, off, err)
	}
	_, n := deltaVarint(head)
	if n <= 0 {
		return 0, fmt.Errorf("%s: delta at offset %d: bad source size", p.name, off)
	}
	dst, m := deltaVarint(head[n:])
	if m <= 0 || dst > 1<<62 {
		return 0, fmt.Errorf("%s: delta at offset %d: bad result size", p.name, off)
	}
	return int64(dst), nil
}

// looseSize reads the size from the header of the loose object h,
// inflating the header only.
func (o *Reader) looseSize(h plumbing.Hash) (int64, error) {
	s := h.String()
	f, err := os.Open(filepath.Join(o.dir, s[:2], s[2:]))
	if errors.Is(err, os.ErrNotExist) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reading loose object %s: %w", s, err)
	}
	defer f.Close()
	zr, err := o.inflaterFrom(bufio.NewReaderSize(f, 512))
	if err != nil {
		return 0, fmt.Errorf("loose object %s: %w", s, err)
	}
	// "<type> <size>\0": the header is at most 32 bytes.
	head, err := io.ReadAll(io.LimitReader(zr, 33))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, fmt.Errorf("loose object %s: %w", s, err)
	}
	nul := bytes.IndexByte(head, 0)
	if nul < 0 || nul > 32 {
		return 0, fmt.Errorf("loose object %s: no header", s)
	}
	kind, size, ok := strings.Cut(string(head[:nul]), " ")
	n, err := strconv.ParseInt(size, 10, 64)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("loose object %s: bad header", s)
	}
	switch kind {
	case "commit", "tree", "blob", "tag":
	default:
		return 0, fmt.Errorf("loose object %s: unknown type %q", s, kind)
	}
	return n, nil
}

// inflaterFrom returns the shared zlib reader reset onto r.
func (o *Reader) inflaterFrom(r io.Reader) (io.Reader, error) {
	if o.zr == nil {
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, err
		}
		o.zr = zr
		return zr, nil
	}
	if err := o.zr.(zlib.Resetter).Reset(r, nil); err != nil {
		return nil, err
	}
	return o.zr, nil
}
