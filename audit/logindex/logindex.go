package logindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/atomicfile"
)

// Magic starts every index file.
const Magic = "CABLOGIX"

// The index lives in the repository's git directory, at cab/log-v1.idx.
const (
	dir  = "cab"
	file = "log-v1.idx"
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt cab log index")

// crc32c is the checksum of a file.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// Path is where the index of the repository whose git directory is gitDir
// lives.
func Path(gitDir string) string { return filepath.Join(gitDir, dir, file) }

// Write replaces the index of gitDir with data atomically: a temporary
// file renamed over the old one, so that a reader sees the old or the new
// index, whole.
func Write(gitDir string, data []byte) error {
	d := filepath.Join(gitDir, dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(Path(gitDir), data, 0o644)
}

// Encoder writes the body of an index: varints, 20-byte hashes, and
// strings as references into one table of distinct strings, written
// before the body so that decoding allocates it once. The zero Encoder
// is ready to use.
type Encoder struct {
	body    []byte
	strs    []byte
	offsets map[string]int
}

// Uvarint writes v.
func (e *Encoder) Uvarint(v uint64) { e.body = binary.AppendUvarint(e.body, v) }

// Varint writes v.
func (e *Encoder) Varint(v int64) { e.body = binary.AppendVarint(e.body, v) }

// Hash writes the 20 bytes of h.
func (e *Encoder) Hash(h plumbing.Hash) { e.body = append(e.body, h[:]...) }

// Bool writes b as one byte, 0 or 1.
func (e *Encoder) Bool(b bool) {
	if b {
		e.body = append(e.body, 1)
	} else {
		e.body = append(e.body, 0)
	}
}

// Time writes t to the nanosecond (its zone is not kept); the zero time
// is written as such.
func (e *Encoder) Time(t time.Time) {
	if t.IsZero() {
		e.Bool(false)
		return
	}
	e.Bool(true)
	e.Varint(t.Unix())
	e.Uvarint(uint64(t.Nanosecond()))
}

// Str writes s as a reference into the string table.
func (e *Encoder) Str(s string) {
	if e.offsets == nil {
		e.offsets = map[string]int{}
	}
	off, ok := e.offsets[s]
	if !ok {
		off = len(e.strs)
		e.strs = append(e.strs, s...)
		e.offsets[s] = off
	}
	e.Uvarint(uint64(off))
	e.Uvarint(uint64(len(s)))
}

// Len is how many bytes of body were written so far: the offset, in the
// body, of the next value written (Decoder.At reads from there).
func (e *Encoder) Len() int { return len(e.body) }

// Uint32 writes v in 4 bytes, little endian: a fixed width, so that a
// value known only later can be written in its place (SetUint32).
func (e *Encoder) Uint32(v uint32) { e.body = binary.LittleEndian.AppendUint32(e.body, v) }

// SetUint32 overwrites the 4 bytes that Uint32 wrote at body offset off.
func (e *Encoder) SetUint32(off int, v uint32) { binary.LittleEndian.PutUint32(e.body[off:off+4], v) }

// Strs writes the length of ss and each string.
func (e *Encoder) Strs(ss []string) {
	e.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.Str(s)
	}
}

// File returns the whole file: the header naming version, the string
// table, the body written so far and the checksum.
func (e *Encoder) File(version uint64) []byte {
	out := make([]byte, 0, len(Magic)+16+len(e.strs)+len(e.body)+4)
	out = append(out, Magic...)
	out = binary.AppendUvarint(out, version)
	out = binary.AppendUvarint(out, uint64(len(e.strs)))
	out = append(out, e.strs...)
	out = append(out, e.body...)
	return binary.LittleEndian.AppendUint32(out, crc32c(out))
}

// Open checks the magic and the checksum of an index file and returns a
// Decoder positioned at its body; see OpenBody.
func Open(data []byte, version uint64) (*Decoder, error) {
	if len(data) < len(Magic)+4 || !bytes.HasPrefix(data, []byte(Magic)) {
		return nil, fmt.Errorf("%w: not a cab log index", ErrCorrupt)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32c(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return OpenBody(body[len(Magic):], version)
}

// OpenBody decodes what follows the magic, up to the checksum: the
// version, which must be version, and the string table; the Decoder
// returned reads the body.
func OpenBody(body []byte, version uint64) (*Decoder, error) {
	d := &Decoder{b: body}
	if v := d.Uvarint(); v != version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, v, version)
	}
	n := d.Uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: bad string table", ErrCorrupt)
	}
	d.strs, d.b = string(d.b[:n]), d.b[n:]
	d.body = d.b
	return d, nil
}

