package gitobj

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// A commit-graph (git's Documentation/gitformat-commit-graph.txt) is a
// cache git writes beside the objects (objects/info/commit-graph, or a
// chain of layers under objects/info/commit-graphs/): for each commit its
// root tree, parents and commit time, and optionally, for each commit, a
// Bloom filter of the paths its diff against its first parent changed.
// It is never transferred by fetch or push; every field is a function of
// the commit's id (the tree and parents are part of what the id hashes,
// and the Bloom filter is derived from those trees). CommitGraph reads
// one: it answers for the commits it holds and says so when it holds
// none, and every offset, count and position in it is checked before use.

// ErrBadCommitGraph is wrapped by the errors of a commit-graph file that
// does not parse.
var ErrBadCommitGraph = errors.New("bad commit-graph")

// Bloom says what a changed-path Bloom filter knows of a path.
type Bloom int

const (
	// BloomUnknown: no filter for the commit (not computed, or a layer
	// without filters): compare the trees.
	BloomUnknown Bloom = iota
	// BloomNo: the commit's diff against its first parent does not touch
	// the path (a Bloom filter has no false negatives).
	BloomNo
	// BloomMaybe: it may.
	BloomMaybe
)

// Graph commit positions: a commit's position across the layers of a
// chain, the base layer first.
const (
	graphNoParent   = 0x70000000
	graphOctopus    = 0x80000000
	graphHeaderSize = 8
	graphChunkEntry = 12
	hashLen         = 20
	bloomHeaderSize = 12
	// maxGraphLayers bounds a chain (git merges layers long before).
	maxGraphLayers = 512
)

// CommitGraph is a commit-graph file, or a chain of them. It is safe for
// concurrent use (it only reads).
type CommitGraph struct {
	layers []*graphLayer
	total  uint32
}

// graphLayer is one commit-graph file.
type graphLayer struct {
	data  []byte
	unmap func() error
	// base is the number of commits in the layers below this one.
	base                      uint32
	n                         uint32
	fanout, oids, cdat, edges []byte
	bidx, bdat                []byte
	bloom                     bloomSettings
	// bases are the ids of the layers below, from its BASE chunk.
	bases []byte
}

type bloomSettings struct {
	version, hashes, bitsPerEntry uint32
}

// GraphCommit is what a commit-graph records of a commit.
type GraphCommit struct {
	Tree plumbing.Hash
	// Parents are graph positions (Hash gives their ids), first parent
	// first.
	Parents []uint32
	// Time is the committer time, in seconds since the epoch.
	Time int64
}

