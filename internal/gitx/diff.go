package gitx

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Change is one path whose entry differs between two trees: added (From
// zero), deleted (To zero), or modified in content or mode. On the side
// where the path is absent the hash is zero and the mode filemode.Empty.
// Directories are not changes of their own: their files are.
type Change struct {
	Path             string
	From, To         plumbing.Hash
	FromMode, ToMode filemode.FileMode
}

// Added reports whether the path is new.
func (c Change) Added() bool { return c.FromMode == filemode.Empty }

// Deleted reports whether the path is gone.
func (c Change) Deleted() bool { return c.ToMode == filemode.Empty }

// ErrUnsafeName is matched (errors.Is) by an *UnsafeNameError.
var ErrUnsafeName = errors.New("unsafe tree entry name")

// UnsafeNameError lists the tree entries DiffTrees refused to name
// because their names could leave their directory.
type UnsafeNameError struct {
	// Entries are the refused entries, in the order found.
	Entries []UnsafeEntry
}

// UnsafeEntry is a tree entry with an unsafe name.
type UnsafeEntry struct {
	// Dir is the path of the directory that holds it (the prefix given
	// to DiffTrees at the top).
	Dir string
	// Name is its name as it is.
	Name string
}

// Error lists the entries.
func (e *UnsafeNameError) Error() string {
	q := make([]string, len(e.Entries))
	for i, n := range e.Entries {
		q[i] = fmt.Sprintf("%q in %q", n.Name, n.Dir)
	}
	return "refused tree entries whose names could leave their directory: " + strings.Join(q, ", ")
}

// Is makes errors.Is(err, ErrUnsafeName) hold.
func (e *UnsafeNameError) Is(target error) bool { return target == ErrUnsafeName }

// UnsafeName reports whether a tree entry's name could leave its
// directory when joined to a path: empty, ".", "..", holding '/' or NUL,
// or git's own directory in any case.
func UnsafeName(name string) bool {
	return name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || strings.EqualFold(name, ".git")
}

// DiffTrees lists the files that differ between a and b (nil is the
// empty tree), their paths joined to prefix, in a depth-first walk with
// each directory's names in byte order. It descends only into subtrees
// whose hashes differ: the work grows with the change, not with the
// trees. A path that is a directory on one side and a file (or symlink,
// or submodule) on the other is the files of the directory deleted or
// added and the other entry added or deleted. Submodules are not entered.
//
// Entries whose names are unsafe (UnsafeName) are neither named nor
// entered: when there are any, DiffTrees returns the other changes
// together with an *UnsafeNameError listing them. Any other error comes
// with no changes.
func DiffTrees(a, b *object.Tree, prefix string) ([]Change, error) {
	d := differ{}
	if err := d.diff(a, b, prefix); err != nil {
		return nil, err
	}
	if len(d.unsafe) > 0 {
		return d.changes, &UnsafeNameError{Entries: d.unsafe}
	}
	return d.changes, nil
}

type differ struct {
	changes []Change
	unsafe  []UnsafeEntry
}

func (d *differ) diff(a, b *object.Tree, prefix string) error {
	ea, eb := entries(a), entries(b)
	names := make([]string, 0, len(ea)+len(eb))
	for n := range ea {
		names = append(names, n)
	}
	for n := range eb {
		if _, ok := ea[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		x, y := ea[n], eb[n]
		if x != nil && y != nil && x.Hash == y.Hash && x.Mode == y.Mode {
			continue
		}
		if UnsafeName(n) {
			d.unsafe = append(d.unsafe, UnsafeEntry{Dir: prefix, Name: n})
			continue
		}
		full := path.Join(prefix, n)
		var sa, sb *object.Tree
		var err error
		if x != nil && x.Mode == filemode.Dir {
			if sa, err = a.Tree(n); err != nil {
				return fmt.Errorf("reading %s/: %w", full, err)
			}
			x = nil
		}
		if y != nil && y.Mode == filemode.Dir {
			if sb, err = b.Tree(n); err != nil {
				return fmt.Errorf("reading %s/: %w", full, err)
			}
			y = nil
		}
		if sa != nil || sb != nil {
			if err := d.diff(sa, sb, full); err != nil {
				return err
			}
		}
		if x != nil || y != nil {
			c := Change{Path: full}
			if x != nil {
				c.From, c.FromMode = x.Hash, x.Mode
			}
			if y != nil {
				c.To, c.ToMode = y.Hash, y.Mode
			}
			d.changes = append(d.changes, c)
		}
	}
	return nil
}

// entries maps the names of t's entries to them (none for nil).
func entries(t *object.Tree) map[string]*object.TreeEntry {
	m := map[string]*object.TreeEntry{}
	if t != nil {
		for i := range t.Entries {
			m[t.Entries[i].Name] = &t.Entries[i]
		}
	}
	return m
}