// Decoder reads what an Encoder wrote, failing (sticky) on the first
// malformed value: after a failure every read returns the zero value.
type Decoder struct {
	b    []byte
	strs string
	err  error
	// body is the whole body (b is what is left of it to read).
	body []byte
}

// Offset is the body offset of the next read (what Encoder.Len was
// before the matching write).
func (d *Decoder) Offset() int { return len(d.body) - len(d.b) }

// At returns a Decoder of the same body and string table reading from
// body offset off to the end of the body; one that has failed when off
// lies outside the body (or d has failed). It is returned by value: a
// lookup makes many, which need not reach the heap.
func (d *Decoder) At(off uint64) Decoder {
	n := Decoder{strs: d.strs, body: d.body, err: d.err}
	if off > uint64(len(d.body)) {
		n.Fail("offset out of range")
		return n
	}
	n.b = d.body[off:]
	return n
}

// Upto limits d to the body's first end bytes: reads past them fail, and
// Done then requires that reading stopped exactly there. It fails when d
// has read past end or end lies outside the body.
func (d *Decoder) Upto(end uint64) {
	if end > uint64(len(d.body)) || uint64(d.Offset()) > end {
		d.Fail("section end out of range")
		return
	}
	d.b = d.b[:end-uint64(d.Offset())]
}

// Fail records that the body does not decode, saying what was wrong,
// unless a failure was recorded before.
func (d *Decoder) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

// Err is the first failure, wrapping ErrCorrupt; nil when none.
func (d *Decoder) Err() error { return d.err }

// Done is Err, or an error when bytes are left after the body.
func (d *Decoder) Done() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return nil
}

// Uvarint reads what Encoder.Uvarint wrote.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads what Encoder.Varint wrote.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Count reads a length written with Uvarint, refusing one larger than
// the bytes left could hold when each element takes at least min bytes.
func (d *Decoder) Count(min int) int {
	n := d.Uvarint()
	if n > uint64(len(d.b)/min) {
		d.Fail("count out of range")
		return 0
	}
	return int(n)
}

// Uint32 reads what Encoder.Uint32 wrote.
func (d *Decoder) Uint32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 4 {
		d.Fail("truncated uint32")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// Hash reads what Encoder.Hash wrote.
func (d *Decoder) Hash() plumbing.Hash {
	var h plumbing.Hash
	if d.err != nil {
		return h
	}
	if len(d.b) < len(h) {
		d.Fail("truncated hash")
		return h
	}
	copy(h[:], d.b)
	d.b = d.b[len(h):]
	return h
}

// Bool reads what Encoder.Bool wrote.
func (d *Decoder) Bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 || d.b[0] > 1 {
		d.Fail("bad flag")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

// Time reads what Encoder.Time wrote, in UTC.
func (d *Decoder) Time() time.Time {
	if !d.Bool() {
		return time.Time{}
	}
	sec := d.Varint()
	nsec := d.Uvarint()
	if nsec >= 1e9 {
		d.Fail("bad time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// Str reads what Encoder.Str wrote; the string shares the memory of the
// string table.
func (d *Decoder) Str() string {
	off, n := d.Uvarint(), d.Uvarint()
	if d.err != nil {
		return ""
	}
	if off > uint64(len(d.strs)) || n > uint64(len(d.strs))-off {
		d.Fail("string out of range")
		return ""
	}
	return d.strs[off : off+n]
}

// Strs reads what Encoder.Strs wrote; nil for an empty list.
func (d *Decoder) Strs() []string {
	n := d.Count(2)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.Str()
	}
	return out
}
