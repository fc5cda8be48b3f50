// Package atomicfile replaces a file whole: it is written under a
// temporary name in the directory it goes to, then renamed over the
// file's path. It is the one owner of that chore in cab: the caches and
// indexes under .git/cab/, the reconciler's checkpoint, notification
// state, the HTML report and the packs gitx writes all go through it.
//
// Invariants:
//
//   - A reader of the path sees the old content or the new, whole, never
//     part of either: the new content only appears by a rename within one
//     directory.
//   - On any failure nothing is left under a temporary name and the old
//     file is untouched.
//   - Temporary names are unique per writer (os.CreateTemp), so
//     concurrent writers of one path never interleave: each renames its
//     own whole file, and the last rename wins.
//   - Temporary names start with TempPrefix (or the prefix a caller of
//     Create gives), a hidden name that a reader listing the directory can
//     tell from its entries.
//   - The package never creates directories: callers keep their own
//     os.MkdirAll, because the modes of those directories differ on
//     purpose (0o700 for private state, 0o755 for caches).
//   - Nothing is fsynced unless the caller asks (Pending.Sync): a cache
//     rewritten per ticket would pay for durability it does not need.
package atomicfile
