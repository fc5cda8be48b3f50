package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/atomicfile"
	"github.com/cabhq/cab/internal/gitx"
)

// A tree index is a cache the gate keeps under .git/cab/ about one
// changes/ tree (the targets of merged tickets, the ticket ids): one
// header line "<kind> v1 <tree hash> <number of lines>" and that many
// newline-terminated lines. It is only ever a cache: a file that is
// missing, cut short, padded or of another kind reads as none, and the
// gate derives it again from git. Writes are atomic (a temporary file
// renamed over it).
type treeIndexFile struct {
	name   string // file name under .git/cab/, e.g. "targets-v1.idx"
	header string // header up to the tree hash, e.g. "cab-targets v1 "
}

// path is where the index of repo lives; "" when repo is not on disk.
func (f treeIndexFile) path(repo *git.Repository) string {
	dir := gitx.GitDir(repo)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "cab", f.name)
}

// read returns the tree the stored index describes and its lines (each
// with its newline); ok is false when there is no usable index.
func (f treeIndexFile) read(repo *git.Repository) (tree plumbing.Hash, body []byte, ok bool) {
	p := f.path(repo)
	if p == "" {
		return plumbing.ZeroHash, nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return plumbing.ZeroHash, nil, false
	}
	head, rest, ok := bytes.Cut(b, []byte("\n"))
	fields, ok2 := strings.CutPrefix(string(head), f.header)
	hash, count, ok3 := strings.Cut(fields, " ")
	if !ok || !ok2 || !ok3 || !plumbing.IsHash(hash) && hash != "" || len(rest) > 0 && rest[len(rest)-1] != '\n' {
		return plumbing.ZeroHash, nil, false
	}
	if strconv.Itoa(bytes.Count(rest, []byte("\n"))) != count {
		return plumbing.ZeroHash, nil, false // cut short or padded: derive it again
	}
	return plumbing.NewHash(hash), rest, true
}

// write stores body (newline-terminated lines) as the index of tree;
// failing to is not an error (the next check derives it again).
func (f treeIndexFile) write(repo *git.Repository, tree plumbing.Hash, body []byte) {
	p := f.path(repo)
	if p == "" || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	tmp, err := atomicfile.Create(filepath.Dir(p), "")
	if err != nil {
		return
	}
	defer tmp.Cleanup()
	hash := ""
	if !tree.IsZero() {
		hash = tree.String()
	}
	_, err = fmt.Fprintf(tmp, "%s%s %d\n", f.header, hash, bytes.Count(body, []byte("\n")))
	if err == nil {
		_, err = tmp.Write(body)
	}
	if err == nil {
		_ = tmp.Commit(p, 0o600)
	}
}
