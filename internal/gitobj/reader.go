package gitobj

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/klauspost/compress/zlib"
)

// Type is the type of a git object, numbered as in pack files.
type Type int

// The types of objects; deltas are resolved by Read and never returned.
const (
	TypeCommit  Type = 1
	TypeTree    Type = 2
	TypeBlob    Type = 3
	TypeTag     Type = 4
	objOfsDelta Type = 6
	objRefDelta Type = 7
)

// maxDeltaDepth bounds a chain of deltas (git's own limit is 4095).
const maxDeltaDepth = 10_000

// deltaCacheSize bounds the memory of resolved delta bases: measured on
// the benchmark repository, 16 MiB serves a cold scan as well as 192 MiB.
const deltaCacheSize = 48 << 20

// maxObject bounds the size of one object the reader returns: tickets,
// trees and commits are small; anything larger is not cab's.
const maxObject = 64 << 20

// ErrNotFound reports an object in neither a pack, the loose object
// directory nor the fallback storer.
var ErrNotFound = errors.New("object not found")

// Reader reads git objects straight from the pack files and loose objects
// of one repository: go-git decodes, hashes and caches every object it
// reads, which makes a walk over thousands of commits and trees several
// times slower than C git; this reader maps the packs, inflates only what
// is asked for and keeps recently used delta bases. What it may not see
// (objects of alternates, packs with a v1 index, packs that appeared after
// a clone was made) it asks go-git for; an object in none of the packs and
// loose objects of a reader that sees them all is missing, without asking
// go-git (whose first lookup after a write indexes every pack again). Git
// stays the source of truth: nothing here writes. A Reader is not safe
// for concurrent use; its clones, which share the packs and the cache,
// may be used each by its own goroutine.
type Reader struct {
	dir      string // the objects directory
	packs    []*pack
	fallback *lockedStorer
	cache    *deltaCache
	zr       io.ReadCloser
	br       bytes.Reader
	// listed is the modification time of the pack directory when its
	// packs were last listed, listedAt when that was (see reload).
	listed, listedAt time.Time
	// unmapped counts the indexes of the pack directory, when last
	// listed, that could not be mapped; alternates says the repository
	// borrows objects from others (objects/info/alternates). Either makes
	// the fallback storer the judge of a missing object.
	unmapped   int
	alternates bool
	isClone    bool
	// scratch holds the delta being applied.
	scratch []byte
}

// lockedStorer serializes the clones' calls to go-git's storer.
type lockedStorer struct {
	mu sync.Mutex
	s  storer.EncodedObjectStorer
}

// Clone returns a reader sharing o's packs, cache and fallback, for
// another goroutine. Closing it closes nothing.
func (o *Reader) Clone() *Reader {
	// A clone never opens packs of its own (it could not close them):
	// what appeared since o looked is asked of the fallback.
	return &Reader{dir: o.dir, packs: slices.Clone(o.packs), fallback: o.fallback, cache: o.cache, isClone: true}
}

// Open opens the objects directory dir (".git/objects"); fallback,
// when not nil, answers for objects found nowhere else.
func Open(dir string, fallback storer.EncodedObjectStorer) (*Reader, error) {
	o := &Reader{dir: dir, cache: newDeltaCache(deltaCacheSize)}
	if fallback != nil {
		o.fallback = &lockedStorer{s: fallback}
	}
	if _, err := os.Stat(filepath.Join(dir, "info", "alternates")); err == nil {
		o.alternates = true
	}
	o.listed, o.listedAt = o.packDirTime(), time.Now()
	if err := o.loadPacks(); err != nil {
		return nil, err
	}
	return o, nil
}

// racyListing is how soon after the pack directory's last modification a
// listing of it may have missed a pack added within the same tick of the
// file system's clock (which keeps the directory's time unchanged): such
// a listing is not trusted, and the next miss lists again.
const racyListing = time.Second

// sees reports whether a miss in the packs and loose objects means the
// object is missing: the reader maps every pack of the directory as it
// was last listed, and borrows from no other repository. Otherwise the
// fallback storer is asked.
func (o *Reader) sees() bool {
	return !o.isClone && !o.alternates && o.unmapped == 0
}

