package validate

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/schema/load"
)

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
	gitx.Change
	s storer.EncodedObjectStorer // holds its blobs
}

// read reads the file as the change leaves it, refusing (as a
// diagnostic) what is not a regular file or is larger than max.
func (c change) read(max int64) ([]byte, *diag.Diagnostic, error) {
	return load.BlobFile(c.s, c.Path, c.ToMode, c.To, max)
}

// diffTrees lists the files that differ between two trees of s
// (gitx.DiffTrees: the work grows with the change, not with the
// repository). Entry names that could escape a directory ("..", ".",
// names with '/', ".git") are refused as diagnostics instead of being
// followed.
func diffTrees(s storer.EncodedObjectStorer, a, b *object.Tree, prefix string) ([]change, diag.List, error) {
	diff, err := gitx.DiffTrees(a, b, prefix)
	var refused diag.List
	if ue, ok := errors.AsType[*gitx.UnsafeNameError](err); ok {
		for _, e := range ue.Entries {
			refused = append(refused, diag.Diagnostic{File: e.Dir + "/" + e.Name, Line: 1, Column: 1, Severity: diag.Error, Code: "file",
				Message: fmt.Sprintf("path entry %q is refused", e.Name), Hint: "paths must stay inside the repository; rename the entry"})
		}
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	changes := make([]change, len(diff))
	for i, c := range diff {
		changes[i] = change{Change: c, s: s}
	}
	return changes, refused, nil
}
