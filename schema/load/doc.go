// Package load is the one loader of a change repository's rules: cab.cue
// and policy/*.cue, at a git revision (a tree) or in a directory.
//
// Invariants:
//   - Nothing is trusted before it is read: a symlink, a submodule or any
//     other non-regular file is refused, and so is a file over its limit
//     (schema.MaxConfigBytes, policy.MaxPolicyBytes), by its tree entry or
//     its lstat, before a byte of it is read. A refusal is a diagnostic.
//     At a revision the reading is gitx's (TreeFile, BlobFile: a link or a
//     submodule anywhere on the path is refused too, the size comes from
//     the blob's header); validate reads tickets through the same two.
//   - Diagnostics are never dropped: a cab.cue that is refused or does not
//     validate comes back as a *ConfigError carrying every diagnostic with
//     its file:line:col. A caller that goes on without it (a report, the
//     web UI) says so by matching the error, not by ignoring it.
//   - A Loader compiles the schema once and each distinct cab.cue once: a
//     parse is cached by file name and git blob hash, in the Loader (no
//     package state), so walking many revisions whose cab.cue is unchanged
//     compiles it once.
//   - A Loader owns one cue.Context and is not safe for concurrent use.
package load