// OpenCommitGraph reads the commit-graph of the objects directory dir:
// the chain under info/commit-graphs when there is one, else
// info/commit-graph. It returns nil and no error when there is none.
func OpenCommitGraph(dir string) (*CommitGraph, error) {
	info := filepath.Join(dir, "info")
	chain, err := os.ReadFile(filepath.Join(info, "commit-graphs", "commit-graph-chain"))
	switch {
	case err == nil:
		return openChain(filepath.Join(info, "commit-graphs"), chain)
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	l, err := openLayer(filepath.Join(info, "commit-graph"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	g := &CommitGraph{}
	if err := g.add(l); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func openChain(dir string, chain []byte) (*CommitGraph, error) {
	g := &CommitGraph{}
	sc := bufio.NewScanner(bytes.NewReader(chain))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if _, ok := ParseHex([]byte(line)); !ok || len(g.layers) >= maxGraphLayers {
			g.Close()
			return nil, fmt.Errorf("%w: commit-graph-chain: bad line %q", ErrBadCommitGraph, line)
		}
		l, err := openLayer(filepath.Join(dir, "graph-"+line+".graph"))
		if err != nil {
			g.Close()
			return nil, err
		}
		if err := g.add(l); err != nil {
			g.Close()
			return nil, err
		}
		// A layer names the layers below it, in order.
		for i := range g.layers[:len(g.layers)-1] {
			if !bytes.Equal(l.bases[i*hashLen:(i+1)*hashLen], g.layers[i].data[len(g.layers[i].data)-hashLen:]) {
				g.Close()
				return nil, fmt.Errorf("%w: graph-%s.graph: its base layers are not the chain's", ErrBadCommitGraph, line)
			}
		}
	}
	if len(g.layers) == 0 {
		return nil, nil
	}
	return g, nil
}

func openLayer(name string) (*graphLayer, error) {
	data, unmap, err := mapFile(name)
	if err != nil {
		return nil, err
	}
	l, err := parseGraph(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	l.unmap = unmap
	return l, nil
}

// add puts l on top of the layers, checking that it names as many base
// layers as there are.
func (g *CommitGraph) add(l *graphLayer) error {
	if len(l.bases) != len(g.layers)*hashLen {
		if l.unmap != nil {
			l.unmap()
		}
		return fmt.Errorf("%w: a layer with %d base layers on %d", ErrBadCommitGraph, len(l.bases)/hashLen, len(g.layers))
	}
	if uint64(g.total)+uint64(l.n) >= graphNoParent {
		if l.unmap != nil {
			l.unmap()
		}
		return fmt.Errorf("%w: too many commits", ErrBadCommitGraph)
	}
	l.base = g.total
	g.total += l.n
	g.layers = append(g.layers, l)
	return nil
}

// ParseCommitGraph parses one commit-graph file without base layers (for
// tests and fuzzing; OpenCommitGraph maps the files).
func ParseCommitGraph(data []byte) (*CommitGraph, error) {
	l, err := parseGraph(data)
	if err != nil {
		return nil, err
	}
	g := &CommitGraph{}
	if err := g.add(l); err != nil {
		return nil, err
	}
	return g, nil
}

// parseGraph checks the header, the chunk table and the sizes of the
// chunks it uses.
func parseGraph(data []byte) (*graphLayer, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadCommitGraph}, args...)...)
	}
	if len(data) < graphHeaderSize+graphChunkEntry+hashLen {
		return nil, bad("%d bytes", len(data))
	}
	if string(data[:4]) != "CGPH" {
		return nil, bad("no signature")
	}
	if data[4] != 1 {
		return nil, bad("version %d", data[4])
	}
	if data[5] != 1 {
		return nil, bad("hash version %d (only SHA-1 is read)", data[5])
	}
	nChunks, nBases := int(data[6]), int(data[7])
	end := len(data) - hashLen // the checksum trails
	table := graphHeaderSize
	if table+(nChunks+1)*graphChunkEntry > end {
		return nil, bad("chunk table past the end")
	}
	l := &graphLayer{data: data}
	prev := uint64(table + (nChunks+1)*graphChunkEntry)
	offsetAt := func(i int) uint64 { return binary.BigEndian.Uint64(data[table+i*graphChunkEntry+4:]) }
	var gda2 []byte
	for i := range nChunks {
		id := string(data[table+i*graphChunkEntry : table+i*graphChunkEntry+4])
		start, next := offsetAt(i), offsetAt(i+1)
		if start != prev || next < start || next > uint64(end) {
			return nil, bad("chunk %q at %d..%d out of order or past the end", id, start, next)
		}
		prev = next
		chunk := data[start:next:next]
		switch id {
		case "OIDF":
			l.fanout = chunk
		case "OIDL":
			l.oids = chunk
		case "CDAT":
			l.cdat = chunk
		case "EDGE":
			l.edges = chunk
		case "BIDX":
			l.bidx = chunk
		case "BDAT":
			l.bdat = chunk
		case "BASE":
			l.bases = chunk
		case "GDA2":
			gda2 = chunk
		}
	}
	if binary.BigEndian.Uint32(data[table+nChunks*graphChunkEntry:]) != 0 {
		return nil, bad("chunk table not terminated")
	}
	if len(l.fanout) != 256*4 {
		return nil, bad("OIDF of %d bytes", len(l.fanout))
	}
	var last uint32
	for i := range 256 {
		v := binary.BigEndian.Uint32(l.fanout[i*4:])
		if v < last {
			return nil, bad("OIDF not monotonic")
		}
		last = v
	}
	l.n = last
	if uint64(len(l.oids)) != uint64(l.n)*hashLen {
		return nil, bad("OIDL of %d bytes for %d commits", len(l.oids), l.n)
	}
	if uint64(len(l.cdat)) != uint64(l.n)*(hashLen+16) {
		return nil, bad("CDAT of %d bytes for %d commits", len(l.cdat), l.n)
	}
	if len(l.edges)%4 != 0 {
		return nil, bad("EDGE of %d bytes", len(l.edges))
	}
	if gda2 != nil && uint64(len(gda2)) != uint64(l.n)*4 {
		return nil, bad("GDA2 of %d bytes for %d commits", len(gda2), l.n)
	}
	if len(l.bases) != nBases*hashLen {
		return nil, bad("BASE of %d bytes for %d base layers", len(l.bases), nBases)
	}
	if (l.bidx == nil) != (l.bdat == nil) || uint64(len(l.bidx)) != uint64(l.n)*4 && l.bidx != nil || l.bdat != nil && len(l.bdat) < bloomHeaderSize {
		// Filters git cannot use either: ignore them, not the graph.
		l.bidx, l.bdat = nil, nil
	}
	if l.bdat != nil {
		l.bloom = bloomSettings{
			version:      binary.BigEndian.Uint32(l.bdat[0:]),
			hashes:       binary.BigEndian.Uint32(l.bdat[4:]),
			bitsPerEntry: binary.BigEndian.Uint32(l.bdat[8:]),
		}
		if (l.bloom.version != 1 && l.bloom.version != 2) || l.bloom.hashes == 0 || l.bloom.hashes > 32 {
			l.bidx, l.bdat = nil, nil
		}
	}
	return l, nil
}