// packDirTime is the modification time of the pack directory (zero when
// it cannot be read): adding or removing a pack changes it.
func (o *Reader) packDirTime() time.Time {
	fi, err := os.Stat(filepath.Join(o.dir, "pack"))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// reload maps the packs that appeared since the directory was last
// listed (a fetch, a repack, another process's write), when the pack
// directory changed since; it says whether it found any. A clone never
// reloads (it could not close what it opened). The time is taken before
// listing, so a pack added during the listing changes it again; a listing
// made within racyListing of the directory's time may have missed a pack
// added in the same tick of the file system's clock, so the directory is
// listed again then even if its time did not change, as git treats a
// "racily clean" index entry.
func (o *Reader) reload() (bool, error) {
	if o.isClone {
		return false, nil
	}
	t := o.packDirTime()
	if t.Equal(o.listed) && o.listedAt.Sub(t) > racyListing {
		return false, nil
	}
	o.listed, o.listedAt = t, time.Now()
	n := len(o.packs)
	if err := o.loadPacks(); err != nil {
		return false, err
	}
	return len(o.packs) > n, nil
}

func (o *Reader) loadPacks() error {
	names, err := filepath.Glob(filepath.Join(o.dir, "pack", "*.idx"))
	if err != nil {
		return fmt.Errorf("listing packs in %s: %w", o.dir, err)
	}
	have := map[string]bool{}
	for _, p := range o.packs {
		have[p.name] = true
	}
	o.unmapped = 0
	for _, name := range names {
		if have[packName(name)] {
			continue // already mapped
		}
		p, err := openPack(name)
		if err != nil {
			// A pack being written, or an index format we do not read:
			// the fallback storer answers for its objects.
			o.unmapped++
			continue
		}
		o.packs = append(o.packs, p)
	}
	return nil
}

// AddPack maps the pack of the index idxName (a version 2 index in the
// reader's pack directory) unless the reader already has it: a pack this
// process wrote, readable at once rather than after a miss. Clones made
// before do not see it.
func (o *Reader) AddPack(idxName string) error {
	for _, p := range o.packs {
		if p.name == packName(idxName) {
			return nil
		}
	}
	p, err := openPack(idxName)
	if err != nil {
		return err
	}
	o.packs = append(o.packs, p)
	return nil
}

// Close unmaps the packs (those its clones opened too): call it once
// every clone is done.
func (o *Reader) Close() error {
	if o.isClone {
		return nil
	}
	var first error
	for _, p := range o.packs {
		if err := p.close(); err != nil && first == nil {
			first = err
		}
	}
	o.packs = nil
	return first
}

// Read returns the type and content of object h (deltas resolved, size
// at most 64 MiB). The content may be
// shared with the cache: callers must not modify it.
func (o *Reader) Read(h plumbing.Hash) (Type, []byte, error) {
	if p, off, ok := o.locate(h); ok {
		return o.readPacked(p, off, 0)
	}
	if t, data, err := o.readLoose(h); !errors.Is(err, ErrNotFound) {
		return t, data, err
	}
	// A repack or fetch may have added a pack since we looked.
	if found, err := o.reload(); err != nil {
		return 0, nil, err
	} else if found {
		if p, off, ok := o.locate(h); ok {
			return o.readPacked(p, off, 0)
		}
	}
	if o.sees() {
		return 0, nil, fmt.Errorf("%w: %s", ErrNotFound, h)
	}
	return o.readFallback(h)
}

// ReadType is Read, failing unless the object has type want.
func (o *Reader) ReadType(h plumbing.Hash, want Type) ([]byte, error) {
	t, data, err := o.Read(h)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, fmt.Errorf("object %s is a %s, not a %s", h, t, want)
	}
	return data, nil
}

// WithFallback runs f under the lock that serializes the reader's (and
// its clones') calls to the fallback storer: for code that reads the same
// go-git storage directly, which is not safe for concurrent use.
func (o *Reader) WithFallback(f func() error) error {
	if o.fallback != nil {
		o.fallback.mu.Lock()
		defer o.fallback.mu.Unlock()
	}
	return f()
}

// String is the name git gives the type ("commit").
func (t Type) String() string {
	switch t {
	case TypeCommit:
		return "commit"
	case TypeTree:
		return "tree"
	case TypeBlob:
		return "blob"
	case TypeTag:
		return "tag"
	}
	return "object of type " + strconv.Itoa(int(t))
}

