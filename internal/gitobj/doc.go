// Package gitobj reads git objects straight from a repository's object
// store, and parses the raw commits, trees and tags it returns. It exists
// for speed: go-git decodes, hashes and caches every object it reads,
// which makes a walk over thousands of commits and trees several times
// slower than C git. A Reader maps the pack files and their version 2
// indexes, inflates only what is asked for (with klauspost/compress's
// zlib, already in the module graph through go-containerregistry: about
// 10% less CPU than compress/zlib over a cold cab log, where inflating
// small objects is half the work), resolves offset and reference
// deltas and keeps recently resolved objects in a cache bounded in bytes;
// loose objects are read from objects/xx/…, and what it may not see
// (objects of alternates, packs with a v1 index, packs that appeared
// after a clone was made) it asks a go-git storer for; a miss of a reader
// that sees every pack is answered without it. CommitGraph reads
// git's commit-graph (objects/info/commit-graph, or a chain of layers):
// each commit's root tree, parents and time by position, and its
// changed-path Bloom filter, so that a first-parent walk asking about one
// path reads no commit the filters rule out.
//
// Invariants:
//
//   - Read only: nothing here writes to the repository.
//   - Bounded: an object larger than 64 MiB, a delta chain deeper than
//     10,000, a loose object header longer than 32 bytes, a varint longer
//     than 10 bytes are refused with an error; the delta cache holds at
//     most 48 MiB.
//   - Offsets and sizes read from the files are never trusted: an object
//     offset outside its pack, a delta base that does not precede its
//     delta, a delta copy or insert outside its base or result, a result
//     of another size than the delta promised, a fanout table that is not
//     monotonic or an index shorter than its object count all give an
//     error, never a panic or a read out of bounds. Parsers of commits,
//     trees and tags take arbitrary bytes (they are fuzzed).
//   - Objects are returned by their id as the object store files them; ids
//     are not recomputed (git verified them when it stored the objects).
//     Content a Reader returns may be shared with its cache: callers must
//     not modify it.
//   - A Reader is not safe for concurrent use; its clones share the packs
//     and the cache and may be used each by its own goroutine. Calls to
//     the fallback storer are serialized (WithFallback takes the same
//     lock for code that reads that storer directly).
//   - A commit-graph is checked before use: header, chunk table (in
//     order, inside the file), chunk sizes against the commit count, a
//     monotonic fanout, every parent position and Bloom filter offset
//     (ErrBadCommitGraph otherwise; a filter it cannot use answers
//     BloomUnknown, never BloomNo). It is parsed by a fuzzed parser and
//     trusted as git log trusts it (see audit/log_direct.go).
//   - A missing object is an error wrapping ErrNotFound; a tree entry
//     that does not decode is ErrBadTree.
package gitobj
