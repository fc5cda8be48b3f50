package gitx

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// FuzzFileEntry reads paths from trees a hostile writer made (names in
// any order, duplicated, with any bytes but NUL, any mode): FileEntry
// never panics, finds what a scan of the entries finds, returns only
// regular files and fails only with its typed errors.
func FuzzFileEntry(f *testing.F) {
	f.Add("b\na\nc", []byte{0, 1, 2}, "a")
	f.Add("d\nd.cue\nd-x", []byte{3, 0, 0}, "d/d.cue")
	f.Add("..\n.git\nx", []byte{3, 2, 4}, "x/../x")
	f.Add("z\ny\nx\nw", []byte{0, 0, 0, 0}, "w")
	f.Fuzz(func(t *testing.T, names string, modes []byte, path string) {
		s := memory.NewStorage()
		blob, err := StoreBlob(s, []byte("content"))
		if err != nil {
			t.Fatal(err)
		}
		modeOf := []filemode.FileMode{filemode.Regular, filemode.Executable, filemode.Symlink, filemode.Dir, filemode.Submodule}
		var entries []object.TreeEntry
		for i, n := range strings.Split(names, "\n") {
			if n == "" || strings.IndexByte(n, 0) >= 0 || i >= 64 {
				continue
			}
			m := filemode.Regular
			if i < len(modes) {
				m = modeOf[int(modes[i])%len(modeOf)]
			}
			e := object.TreeEntry{Name: n, Mode: m, Hash: blob}
			if m == filemode.Dir {
				// Every directory holds the whole tree again, one level.
				e.Hash = storeRawTree(t, s, entries)
			}
			entries = append(entries, e)
		}
		tree, err := object.GetTree(s, storeRawTree(t, s, entries))
		if err != nil {
			t.Skip("not a tree go-git decodes")
		}
		for i := range tree.Entries {
			want := tree.Entries[i].Name
			if got := lookup(tree, want); got == nil || got.Name != want {
				t.Fatalf("lookup(%q) = %v, want an entry of that name", want, got)
			}
		}
		e, err := FileEntry(tree, path)
		if err != nil {
			var nr *NotRegularError
			var nf *NotFoundError
			if !errors.Is(err, ErrInvalidPath) && !errors.As(err, &nr) && !errors.As(err, &nf) && !errors.Is(err, plumbing.ErrObjectNotFound) && !errors.Is(err, object.ErrDirectoryNotFound) {
				t.Fatalf("FileEntry(%q): untyped error %v", path, err)
			}
			return
		}
		if !IsRegular(e.Mode) || e.Name != path[strings.LastIndexByte(path, '/')+1:] {
			t.Fatalf("FileEntry(%q) = %+v", path, e)
		}
	})
}
