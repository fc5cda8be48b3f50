package validate

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The index of targets maps every resource (model.Action.Resource) that a
// merged ticket changes to the tickets that change it, for one tree of
// changes/. Conflicts across services are found through it: a check looks
// up the resources of the tickets it judges, never the other tickets.
//
// It is derived from git and kept under the repository's git directory
// (cab/targets-v1.idx), one file for the last tree indexed:
//
//	cab-targets v1 <hash of the changes/ tree> <number of entries>
//	<resource>\t<end>\t<start>\t<path>\t<id>
//	...
//
// with the entry lines sorted (times are RFC 3339 in UTC, which sort as
// they compare), so that a lookup is a binary search over the file's bytes
// for the entries of a resource whose windows end after a given time:
// nothing is decoded but what may conflict, however long the history of
// the resource. Moving the
// index to another tree costs the difference between the two trees (git
// skips identical subtrees by hash); the first index of a clone reads every
// ticket once (its summaries are cached by blob hash, see Session).
// Writing is atomic (a temporary file renamed), and a file for another
// tree, or one that does not parse, is only ever a cost, never a wrong
// answer: the header says which tree the entries describe.

const (
	indexName   = "targets-v1.idx"
	indexHeader = "cab-targets v1 "
)

// targetIndex is the index of one changes/ tree.
type targetIndex struct {
	tree  plumbing.Hash // zero: no changes/ directory
	data  []byte        // the entry lines, sorted, each ending in '\n'
	lines []int         // offset of each line in data
	// What the moves since data was built changed (see move), until they
	// are folded into data (compact): the entries of data whose path is
	// in gone no longer count, and added are the entries since, sorted;
	// addedPaths counts them by path.
	gone       map[string]bool
	added      []string
	addedPaths map[string]int
}

// indexEntry is one line of the index.
type indexEntry struct {
	resource, path, id string
	start, end         time.Time
}

func (e indexEntry) line() string {
	return strings.Join([]string{e.resource, stamp(e.end), stamp(e.start), e.path, e.id}, "\t") + "\n"
}

// stamp formats t so that stamps sort as times compare.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseEntry(line []byte) (indexEntry, bool) {
	f := strings.Split(strings.TrimSuffix(string(line), "\n"), "\t")
	if len(f) != 5 {
		return indexEntry{}, false
	}
	end, err1 := time.Parse(time.RFC3339, f[1])
	start, err2 := time.Parse(time.RFC3339, f[2])
	if err1 != nil || err2 != nil {
		return indexEntry{}, false
	}
	return indexEntry{resource: f[0], end: end, start: start, path: f[3], id: f[4]}, true
}

func newIndex(tree plumbing.Hash, data []byte) *targetIndex {
	x := &targetIndex{tree: tree, data: data}
	for off := 0; off < len(data); {
		x.lines = append(x.lines, off)
		n := bytes.IndexByte(data[off:], '\n')
		if n < 0 {
			break
		}
		off += n + 1
	}
	return x
}

func (x *targetIndex) line(i int) []byte {
	end := len(x.data)
	if i+1 < len(x.lines) {
		end = x.lines[i+1]
	}
	return x.data[x.lines[i]:end]
}

// lookup adds to out (by path) the tickets that change resource in a
// window ending after after and starting before before, each with the
// matching resources. The entries of data and of added are visited
// together in their sorted order, as one index would list them.
func (x *targetIndex) lookup(out map[string]*Open, resource string, after, before time.Time) {
	prefix := []byte(resource + "\t")
	from := []byte(resource + "\t" + stamp(after))
	i, _ := slices.BinarySearchFunc(x.lines, from, func(off int, p []byte) int {
		l := x.data[off:]
		return bytes.Compare(l[:min(len(l), len(p))], p)
	})
	j, _ := slices.BinarySearchFunc(x.added, from, func(l string, p []byte) int {
		return strings.Compare(l[:min(len(l), len(p))], string(p))
	})
	for {
		var line []byte
		old := i < len(x.lines) && bytes.HasPrefix(x.line(i), prefix)
		fresh := j < len(x.added) && strings.HasPrefix(x.added[j], string(prefix))
		switch {
		case old && (!fresh || bytes.Compare(x.line(i), []byte(x.added[j])) <= 0):
			line = x.line(i)
			i++
		case fresh:
			line = []byte(x.added[j])
			j++
			old = false
		default:
			return
		}
		e, ok := parseEntry(line)
		if !ok || old && x.gone[e.path] || !e.end.After(after) || !e.start.Before(before) {
			continue
		}
		o := out[e.path]
		if o == nil {
			o = &Open{ID: e.id, Start: e.start, End: e.end}
			out[e.path] = o
		}
		if !slices.Contains(o.Targets, e.resource) {
			o.Targets = append(o.Targets, e.resource)
		}
	}
}

// targetsFile is where the index of targets is stored.
var targetsFile = treeIndexFile{name: indexName, header: indexHeader}

// loadIndex reads the stored index; nil when there is none or it does not
// parse.
func loadIndex(repo *git.Repository) *targetIndex {
	tree, body, ok := targetsFile.read(repo)
	if !ok {
		return nil
	}
	return newIndex(tree, body)
}

// save writes the index (see treeIndexFile.write).
func (x *targetIndex) save(repo *git.Repository) {
	x.compact()
	targetsFile.write(repo, x.tree, x.data)
}

