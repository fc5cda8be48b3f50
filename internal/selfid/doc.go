// Package selfid names the running cab binary by the sha256 of its
// executable file: what the local caches under .git/cab/ are keyed by, so
// that nothing one build of cab computed (other code, another embedded
// schema or default policy) is read by another.
//
// Invariant: the digest is of the file's bytes, read once per process.
package selfid
