// Package oci is the reconciler's driver for oci actions: it points a tag
// of an environment registry at an image digest.
//
// The destination of an action is <target registry>/<repository>:<tag>,
// the repository defaulting to the source image's repository path. The
// source must be named by digest (registry/repository@sha256:<hex>);
// anything else, a malformed name or a tag that spells a digest, is refused
// as [target.ErrUnsafe] before any request is made.
//
// Invariants:
//   - Observe only reads; a tag or repository the registry says does not
//     exist is [target.Absent], and every other failure (a 5xx after the
//     retries, a timeout, a failed authentication) is an error, never
//     "absent".
//   - Apply writes nothing when the tag already points at the digest.
//     Otherwise it copies the image (an index with every child manifest)
//     into the destination repository when it is not there yet, points the
//     tag at it, and reads the tag back: what it returns was read, not
//     assumed, and a tag that reads otherwise is [target.ErrMismatch].
//   - Restore points the tag back at the digest Observe recorded, or deletes
//     it when it did not exist. A registry that refuses to delete tags (CNCF
//     distribution without storage.delete, e.g. Debian's docker-registry;
//     registries with immutable tags) gets the tag pointed at a [Tombstone]
//     instead: an image with no layers and no command, labelled with the
//     ticket and the tag, that nothing can run. The rollback then succeeds
//     (rolled-back, not rollback-failed), the tag reads the tombstone's
//     digest from then on, and a warning is logged. Only a failure to write
//     the tombstone too is left to a human.
//   - Every registry request is retried a bounded number of times on 5xx,
//     408 and 429 answers and temporary network errors, and every call is
//     bounded by the caller's context and the driver's timeout.
package oci
