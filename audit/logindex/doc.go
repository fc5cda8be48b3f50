// Package logindex is the file format of cab log's derived index: a
// versioned header, a table of distinct strings, a body of varints,
// 20-byte hashes, flags, times and references into the string table, and
// a checksum; and the file's place in the repository and its atomic
// replacement. What the body records, field by field, is the caller's
// (package audit's), which names the layout by the version it passes.
//
// The body is read in order, or at an offset: Encoder.Len names where a
// value starts, Decoder.At reads from there, and Uint32 writes a value of
// fixed width that SetUint32 can fill in once known (an offset written
// before what it points at), so that a caller may keep a table of where
// its records are and decode only those it needs.
//
// A file is
//
//	"CABLOGIX"                      Magic
//	uvarint version                 the caller's record layout
//	uvarint n, n bytes              the string table
//	body                            what an Encoder wrote
//	uint32 little endian            CRC-32C (Castagnoli) of all that precedes
//
// Invariants:
//
//   - The index is a cache, never a source of truth: a file that is
//     missing, truncated, of another version or checksum, or that does
//     not decode is reported as ErrCorrupt (or the file system's error),
//     and its reader rebuilds it from git.
//   - Decoding never trusts a length: every count is bounded by the bytes
//     left (so a forged count cannot make it allocate more than the file
//     could hold), every string reference must lie inside the string
//     table, every flag is 0 or 1, every time's nanoseconds below 1e9,
//     and bytes left over after the body are an error. An offset (At,
//     Upto) must lie inside the body; a Decoder at an offset shares the
//     string table and these checks. A Decoder's first
//     failure sticks: later reads return zero values and Err reports it.
//   - Encoding is deterministic: the same sequence of writes gives the
//     same bytes, each distinct string stored once.
//   - Write replaces the file atomically (a temporary file renamed over
//     it), so a concurrent reader sees the old or the new index, whole.
package logindex
