package logindex

import (
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	h1 = plumbing.NewHash(strings.Repeat("1", 40))
	at = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
)

// sample writes one value of every kind, strings repeated.
func sample() *Encoder {
	var e Encoder
	e.Uvarint(300)
	e.Varint(-5)
	e.Hash(h1)
	e.Bool(true)
	e.Bool(false)
	e.Time(at)
	e.Time(time.Time{})
	e.Str("payments")
	e.Strs([]string{"staging", "prod", "payments"})
	e.Strs(nil)
	e.Str("")
	return &e
}

// readSample reads what sample wrote and checks it.
func readSample(t *testing.T, d *Decoder) {
	t.Helper()
	assert.Equal(t, uint64(300), d.Uvarint())
	assert.Equal(t, int64(-5), d.Varint())
	assert.Equal(t, h1, d.Hash())
	assert.True(t, d.Bool())
	assert.False(t, d.Bool())
	assert.Equal(t, at, d.Time())
	assert.True(t, d.Time().IsZero())
	assert.Equal(t, "payments", d.Str())
	assert.Equal(t, []string{"staging", "prod", "payments"}, d.Strs())
	assert.Nil(t, d.Strs())
	assert.Equal(t, "", d.Str())
	require.NoError(t, d.Done())
}

// The file format is fixed: the bytes of a sample are those recorded.
func TestGolden(t *testing.T) {
	got := sample().File(5)
	p := filepath.Join("testdata", "sample-v5.idx")
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test -update to create %s", p)
	require.Equal(t, want, got, "the file format changed (go test -update rewrites %s)", p)
	assert.Equal(t, Magic, string(got[:len(Magic)]), "the magic starts the file")
	assert.Equal(t, byte(5), got[len(Magic)], "the version follows it")
	assert.Equal(t, 1, strings.Count(string(got), "payments"), "each distinct string stored once")

	d, err := Open(want, 5)
	require.NoError(t, err)
	readSample(t, d)
}

func TestOpenRefuses(t *testing.T) {
	good := sample().File(5)
	// resum rewrites the checksum of a damaged file, so that what is
	// refused is the damage, not the checksum.
	resum := func(b []byte) []byte {
		return binary.LittleEndian.AppendUint32(b[:len(b)-4:len(b)-4], crc32c(b[:len(b)-4]))
	}
	for _, tc := range []struct {
		name string
		data func() []byte
		want string
	}{
		{"empty", func() []byte { return nil }, "not a cab log index"},
		{"another magic", func() []byte { b := clone(good); b[0] = 'X'; return resum(b) }, "not a cab log index"},
		{"a flipped bit", func() []byte { b := clone(good); b[len(b)/2] ^= 1; return b }, "checksum mismatch"},
		{"truncated", func() []byte { return good[:len(good)-7] }, "checksum mismatch"},
		{"another version", func() []byte { b := clone(good); b[len(Magic)] = 6; return resum(b) }, "version 6, want 5"},
		{"string table too long", func() []byte {
			return fileWith(5, func(b []byte) []byte { return binary.AppendUvarint(b, 1<<20) })
		}, "bad string table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.data(), 5)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrCorrupt), "got %v, want ErrCorrupt", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// fileWith is a file whose header after the version is what head appends
// (for headers an Encoder never writes).
func fileWith(version uint64, head func([]byte) []byte) []byte {
	out := binary.AppendUvarint([]byte(Magic), version)
	out = head(out)
	return binary.LittleEndian.AppendUint32(out, crc32c(out))
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Decoding never trusts a value read: each malformed one fails, the
// failure sticks, and later reads return zero values.
func TestDecoderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(e *Encoder)
		read  func(d *Decoder)
		want  string
	}{
		{"count beyond the bytes left", func(e *Encoder) { e.Uvarint(1000); e.Bool(true) }, func(d *Decoder) { d.Count(1) }, "count out of range"},
		{"string outside the table", func(e *Encoder) { e.Str("ab"); e.Uvarint(1); e.Uvarint(5) }, func(d *Decoder) { d.Str(); d.Str() }, "string out of range"},
		{"flag neither 0 nor 1", func(e *Encoder) { e.Uvarint(2) }, func(d *Decoder) { d.Bool() }, "bad flag"},
		{"nanoseconds of a second or more", func(e *Encoder) { e.Bool(true); e.Varint(0); e.Uvarint(1e9) }, func(d *Decoder) { d.Time() }, "bad time"},
		{"truncated hash", func(e *Encoder) { e.Uvarint(7) }, func(d *Decoder) { d.Hash() }, "truncated hash"},
		{"truncated varint", func(e *Encoder) {}, func(d *Decoder) { d.Uvarint() }, "bad varint"},
		{"trailing bytes", func(e *Encoder) { e.Bool(true); e.Bool(true) }, func(d *Decoder) { d.Bool() }, "1 trailing bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			tc.write(&e)
			d, err := Open(e.File(1), 1)
			require.NoError(t, err)
			tc.read(d)
			err = d.Done()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrCorrupt), "got %v, want ErrCorrupt", err)
			assert.Contains(t, err.Error(), tc.want)
			if d.Err() != nil {
				assert.Zero(t, d.Uvarint(), "reads after a failure give zero values")
				assert.Equal(t, "", d.Str())
				assert.Equal(t, plumbing.ZeroHash, d.Hash())
				assert.Equal(t, err, d.Done(), "the first failure sticks")
			}
		})
	}
}