// move records that the entries of the paths in drop are gone and that
// the entries add (lines) are the index's now, and that it describes
// tree. Moves cost what they change: they are folded into data (compact)
// only once they add up to a share of it.
func (x *targetIndex) move(tree plumbing.Hash, drop map[string]bool, add []string) {
	x.tree = tree
	if x.gone == nil {
		x.gone, x.addedPaths = map[string]bool{}, map[string]int{}
	}
	for p := range drop {
		x.gone[p] = true
		if x.addedPaths[p] == 0 {
			continue
		}
		delete(x.addedPaths, p)
		x.added = slices.DeleteFunc(x.added, func(l string) bool {
			e, ok := parseEntry([]byte(l))
			return !ok || e.path == p
		})
	}
	for _, l := range add {
		i, _ := slices.BinarySearch(x.added, l)
		x.added = slices.Insert(x.added, i, l)
		if e, ok := parseEntry([]byte(l)); ok {
			x.addedPaths[e.path]++
		}
	}
	if len(x.gone)+len(x.added) > compactMin+len(x.lines)/4 {
		x.compact()
	}
}

// compactMin is how many changes (paths gone and entries added) an index
// keeps beside data at least before folding them in.
const compactMin = 1024

// compact folds the moves since data was built into data: the entries of
// data whose path is gone (and any that do not parse) are dropped and
// the added ones merged in, sorted.
func (x *targetIndex) compact() {
	if len(x.gone) == 0 && len(x.added) == 0 {
		return
	}
	kept := make([]string, 0, len(x.lines)+len(x.added))
	for i := range x.lines {
		l := x.line(i)
		if e, ok := parseEntry(l); ok && !x.gone[e.path] {
			kept = append(kept, string(l))
		}
	}
	kept = append(kept, x.added...)
	slices.Sort(kept)
	*x = *newIndex(x.tree, []byte(strings.Join(kept, "")))
}

// changesTree returns the changes/ tree of root and its hash (nil and zero
// when there is none).
func changesTree(root *object.Tree) (*object.Tree, plumbing.Hash, error) {
	e, err := root.FindEntry(ChangesDir)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, plumbing.ZeroHash, nil
	}
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("reading %s/: %w", ChangesDir, err)
	}
	if !e.Mode.IsFile() {
		t, err := root.Tree(ChangesDir)
		if err != nil {
			return nil, plumbing.ZeroHash, fmt.Errorf("reading %s/: %w", ChangesDir, err)
		}
		return t, e.Hash, nil
	}
	return nil, plumbing.ZeroHash, nil
}

// targetsOf returns the index of targets of the merged tickets of root,
// from the session or the stored index, moved to root's changes/ tree
// first if it describes another.
func (s *Session) targetsOf(root *object.Tree) (*targetIndex, error) {
	want, hash, err := changesTree(root)
	if err != nil {
		return nil, err
	}
	x := s.targets
	if x == nil {
		x = loadIndex(s.repo)
	}
	if x != nil && x.tree == hash {
		s.targets = x
		return x, nil
	}
	var from *object.Tree
	if x != nil && !x.tree.IsZero() {
		if from, err = s.repo.TreeObject(x.tree); err != nil {
			x, from = nil, nil // gone (gc, another clone): start afresh
		}
	}
	if x == nil {
		x = newIndex(plumbing.ZeroHash, nil)
	}
	if x, err = s.moveIndex(x, from, want, hash); err != nil {
		return nil, err
	}
	s.targets = x
	if s.batch {
		s.targetsDirty = true
	} else {
		x.save(s.repo)
	}
	return x, nil
}

// moveIndex turns x, the index of the tree from, into the index of to
// (hash): entries of the files that differ are dropped, and the tickets on
// the side of to are summarised again.
func (s *Session) moveIndex(x *targetIndex, from, to *object.Tree, hash plumbing.Hash) (*targetIndex, error) {
	changes, _, err := diffTrees(s.repo.Storer, from, to, ChangesDir)
	if err != nil {
		return nil, fmt.Errorf("indexing the targets of %s/: %w", ChangesDir, err)
	}
	drop := map[string]bool{}
	var add []string
	cache := s.summaries(s.repo)
	var missing []change
	for _, c := range changes {
		if isTicketChange(c) {
			if _, ok := cache[c.To.String()]; !ok {
				missing = append(missing, c)
			}
		}
	}
	for i, sum := range summarizeChanges(missing) {
		s.learn(missing[i].To.String(), sum)
	}
	for _, c := range changes {
		drop[c.Path] = true
		if !isTicketChange(c) {
			continue
		}
		sum := cache[c.To.String()]
		if sum == nil {
			continue
		}
		for _, r := range sum.Targets {
			if strings.ContainsAny(r, "\t\n") {
				continue
			}
			add = append(add, indexEntry{resource: r, path: c.Path, id: sum.ID, start: sum.Start, end: sum.End}.line())
		}
	}
	if s.dirty && !s.batch {
		saveSummaries(s.repo, cache)
		s.dirty = false
	}
	x.move(hash, drop, add)
	return x, nil
}

// isTicketChange says whether c leaves a merged ticket
// (changes/<service>/<name>.cue, a regular file) to index.
func isTicketChange(c change) bool {
	return !c.Deleted() && c.ToMode.IsFile() && strings.HasSuffix(c.Path, ".cue") && strings.Count(c.Path, "/") == 2
}
