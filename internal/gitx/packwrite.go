package gitx

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1" //nolint:gosec // the pack and index checksums are SHA-1 by the format
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/internal/atomicfile"
)

// writePack writes the objects hs of src (each once, no deltas) to the
// objects directory dir as one pack and its version 2 index, named by the
// pack's checksum as git names them, and returns the index's path. The
// pack is renamed into place before its index is written, and the index
// before it is renamed into place: a reader finds a pack by its index, so
// it never sees half of one; a failure leaves no temporary file, at most
// a pack without its index, which no reader uses. Unlike go-git's pack writer, which parses the pack it is given
// again (inflating and hashing every object) to build the index, the
// index is made from what was written; objects are compressed at zlib's
// best speed, as the ledger's small trees and commits barely gain from
// more. Objects are stored under the ids src gives them, as go-git's
// encoder stores them.
func writePack(dir string, src storer.EncodedObjectStorer, hs []plumbing.Hash) (string, error) {
	packDir := filepath.Join(dir, "pack")
	if err := os.MkdirAll(packDir, 0o755); err != nil {
		return "", err
	}
	var (
		entries []packEntry
		packSum [20]byte
	)
	pack, err := writeReadOnly(packDir, "tmp_pack_", func(f io.Writer) (string, error) {
		sum := sha1.New() //nolint:gosec
		buf := bufio.NewWriterSize(io.MultiWriter(f, sum), 256<<10)
		var err error
		if entries, err = encodePack(&countWriter{w: buf}, src, hs); err != nil {
			return "", err
		}
		if err := buf.Flush(); err != nil {
			return "", err
		}
		copy(packSum[:], sum.Sum(nil))
		if _, err := f.Write(packSum[:]); err != nil {
			return "", err
		}
		return "pack-" + hex.EncodeToString(packSum[:]) + ".pack", nil
	})
	if err != nil {
		return "", err
	}
	return writeReadOnly(packDir, "tmp_idx_", func(f io.Writer) (string, error) {
		ib, err := encodeIndex(entries, packSum)
		if err != nil {
			return "", err
		}
		if _, err := f.Write(ib); err != nil {
			return "", err
		}
		return strings.TrimSuffix(filepath.Base(pack), ".pack") + ".idx", nil
	})
}

// writeReadOnly writes a file of dir through write, into a temporary
// file, then makes it read-only and renames it to the name write
// returns; it returns the file's path. On any failure the temporary file
// is removed and nothing is left under that name. The temporary name
// starts with prefix, "tmp_" as git names its own, so that one a crash
// leaves behind is removed by git prune once stale.
func writeReadOnly(dir, prefix string, write func(io.Writer) (string, error)) (string, error) {
	tmp, err := atomicfile.Create(dir, prefix)
	if err != nil {
		return "", err
	}
	defer tmp.Cleanup()
	name, err := write(tmp)
	if err != nil {
		return "", err
	}
	final := filepath.Join(dir, name)
	if err := tmp.Commit(final, 0o444); err != nil {
		return "", err
	}
	return final, nil
}

// packEntry is where an object lies in a pack, for its index.
type packEntry struct {
	hash   plumbing.Hash
	offset uint64
	crc    uint32
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

// encodePack writes the pack header and one undeltified entry per object
// of hs (the first of repeated ids only) to w, and returns the entries.
func encodePack(w *countWriter, src storer.EncodedObjectStorer, hs []plumbing.Hash) ([]packEntry, error) {
	seen := make(map[plumbing.Hash]bool, len(hs))
	var unique []plumbing.Hash
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			unique = append(unique, h)
		}
	}
	if uint64(len(unique)) > 1<<32-1 {
		return nil, fmt.Errorf("%d objects do not fit in one pack", len(unique))
	}
	var head [12]byte
	copy(head[:], "PACK")
	binary.BigEndian.PutUint32(head[4:], 2)
	binary.BigEndian.PutUint32(head[8:], uint32(len(unique)))
	if _, err := w.Write(head[:]); err != nil {
		return nil, err
	}
	entries := make([]packEntry, 0, len(unique))
	var body bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&body, zlib.BestSpeed)
	crc := crc32.NewIEEE()
	for _, h := range unique {
		o, err := src.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", h, err)
		}
		code, err := packType(o.Type())
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", h, err)
		}
		body.Reset()
		body.Write(entryHeader(code, o.Size()))
		zw.Reset(&body)
		r, err := o.Reader()
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", h, err)
		}
		n, err := io.Copy(zw, r)
		_ = r.Close()
		if err == nil && n != o.Size() {
			err = fmt.Errorf("%d bytes, its header says %d", n, o.Size())
		}
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", h, err)
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		crc.Reset()
		crc.Write(body.Bytes())
		entries = append(entries, packEntry{hash: h, offset: w.n, crc: crc.Sum32()})
		if _, err := w.Write(body.Bytes()); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// packType is the number a pack gives objects of type t.
func packType(t plumbing.ObjectType) (byte, error) {
	switch t {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		return byte(t), nil
	}
	return 0, fmt.Errorf("cannot pack an object of type %s", t)
}

// entryHeader is the header of a pack entry: its type and size, the size
// in little-endian groups of 7 bits (4 in the first byte).
func entryHeader(code byte, size int64) []byte {
	b := []byte{code<<4 | byte(size&0x0f)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}

// encodeIndex is the version 2 index of a pack of entries whose checksum
// is packSum, made by go-git's index writer from the entries as written.
func encodeIndex(entries []packEntry, packSum [20]byte) ([]byte, error) {
	var w idxfile.Writer
	if err := w.OnHeader(uint32(len(entries))); err != nil {
		return nil, err
	}
	for _, e := range entries {
		w.Add(e.hash, e.offset, e.crc)
	}
	if err := w.OnFooter(plumbing.Hash(packSum)); err != nil {
		return nil, err
	}
	idx, err := w.Index()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := idxfile.NewEncoder(&out).Encode(idx); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