func (o *Reader) readFallback(h plumbing.Hash) (Type, []byte, error) {
	if o.fallback == nil {
		return 0, nil, fmt.Errorf("%w: %s", ErrNotFound, h)
	}
	o.fallback.mu.Lock()
	defer o.fallback.mu.Unlock()
	obj, err := o.fallback.s.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return 0, nil, fmt.Errorf("%w: %s", ErrNotFound, h)
		}
		return 0, nil, fmt.Errorf("reading object %s: %w", h, err)
	}
	if obj.Size() > maxObject {
		return 0, nil, fmt.Errorf("object %s: %d bytes, more than %d", h, obj.Size(), maxObject)
	}
	r, err := obj.Reader()
	if err != nil {
		return 0, nil, fmt.Errorf("reading object %s: %w", h, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, nil, fmt.Errorf("reading object %s: %w", h, err)
	}
	var t Type
	switch obj.Type() {
	case plumbing.CommitObject:
		t = TypeCommit
	case plumbing.TreeObject:
		t = TypeTree
	case plumbing.BlobObject:
		t = TypeBlob
	case plumbing.TagObject:
		t = TypeTag
	default:
		return 0, nil, fmt.Errorf("object %s has type %s", h, obj.Type())
	}
	return t, data, nil
}

// readLoose reads objects/xx/yyyy…: a zlib stream of "<type> <size>\0"
// and the content.
func (o *Reader) readLoose(h plumbing.Hash) (Type, []byte, error) {
	s := h.String()
	raw, err := os.ReadFile(filepath.Join(o.dir, s[:2], s[2:]))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, ErrNotFound
	}
	if err != nil {
		return 0, nil, fmt.Errorf("reading loose object %s: %w", s, err)
	}
	zr, err := o.inflater(raw)
	if err != nil {
		return 0, nil, fmt.Errorf("loose object %s: %w", s, err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxObject+64))
	if err != nil {
		return 0, nil, fmt.Errorf("loose object %s: %w", s, err)
	}
	t, body, err := parseLooseHeader(data)
	if err != nil {
		return 0, nil, fmt.Errorf("loose object %s: %w", s, err)
	}
	return t, body, nil
}

func parseLooseHeader(data []byte) (Type, []byte, error) {
	nul := bytes.IndexByte(data, 0)
	if nul < 0 || nul > 32 {
		return 0, nil, errors.New("no header")
	}
	kind, size, ok := strings.Cut(string(data[:nul]), " ")
	if !ok {
		return 0, nil, errors.New("bad header")
	}
	n, err := strconv.Atoi(size)
	if err != nil || n != len(data)-nul-1 {
		return 0, nil, errors.New("size does not match the header")
	}
	var t Type
	switch kind {
	case "commit":
		t = TypeCommit
	case "tree":
		t = TypeTree
	case "blob":
		t = TypeBlob
	case "tag":
		t = TypeTag
	default:
		return 0, nil, fmt.Errorf("unknown type %q", kind)
	}
	return t, data[nul+1:], nil
}

// inflater returns the shared zlib reader reset onto src.
func (o *Reader) inflater(src []byte) (io.Reader, error) {
	o.br.Reset(src)
	if o.zr == nil {
		zr, err := zlib.NewReader(&o.br)
		if err != nil {
			return nil, err
		}
		o.zr = zr
		return zr, nil
	}
	if err := o.zr.(zlib.Resetter).Reset(&o.br, nil); err != nil {
		return nil, err
	}
	return o.zr, nil
}

// inflate decompresses exactly size bytes of the zlib stream at src.
func (o *Reader) inflate(src []byte, size int) ([]byte, error) {
	return o.inflateInto(make([]byte, size), src)
}

// inflateInto decompresses exactly len(out) bytes of the zlib stream at
// src into out.
func (o *Reader) inflateInto(out, src []byte) ([]byte, error) {
	zr, err := o.inflater(src)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, err
	}
	return out, nil
}

