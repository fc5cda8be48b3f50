// Package gitx is the one owner of cab's low-level git chores on go-git:
// reading a blob or a file of a tree within a size limit, storing a blob,
// diffing two trees, walking a branch by first parent, and moving a ref by
// compare-and-swap (with FetchRef and RemoteHead, the reads of a remote
// it is made of, and Refetch, which mends a store that holds a commit but
// not all it reaches), and opening a repository whose objects are read
// fast (Open: go-git's storage with object reads answered by
// internal/gitobj). Every other package does these through it, so that each
// has one set of rules. Every exchange with a remote is bounded by
// gitpush.Call's deadline as well as by ctx.
//
// Invariants:
//
//   - A read returns at most its limit: a blob whose object header says
//     it is larger is refused before its content is inflated (go-git
//     would otherwise inflate a loose object whole), and the read itself
//     stops one byte past the limit (*TooLargeError, matching
//     ErrTooLarge). A blob of exactly the limit is read.
//   - ReadFile returns regular files only (modes 100644, 100755 and the
//     deprecated 100664). A symlink or a submodule anywhere on the path,
//     or a directory where a file is expected, is refused by its tree
//     entry's mode (*NotRegularError, matching ErrNotRegular): a link is
//     never followed, a submodule never entered.
//   - DiffTrees descends only into subtrees whose hashes differ, so its
//     work grows with the change, not with the repository. It never
//     returns a path built from an entry name that could leave its
//     directory ("", ".", "..", a name holding '/' or NUL, ".git" in any
//     case): such entries are named in an *UnsafeNameError (matching
//     ErrUnsafeName) returned beside the other changes.
//   - FirstParents follows the first parent only (what a merge brought in
//     is its diff to its first parent), checks ctx before every commit and
//     stops at the first error, which it yields.
//   - CompareAndSwap never forces. It tells a lost race from any other
//     failure by reading the ref back (from the remote, or the local
//     store), never by matching an error's text: the ref at New means the
//     update landed, a ref neither at Old nor at New means another writer
//     won (rebuild with Rebase and retry, a bounded number of times, else
//     *LostRaceError matching ErrLostRace), the ref still at Old means the
//     update failed for a reason of its own (*UpdateError).
//   - A repository of Open reads every object go-git's storage would, with
//     the same content, type and size, and the same errors for a missing
//     object or one of another type (plumbing.ErrObjectNotFound); sizes
//     come from headers, before anything is inflated; what gitobj will not
//     return (over gitobj.MaxObject) go-git reads, as before. Objects are
//     not re-hashed on either path. Objects it returns are read only.
//   - FetchRef asks for nothing whose commit the store holds (go-git's
//     rule); Refetch fetches a ref whole, as if the store held nothing of
//     it, and writes only the objects the store lacks.
package gitx
