package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/diag"
)

// treeFile reads the regular file at name (a '/'-separated repository
// path) from tree without trusting it: symlinks, submodules and blobs over
// max are refused by their entry, before any byte is read. It returns
// (nil, nil, nil) when there is no such file.
func treeFile(tree *object.Tree, name string, max int64) ([]byte, *diag.Diagnostic, error) {
	e, err := tree.FindEntry(name)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if d := refuseEntry(name, e.Mode); d != nil {
		return nil, d, nil
	}
	blob, err := tree.TreeEntryFile(e)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return readBlob(name, blob, max)
}

// refuseEntry refuses what is not a regular file.
func refuseEntry(name string, mode filemode.FileMode) *diag.Diagnostic {
	refuse := func(msg, hint string) *diag.Diagnostic {
		return &diag.Diagnostic{File: name, Line: 1, Column: 1, Severity: diag.Error, Code: "file", Message: msg, Hint: hint}
	}
	switch mode {
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
		return nil
	case filemode.Symlink:
		return refuse("symlinks are refused", "commit the file itself, not a link to it")
	case filemode.Submodule:
		return refuse("submodules are refused", "tickets and policies live in this repository")
	default:
		return refuse(fmt.Sprintf("not a regular file (mode %s)", mode), "commit a plain file")
	}
}

func readBlob(name string, f *object.File, max int64) ([]byte, *diag.Diagnostic, error) {
	if f.Size > max {
		return nil, &diag.Diagnostic{File: name, Line: 1, Column: 1, Severity: diag.Error, Code: "file",
			Message: fmt.Sprintf("file is %d bytes, more than the %d allowed", f.Size, max),
			Hint:    "a ticket describes one change; keep large content in the repository it changes"}, nil
	}
	r, err := f.Reader()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(r, max+1)); err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return buf.Bytes(), nil, nil
}

// ticketIndex maps every ticket id of a tree (from the file names under
// changes/<service>/) to its paths. It reads tree objects only, never a
// blob: one per service directory.
func ticketIndex(tree *object.Tree) (map[string][]string, error) {
	ids := map[string][]string{}
	changes, err := tree.Tree(ChangesDir)
	if errors.Is(err, object.ErrDirectoryNotFound) {
		return ids, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/: %w", ChangesDir, err)
	}
	for _, svc := range changes.Entries {
		if svc.Mode != filemode.Dir {
			continue
		}
		sub, err := changes.Tree(svc.Name)
		if err != nil {
			return nil, fmt.Errorf("reading %s/%s/: %w", ChangesDir, svc.Name, err)
		}
		for _, e := range sub.Entries {
			if id, ok := strings.CutSuffix(e.Name, ".cue"); ok {
				ids[id] = append(ids[id], path.Join(ChangesDir, svc.Name, e.Name))
			}
		}
	}
	return ids, nil
}

// change is one file a pull request adds, modifies or deletes.
type change struct {
	name     string
	from, to *object.TreeEntry // nil on the side where the file is absent
	fromTree *object.Tree      // trees holding from and to, to read them
	toTree   *object.Tree
}

// diffTrees lists the files that differ between two trees, descending only
// into subtrees whose hashes differ: the work grows with the change, not
// with the repository. Entry names that could escape a directory ("..",
// ".", names with '/', ".git") are refused as diagnostics instead of being
// followed.
func diffTrees(a, b *object.Tree, prefix string) ([]change, diag.List, error) {
	var changes []change
	var refused diag.List
	entries := func(t *object.Tree) map[string]*object.TreeEntry {
		m := map[string]*object.TreeEntry{}
		if t != nil {
			for i := range t.Entries {
				m[t.Entries[i].Name] = &t.Entries[i]
			}
		}
		return m
	}
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
		full := path.Join(prefix, n)
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") || strings.EqualFold(n, ".git") {
			refused = append(refused, diag.Diagnostic{File: prefix + "/" + n, Line: 1, Column: 1, Severity: diag.Error, Code: "file",
				Message: fmt.Sprintf("path entry %q is refused", n), Hint: "paths must stay inside the repository; rename the entry"})
			continue
		}
		var sa, sb *object.Tree
		var err error
		if x != nil && x.Mode == filemode.Dir {
			if sa, err = a.Tree(n); err != nil {
				return nil, nil, fmt.Errorf("reading %s/: %w", full, err)
			}
			x = nil
		}
		if y != nil && y.Mode == filemode.Dir {
			if sb, err = b.Tree(n); err != nil {
				return nil, nil, fmt.Errorf("reading %s/: %w", full, err)
			}
			y = nil
		}
		if sa != nil || sb != nil {
			sub, ref, err := diffTrees(sa, sb, full)
			if err != nil {
				return nil, nil, err
			}
			changes, refused = append(changes, sub...), append(refused, ref...)
		}
		if x != nil || y != nil {
			changes = append(changes, change{name: full, from: x, to: y, fromTree: a, toTree: b})
		}
	}
	return changes, refused, nil
}