func TestWrite(t *testing.T) {
	gitDir := t.TempDir()
	require.NoError(t, Write(gitDir, []byte("first")))
	require.NoError(t, Write(gitDir, []byte("second")))
	got, err := os.ReadFile(Path(gitDir))
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
	assert.Equal(t, filepath.Join(gitDir, "cab", "log-v1.idx"), Path(gitDir))
	st, err := os.Stat(Path(gitDir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	left, err := os.ReadDir(filepath.Join(gitDir, "cab"))
	require.NoError(t, err)
	assert.Len(t, left, 1, "no temporary file is left behind")
}

// FuzzDecoder reads arbitrary bodies with an arbitrary sequence of reads
// and jumps:
// nothing panics, no count exceeds the bytes of the file, and every
// string read lies in the string table.
func FuzzDecoder(f *testing.F) {
	good := sample().File(5)
	f.Add(good[len(Magic):len(good)-4], []byte{0, 1, 2, 3, 3, 4, 4, 5, 6, 5, 6, 5})
	f.Add([]byte{5, 0, 0}, []byte{0})
	f.Fuzz(func(t *testing.T, body, ops []byte) {
		d, err := OpenBody(body, 5)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		for _, op := range ops {
			switch op % 11 {
			case 0:
				d.Uvarint()
			case 1:
				d.Varint()
			case 2:
				d.Hash()
			case 3:
				d.Bool()
			case 4:
				if tm := d.Time(); !tm.IsZero() {
					require.Less(t, tm.Nanosecond(), int(1e9))
				}
			case 5:
				s := d.Str()
				require.LessOrEqual(t, len(s), len(body))
				require.Contains(t, d.strs, s)
			case 6:
				ss := d.Strs()
				require.LessOrEqual(t, len(ss), len(body))
			case 7:
				require.LessOrEqual(t, d.Count(1), len(body))
			case 8:
				d.Uint32()
			case 9:
				// Jump to an offset the body names.
				n := d.At(uint64(d.Uint32()))
				d = &n
				require.LessOrEqual(t, d.Offset(), len(body))
			case 10:
				d.Upto(uint64(d.Offset() + int(op>>4)))
			}
		}
		if err := d.Done(); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
		}
	})
}

// Offsets: a value read at the offset Len gave before writing it, a
// fixed-width value filled in later, and a section's end enforced.
func TestOffsets(t *testing.T) {
	var e Encoder
	e.Uint32(0)
	e.Str("first")
	at := e.Len()
	e.Uvarint(300)
	e.Str("second")
	e.SetUint32(0, uint32(at))
	e.Hash(h1)
	d, err := Open(e.File(5), 5)
	require.NoError(t, err)
	off := d.Uint32()
	require.Equal(t, uint32(at), off)
	j := d.At(uint64(off))
	assert.Equal(t, at, j.Offset())
	assert.Equal(t, uint64(300), j.Uvarint())
	assert.Equal(t, "second", j.Str())
	assert.Equal(t, "first", d.Str())
	d.Upto(uint64(at))
	require.NoError(t, d.Done(), "the section ends where the next value starts")

	bad := d.At(1 << 40)
	assert.ErrorIs(t, bad.Err(), ErrCorrupt)
	assert.Zero(t, bad.Uvarint())
	d2, err := Open(e.File(5), 5)
	require.NoError(t, err)
	d2.Uint32()
	d2.Upto(2)
	assert.ErrorIs(t, d2.Err(), ErrCorrupt, "an end before what was read")
	d3, err := Open(e.File(5), 5)
	require.NoError(t, err)
	d3.Upto(4)
	d3.Uint32()
	d3.Uvarint()
	assert.ErrorIs(t, d3.Err(), ErrCorrupt, "reads past the end fail")
}