// readPacked resolves the object at off in p, applying deltas.
func (o *Reader) readPacked(p *pack, off int64, depth int) (Type, []byte, error) {
	key := cacheKey{p, off}
	if e := o.cache.get(key); e != nil {
		return e.typ, e.data, nil
	}
	if depth > maxDeltaDepth {
		return 0, nil, fmt.Errorf("%s: delta chain longer than %d at offset %d", p.name, maxDeltaDepth, off)
	}
	t, size, pos, err := p.header(off)
	if err != nil {
		return 0, nil, err
	}

	if size > maxObject {
		return 0, nil, fmt.Errorf("%s: object at offset %d has %d bytes, more than %d", p.name, off, size, maxObject)
	}
	switch t {
	case TypeCommit, TypeTree, TypeBlob, TypeTag:
		data, err := o.inflate(p.data[pos:], int(size))
		if err != nil {
			return 0, nil, fmt.Errorf("%s: inflating the object at offset %d: %w", p.name, off, err)
		}
		o.cache.put(key, t, data)
		return t, data, nil
	case objOfsDelta, objRefDelta:
		var bt Type
		var base []byte
		if t == objOfsDelta {
			rel, n, err := ofsDeltaOffset(p.data[pos:])
			if err != nil || rel <= 0 || rel > off {
				return 0, nil, fmt.Errorf("%s: bad delta base offset at %d", p.name, off)
			}
			pos += int64(n)
			bt, base, err = o.readPacked(p, off-rel, depth+1)
			if err != nil {
				return 0, nil, err
			}
		} else {
			if len(p.data) < int(pos)+20 {
				return 0, nil, fmt.Errorf("%s: truncated delta at %d", p.name, off)
			}
			var bh plumbing.Hash
			copy(bh[:], p.data[pos:pos+20])
			pos += 20
			if boff, ok := p.find(bh); ok {
				bt, base, err = o.readPacked(p, boff, depth+1)
			} else {
				bt, base, err = o.Read(bh)
			}
			if err != nil {
				return 0, nil, err
			}
		}
		// The delta itself is not kept: inflate it into the scratch
		// buffer (free again: the base was resolved above).
		if cap(o.scratch) < int(size) {
			o.scratch = make([]byte, size)
		}
		delta, err := o.inflateInto(o.scratch[:size], p.data[pos:])
		if err != nil {
			return 0, nil, fmt.Errorf("%s: inflating the delta at offset %d: %w", p.name, off, err)
		}
		data, err := applyDelta(base, delta)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: delta at offset %d: %w", p.name, off, err)
		}
		o.cache.put(key, bt, data)
		return bt, data, nil
	}
	return 0, nil, fmt.Errorf("%s: unknown object type %d at offset %d", p.name, t, off)
}

// ofsDeltaOffset decodes the distance to the base of an OFS_DELTA.
func ofsDeltaOffset(b []byte) (int64, int, error) {
	if len(b) == 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	c := b[0]
	off := int64(c & 0x7f)
	n := 1
	for c&0x80 != 0 {
		if n >= len(b) || n > 9 {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c = b[n]
		n++
		off = ((off + 1) << 7) | int64(c&0x7f)
	}
	return off, n, nil
}

// applyDelta rebuilds an object from its base and a git delta: the base
// and result sizes as varints, then copy (from the base) and insert
// instructions.
func applyDelta(base, delta []byte) ([]byte, error) {
	srcSize, n := deltaVarint(delta)
	if n <= 0 {
		return nil, errors.New("bad source size")
	}
	delta = delta[n:]
	if srcSize != uint64(len(base)) {
		return nil, fmt.Errorf("base has %d bytes, the delta wants %d", len(base), srcSize)
	}
	dstSize, n := deltaVarint(delta)
	if n <= 0 || dstSize > maxObject {
		return nil, errors.New("bad result size")
	}
	delta = delta[n:]
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, size uint64
			for i := uint(0); i < 4; i++ {
				if op&(1<<i) != 0 {
					if len(delta) == 0 {
						return nil, io.ErrUnexpectedEOF
					}
					off |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := uint(0); i < 3; i++ {
				if op&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return nil, io.ErrUnexpectedEOF
					}
					size |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if size == 0 {
				size = 0x10000
			}
			if off+size > uint64(len(base)) || uint64(len(out))+size > dstSize {
				return nil, errors.New("copy out of range")
			}
			out = append(out, base[off:off+size]...)
		case op != 0:
			if int(op) > len(delta) || uint64(len(out))+uint64(op) > dstSize {
				return nil, errors.New("insert out of range")
			}
			out = append(out, delta[:op]...)
			delta = delta[op:]
		default:
			return nil, errors.New("reserved delta instruction 0")
		}
	}
	if uint64(len(out)) != dstSize {
		return nil, fmt.Errorf("result has %d bytes, the delta promised %d", len(out), dstSize)
	}
	return out, nil
}

func deltaVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, -1
}

// pack is one mapped pack file and its version 2 index.
type pack struct {
	name   string
	idx    []byte
	data   []byte
	n      uint32
	fanout [256]uint32
	unmap  []func() error
}

// packName is the name a pack is known by: the base name of the pack
// file its index idxName describes.
func packName(idxName string) string {
	return filepath.Base(strings.TrimSuffix(idxName, ".idx") + ".pack")
}

func openPack(idxName string) (*pack, error) {
	p := &pack{name: packName(idxName)}
	idx, unmapIdx, err := mapFile(idxName)
	if err != nil {
		return nil, err
	}
	p.idx = idx
	p.unmap = append(p.unmap, unmapIdx)
	if err := p.parseIndex(); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", idxName, err)
	}
	data, unmapData, err := mapFile(strings.TrimSuffix(idxName, ".idx") + ".pack")
	if err != nil {
		p.close()
		return nil, err
	}
	p.data = data
	p.unmap = append(p.unmap, unmapData)
	if len(data) < 32 || string(data[:4]) != "PACK" {
		p.close()
		return nil, fmt.Errorf("%s: not a pack file", p.name)
	}
	return p, nil
}