// Close unmaps the files.
func (g *CommitGraph) Close() error {
	if g == nil {
		return nil
	}
	var first error
	for _, l := range g.layers {
		if l.unmap != nil {
			if err := l.unmap(); err != nil && first == nil {
				first = err
			}
		}
	}
	g.layers = nil
	return first
}

// Len is the number of commits the graph holds.
func (g *CommitGraph) Len() uint32 { return g.total }

// HasBloom reports whether any layer carries changed-path Bloom filters.
func (g *CommitGraph) HasBloom() bool {
	return slices.ContainsFunc(g.layers, func(l *graphLayer) bool { return l.bdat != nil })
}

// layer returns the layer of position pos and pos within it.
func (g *CommitGraph) layer(pos uint32) (*graphLayer, uint32, bool) {
	for i := len(g.layers) - 1; i >= 0; i-- {
		if l := g.layers[i]; pos >= l.base {
			if pos-l.base >= l.n {
				return nil, 0, false
			}
			return l, pos - l.base, true
		}
	}
	return nil, 0, false
}

// Lookup returns the position of commit h; false when the graph does not
// hold it.
func (g *CommitGraph) Lookup(h plumbing.Hash) (uint32, bool) {
	for _, l := range g.layers {
		lo := uint32(0)
		if h[0] > 0 {
			lo = binary.BigEndian.Uint32(l.fanout[(int(h[0])-1)*4:])
		}
		hi := binary.BigEndian.Uint32(l.fanout[int(h[0])*4:])
		if hi > l.n || lo > hi {
			continue // checked monotonic at open; defensive
		}
		for lo < hi {
			mid := lo + (hi-lo)/2
			switch c := bytes.Compare(l.oids[mid*hashLen:(mid+1)*hashLen], h[:]); {
			case c == 0:
				return l.base + mid, true
			case c < 0:
				lo = mid + 1
			default:
				hi = mid
			}
		}
	}
	return 0, false
}

// Hash returns the id of the commit at pos.
func (g *CommitGraph) Hash(pos uint32) (plumbing.Hash, error) {
	l, i, ok := g.layer(pos)
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("%w: position %d of %d", ErrBadCommitGraph, pos, g.total)
	}
	var h plumbing.Hash
	copy(h[:], l.oids[i*hashLen:])
	return h, nil
}

// Commit returns what the graph records of the commit at pos.
func (g *CommitGraph) Commit(pos uint32) (GraphCommit, error) {
	l, i, ok := g.layer(pos)
	if !ok {
		return GraphCommit{}, fmt.Errorf("%w: position %d of %d", ErrBadCommitGraph, pos, g.total)
	}
	rec := l.cdat[i*(hashLen+16) : (i+1)*(hashLen+16)]
	var c GraphCommit
	copy(c.Tree[:], rec)
	p1, p2 := binary.BigEndian.Uint32(rec[hashLen:]), binary.BigEndian.Uint32(rec[hashLen+4:])
	hiTime := binary.BigEndian.Uint32(rec[hashLen+8:]) & 3
	c.Time = int64(hiTime)<<32 | int64(binary.BigEndian.Uint32(rec[hashLen+12:]))
	if p1 == graphNoParent {
		return c, nil
	}
	parent := func(p uint32) error {
		if p >= g.total {
			return fmt.Errorf("%w: parent position %d of %d", ErrBadCommitGraph, p, g.total)
		}
		c.Parents = append(c.Parents, p)
		return nil
	}
	if err := parent(p1); err != nil {
		return GraphCommit{}, err
	}
	switch {
	case p2 == graphNoParent:
	case p2&graphOctopus == 0:
		if err := parent(p2); err != nil {
			return GraphCommit{}, err
		}
	default:
		for e := uint64(p2 &^ graphOctopus); ; e++ {
			if (e+1)*4 > uint64(len(l.edges)) {
				return GraphCommit{}, fmt.Errorf("%w: extra edge %d past EDGE", ErrBadCommitGraph, e)
			}
			v := binary.BigEndian.Uint32(l.edges[e*4:])
			if err := parent(v &^ graphOctopus); err != nil {
				return GraphCommit{}, err
			}
			if v&graphOctopus != 0 {
				break
			}
		}
	}
	return c, nil
}

