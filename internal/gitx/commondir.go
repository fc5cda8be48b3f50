package gitx

import "github.com/go-git/go-git/v5"

// CommonDir is the directory holding the objects and the shared state of
// repo ("" when its storage is not on disk), whether it was opened by
// go-git or by Open: its git directory, or for a linked worktree the one
// its commondir file names.
func CommonDir(repo *git.Repository) string {
	if d := GitDir(repo); d != "" {
		return commonDir(d)
	}
	return ""
}