func (p *pack) close() error {
	var first error
	for _, f := range p.unmap {
		if err := f(); err != nil && first == nil {
			first = err
		}
	}
	p.unmap, p.idx, p.data = nil, nil, nil
	return first
}

// idxMagic starts a version 2 pack index.
const idxMagic = "\xfftOc\x00\x00\x00\x02"

func (p *pack) parseIndex() error {
	if len(p.idx) < 8+256*4+40 || string(p.idx[:8]) != idxMagic {
		return errors.New("not a version 2 pack index")
	}
	for i := range p.fanout {
		p.fanout[i] = binary.BigEndian.Uint32(p.idx[8+4*i:])
		if i > 0 && p.fanout[i] < p.fanout[i-1] {
			return errors.New("corrupt fanout table")
		}
	}
	p.n = p.fanout[255]
	if uint64(len(p.idx)) < 8+256*4+uint64(p.n)*28+40 {
		return errors.New("truncated pack index")
	}
	return nil
}

// find returns the offset of h in the pack.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	lo := uint32(0)
	if h[0] > 0 {
		lo = p.fanout[h[0]-1]
	}
	hi := p.fanout[h[0]]
	hashes := p.idx[8+256*4:]
	i := lo + uint32(sort.Search(int(hi-lo), func(i int) bool {
		k := (lo + uint32(i)) * 20
		return bytes.Compare(hashes[k:k+20], h[:]) >= 0
	}))
	if i >= hi || !bytes.Equal(hashes[i*20:i*20+20], h[:]) {
		return 0, false
	}
	offsets := hashes[p.n*20+p.n*4:]
	off := binary.BigEndian.Uint32(offsets[i*4:])
	if off&0x80000000 == 0 {
		return int64(off), true
	}
	large := offsets[p.n*4:]
	k := uint64(off&0x7fffffff) * 8
	if k+8 > uint64(len(large)) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(large[k:])), true
}

// header decodes the type and size of the object at off and returns the
// position of what follows.
func (p *pack) header(off int64) (t Type, size int64, pos int64, err error) {
	if off < 12 || off >= int64(len(p.data)) {
		return 0, 0, 0, fmt.Errorf("%s: offset %d out of range", p.name, off)
	}
	c := p.data[off]
	t = Type(c>>4) & 7
	size = int64(c & 0x0f)
	shift := uint(4)
	pos = off + 1
	for c&0x80 != 0 {
		if pos >= int64(len(p.data)) || shift > 56 {
			return 0, 0, 0, fmt.Errorf("%s: bad object header at %d", p.name, off)
		}
		c = p.data[pos]
		pos++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	return t, size, pos, nil
}

type cacheKey struct {
	p   *pack
	off int64
}

type cacheEntry struct {
	key  cacheKey
	typ  Type
	data []byte
}

// deltaCache keeps recently resolved objects, bounded in bytes: packs
// store some versions whole and others as deltas against them, and a walk
// reads neighbouring versions one after the other, so a delta's base was
// usually resolved just before. It is shared by the clones of an objects,
// in shards (by offset) so that concurrent readers seldom wait for each
// other.
type deltaCache struct {
	shards [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu        sync.Mutex
	max, size int
	lru       list.List
	m         map[cacheKey]*list.Element
}

func newDeltaCache(max int) *deltaCache {
	c := &deltaCache{}
	for i := range c.shards {
		c.shards[i] = cacheShard{max: max / cacheShards, m: map[cacheKey]*list.Element{}}
	}
	return c
}

func (c *deltaCache) shard(k cacheKey) *cacheShard {
	return &c.shards[uint64(k.off)*0x9e3779b97f4a7c15>>60]
}

func (c *deltaCache) get(k cacheKey) *cacheEntry {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(*cacheEntry)
	}
	return nil
}

func (c *deltaCache) put(k cacheKey, t Type, data []byte) {
	s := c.shard(k)
	if len(data) > s.max/2 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		s.lru.MoveToFront(e)
		return
	}
	s.m[k] = s.lru.PushFront(&cacheEntry{key: k, typ: t, data: data})
	s.size += len(data)
	for s.size > s.max {
		e := s.lru.Back()
		ce := e.Value.(*cacheEntry)
		s.lru.Remove(e)
		delete(s.m, ce.key)
		s.size -= len(ce.data)
	}
}
