// Package gittarget is the git target driver of the reconciler: it sets a
// value in a file of an environment repository — the repository Argo CD
// or Flux deploys from — and pushes the commit. (The directory is
// reconcile/target/git; the package is named gittarget so that it does
// not shadow go-git.)
//
// A git action names a file (relative to the target's root) and either
// set: a path expression such as .spec.template.spec.containers[0].image
// and a scalar (string, number or bool), or kustomizeImage: the images:
// entry of a kustomization named name, whose digest (and newName, when
// given) it sets; the entry, and images: itself, are added when missing.
// The digest pins the image; newTag, when the action gives one, is set
// beside it (kustomize renders name:newTag@digest, so the tag says which
// release it is), and without one an entry's old newTag is removed, so
// that the rendered image never carries a stale tag. Files
// ending in .json are edited as JSON, every other file as YAML; in a
// multi-document YAML file the path names a value in the first document
// (there is no document selector).
//
// Invariants:
//
//   - Edits keep the rest of the file byte for byte (the editors are
//     internal/docedit's, which knows nothing of git). A changed scalar is
//     rewritten in place (keeping its quotes), a new key or list item is
//     inserted after its siblings with their indentation, and the result
//     is parsed again and compared with the intended document. Only when
//     the file's layout does not allow that (a new key in a YAML flow
//     mapping, a null to turn into a mapping) is a YAML file re-encoded
//     from the yaml.v3 node tree, which keeps comments and key order but
//     not blank lines or every indentation.
//   - Files are only edited, never created: a missing file is an error
//     (ErrNoFile). Missing keys on the path are created as mappings;
//     list items are never invented.
//   - Paths are checked, not cleaned: an absolute path, a ".." or ".git"
//     element, and a path through a symbolic link or a submodule (by the
//     modes of the git tree entries, not the file system) are refused
//     with target.ErrUnsafe, as is a file above the size limit (10 MiB by
//     default). YAML anchors and aliases on the path are refused: editing
//     a shared value would change other places too.
//   - Pushing is a compare-and-swap (gitx.CompareAndSwap): the commit is
//     built on the head just fetched and pushed as a plain fast-forward
//     required to find the branch at that head. A failed push is judged
//     by reading the branch back, never by git's wording: when another
//     writer moved the branch, the driver edits again on the head that
//     writer pushed (bounded, with jittered backoff; ErrContention when
//     it gives up), so no update is lost. A push the remote refuses while
//     the branch stays put (a protected branch, a hook) is a
//     *RejectedError naming the repository, branch and git's message.
//   - Apply of a change already made commits nothing; what Apply returns
//     is read back from the pushed commit (target.ErrMismatch if it does
//     not hold the value).
//   - Commits carry the trailers Cab-Ticket, Cab-Env, Cab-Seq and
//     Cab-Commit (Cab-Rollback instead of Cab-Ticket for a restore).
//   - Restore writes back the content recorded by Observe when the file is
//     still what the change made of it, and otherwise puts back only the
//     change's own value, so that edits others made in between survive.
//
// The driver keeps one bare clone per repository URL in the cache
// directory given to New and fetches before every Observe, Apply and
// Restore. Repositories on the local file system (file:// URLs and plain
// paths) are read and written in process through a transport this package
// registers with go-git under its own scheme; their ref updates are
// compare-and-swaps too, but their hooks do not run.
package gittarget