// FirstParent returns the position of the first parent of the commit at
// pos (false: it has none) and its commit time, without reading the
// other parents: what a first-parent walk needs of each commit.
func (g *CommitGraph) FirstParent(pos uint32) (parent uint32, ok bool, commitTime int64, err error) {
	l, i, found := g.layer(pos)
	if !found {
		return 0, false, 0, fmt.Errorf("%w: position %d of %d", ErrBadCommitGraph, pos, g.total)
	}
	rec := l.cdat[i*(hashLen+16) : (i+1)*(hashLen+16)]
	commitTime = int64(binary.BigEndian.Uint32(rec[hashLen+8:])&3)<<32 | int64(binary.BigEndian.Uint32(rec[hashLen+12:]))
	p1 := binary.BigEndian.Uint32(rec[hashLen:])
	if p1 == graphNoParent {
		return 0, false, commitTime, nil
	}
	if p1 >= g.total {
		return 0, false, 0, fmt.Errorf("%w: parent position %d of %d", ErrBadCommitGraph, p1, g.total)
	}
	return p1, true, commitTime, nil
}

// Changed says whether the diff of the commit at pos against its first
// parent (against the empty tree for a root commit) may touch path, a
// slash-separated path from the repository root without a trailing slash:
// a file, or a directory (anything under it). As git log does, it asks
// the filter for the path and each of its leading directories: a filter
// holds every changed path and its leading directories, so that the
// answer is No when any of them is missing.
func (g *CommitGraph) Changed(pos uint32, path string) Bloom {
	return g.ChangedKey(pos, NewBloomKey(path))
}

// BloomKey is a path hashed for Changed, once for many commits.
type BloomKey struct {
	// prefixes are the path and its leading directories, longest first;
	// h the seeds' murmur3 of each, by hash version (1 and 2).
	prefixes []string
	h        [][2][2]uint32
	// ascii: version 1 filters can answer (see Changed).
	ascii bool
}

// NewBloomKey hashes path (see Changed).
func NewBloomKey(path string) *BloomKey {
	k := &BloomKey{ascii: !strings.ContainsFunc(path, func(r rune) bool { return r >= 0x80 })}
	for p := path; p != ""; {
		k.prefixes = append(k.prefixes, p)
		var h [2][2]uint32
		for v := range uint32(2) {
			h[v] = [2]uint32{murmur3(0x293ae76f, p, v+1), murmur3(0x7e646e2c, p, v+1)}
		}
		k.h = append(k.h, h)
		j := strings.LastIndexByte(p, '/')
		if j <= 0 {
			break
		}
		p = p[:j]
	}
	return k
}

// ChangedKey is Changed for a hashed path.
func (g *CommitGraph) ChangedKey(pos uint32, key *BloomKey) Bloom {
	l, i, ok := g.layer(pos)
	if !ok || l.bdat == nil || len(key.prefixes) == 0 {
		return BloomUnknown
	}
	start := uint32(0)
	if i > 0 {
		start = binary.BigEndian.Uint32(l.bidx[(i-1)*4:])
	}
	end := binary.BigEndian.Uint32(l.bidx[i*4:])
	data := l.bdat[bloomHeaderSize:]
	if end < start || uint64(end) > uint64(len(data)) || end == start {
		// No filter (git writes a one-byte filter even for an empty diff):
		// unknown, as git reads it.
		return BloomUnknown
	}
	if l.bloom.version == 1 && !key.ascii {
		// Version 1 hashed bytes above 0x7f as the writer's C char
		// (signed or not, by platform): no safe answer.
		return BloomUnknown
	}
	filter := data[start:end]
	for j := range key.prefixes {
		h := key.h[j][l.bloom.version-1]
		if !l.bloom.contains(filter, h[0], h[1]) {
			return BloomNo
		}
	}
	return BloomMaybe
}

// contains tests a key against one filter, as git's
// bloom_filter_contains: hashes h0 + i*h1, h0 and h1 the key's murmur3
// with two seeds, each taken modulo the filter's bits.
func (s bloomSettings) contains(filter []byte, h0, h1 uint32) bool {
	mod := uint64(len(filter)) * 8
	for i := range s.hashes {
		bit := uint64(h0+i*h1) % mod
		if filter[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// murmur3 is MurmurHash3 x86 32-bit, as git's murmur3_seeded_v2; for
// version 1, bytes are read as git's v1 read them on a platform where
// char is signed (the caller keeps non-ASCII keys away from version 1).
func murmur3(seed uint32, data string, version uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	byteAt := func(i int) uint32 {
		if version == 1 {
			return uint32(int32(int8(data[i])))
		}
		return uint32(data[i])
	}
	h := seed
	n := len(data) / 4
	for i := range n {
		k := byteAt(4*i) | byteAt(4*i+1)<<8 | byteAt(4*i+2)<<16 | byteAt(4*i+3)<<24
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)*5 + 0xe6546b64
	}
	var k uint32
	tail := 4 * n
	switch len(data) & 3 {
	case 3:
		k ^= byteAt(tail+2) << 16
		fallthrough
	case 2:
		k ^= byteAt(tail+1) << 8
		fallthrough
	case 1:
		k ^= byteAt(tail)
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
