package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/internal/gitobj"
)

// mergeRec is a commit of the main line that added tickets, as the scan
// of main and the index keep it: main read by first parent, what a commit
// added is its diff to its first parent (validate.Mainline's rule).
type mergeRec struct {
	Commit plumbing.Hash
	// Parent is the first parent (zero for a root commit).
	Parent plumbing.Hash
	// Time is the committer time: when the commit reached main.
	Time time.Time
	// Author is the email of whoever proposed the change: the author of
	// the merged branch's head (second parent), or of the commit itself
	// for a direct push or a squash merge.
	Author string
	// PR is the pull or merge request number the commit message names
	// (GitHub's "Merge pull request #N", GitLab's "See merge request
	// …!N", a squash merge's "(#N)"; forge.NumberHint), 0 when none: for
	// display only, never evidence.
	PR int64
	// Opened is the earliest author time of the commits the merge brought
	// in, when OpenedKnown.
	Opened      time.Time
	OpenedKnown bool
	// Tickets are the ticket files the commit added, sorted by path.
	Tickets []ticketRec
	// pos is the commit's position on the first-parent chain, newest
	// first.
	pos int
}

// ticketRec is a ticket file added by a merge, and what cab log shows of
// it. The id and the service come from the path (cab check makes the
// file agree); the rest from the file, read when first needed.
type ticketRec struct {
	Path    string
	Mode    uint32
	Blob    plumbing.Hash
	ID      string
	Service string
	// MetaRead says whether the fields below were read from the blob.
	MetaRead     bool
	Title        string
	Kind         string
	Risk         string
	Owner        string
	Environments []string
	Fixes        []string
	PostReviewOf string
	// Problem says why the file could not be read as ticket data ("" when
	// it could); the row is still shown, with what the path tells.
	Problem string
}

// mainWalker walks main by first parent.
type mainWalker struct {
	obj *gitobj.Reader
	// progress, when set, is called now and then with the number of
	// commits walked so far.
	progress func(commits int)
}

// walkEnd says where a walk stopped.
type walkEnd struct {
	// Chain are the first-parent commits walked, newest first, the stop
	// commit excluded.
	Chain []plumbing.Hash
	// Stop is the commit the walk stopped at; zero when it reached the
	// root.
	Stop plumbing.Hash
}

// maxChain bounds a first-parent walk.
const maxChain = 50_000_000

// walk reads main from head back by first parent, calling emit for each
// commit that added tickets (newest first), until stop reports true for a
// commit (that commit is not read) or the root commit was read. It is
// walkPipeline with one worker and no ticket files read.
func (w *mainWalker) walk(ctx context.Context, head plumbing.Hash, stop func(plumbing.Hash) bool, emit func(*mergeRec) error) (*walkEnd, error) {
	return walkPipeline(ctx, pipeline{obj: w.obj, workers: 1, progress: w.progress}, head, stop, nil,
		func(m *mergeRec, _ int) error { return emit(m) })
}

// commit reads commit h and the tree id of its changes/ directory.
func (w *mainWalker) commit(h plumbing.Hash) (*gitobj.Commit, plumbing.Hash, error) {
	data, err := w.obj.ReadType(h, gitobj.TypeCommit)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", h, err)
	}
	c, err := gitobj.ParseCommit(h, data)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	ch, err := w.changesTree(c.Tree)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("reading the tree of %s: %w", h, err)
	}
	return c, ch, nil
}

func (w *mainWalker) changesOf(h plumbing.Hash) (plumbing.Hash, error) {
	_, ch, err := w.commit(h)
	return ch, err
}

// changesTree returns the id of the changes/ tree in the root tree t
// (zero when there is none).
func (w *mainWalker) changesTree(t plumbing.Hash) (plumbing.Hash, error) {
	root, err := w.obj.ReadType(t, gitobj.TypeTree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	e, ok, err := gitobj.FindEntry(root, "changes")
	if err != nil || !ok || !e.IsTree() {
		return plumbing.ZeroHash, err
	}
	return e.Hash, nil
}

// merge builds the record of commit c, whose changes/ tree went from a to
// b; nil when it added no ticket.
func (w *mainWalker) merge(c *gitobj.Commit, a, b plumbing.Hash) (*mergeRec, error) {
	var added []treeEntryAt
	if err := w.added(a, b, "changes", &added); err != nil {
		return nil, fmt.Errorf("comparing commit %s with its first parent: %w", c.Hash, err)
	}
	return w.mergeOf(c, added)
}

// mergeOf builds the record of commit c, which added the ticket files
// added (in any order); nil when there are none.
func (w *mainWalker) mergeOf(c *gitobj.Commit, added []treeEntryAt) (*mergeRec, error) {
	if len(added) == 0 {
		return nil, nil
	}
	m := &mergeRec{Commit: c.Hash, Time: c.Committer.When, Author: c.Author.Email, PR: forge.NumberHint(c.Message)}
	if len(c.Parents) > 0 {
		m.Parent = c.Parents[0]
	}
	if len(c.Parents) > 1 {
		data, err := w.obj.ReadType(c.Parents[1], gitobj.TypeCommit)
		if err != nil {
			return nil, fmt.Errorf("reading commit %s: %w", c.Parents[1], err)
		}
		second, err := gitobj.ParseCommit(c.Parents[1], data)
		if err != nil {
			return nil, err
		}
		m.Author = second.Author.Email
	}
	slices.SortFunc(added, func(x, y treeEntryAt) int { return strings.Compare(x.path, y.path) })
	for _, a := range added {
		m.Tickets = append(m.Tickets, ticketRec{Path: a.path, Mode: a.mode, Blob: a.hash, ID: ticketIDOf(a.path), Service: serviceOf(a.path)})
	}
	return m, nil
}

// treeEntryAt is a tree entry and its path from the repository root.
type treeEntryAt struct {
	path string
	mode uint32
	hash plumbing.Hash
}

// readMeta reads what cab log shows of a ticket from its file, once.
func (w *mainWalker) readMeta(t *ticketRec) {
	if t.MetaRead {
		return
	}
	t.MetaRead = true
	if t.Mode == gitobj.ModeSubmodule || t.Mode == 0o120000 {
		t.Problem = "not a regular file"
		return
	}
	src, err := w.obj.ReadType(t.Blob, gitobj.TypeBlob)
	if err != nil {
		t.Problem = "unreadable: " + err.Error()
		return
	}
	meta := parseTicketMeta(src)
	t.Title, t.Kind, t.Risk, t.Owner, t.Environments, t.Problem = meta.Title, meta.Kind, meta.Risk, meta.Owner, meta.Environments, meta.Problem
	t.Fixes, t.PostReviewOf = meta.Fixes, meta.PostReviewOf
}

// added appends the non-tree entries of tree b (at prefix) that tree a
// (zero: empty) does not have and that are ticket files.
func (w *mainWalker) added(a, b plumbing.Hash, prefix string, out *[]treeEntryAt) error {
	if a == b || b.IsZero() {
		return nil
	}
	var ta, tb []byte
	var err error
	if !a.IsZero() {
		if ta, err = w.obj.ReadType(a, gitobj.TypeTree); err != nil {
			return fmt.Errorf("reading %s/: %w", prefix, err)
		}
	}
	if tb, err = w.obj.ReadType(b, gitobj.TypeTree); err != nil {
		return fmt.Errorf("reading %s/: %w", prefix, err)
	}
	for {
		// Entries byte for byte the same in both trees (most of them) are
		// skipped without being decoded.
		for len(ta) > 0 && len(tb) > 0 {
			nul := bytes.IndexByte(ta, 0)
			n := nul + 1 + len(plumbing.ZeroHash)
			if nul < 0 || n > len(ta) || n > len(tb) || !bytes.Equal(ta[:n], tb[:n]) {
				break
			}
			ta, tb = ta[n:], tb[n:]
		}
		if len(tb) == 0 {
			return nil
		}
		eb, restB, err := gitobj.NextEntry(tb)
		if err != nil {
			return fmt.Errorf("reading %s/: %w", prefix, err)
		}
		c := 1 // only in b
		var ea gitobj.TreeEntry
		var restA []byte
		if len(ta) > 0 {
			if ea, restA, err = gitobj.NextEntry(ta); err != nil {
				return fmt.Errorf("reading %s/: %w", prefix, err)
			}
			c = gitobj.CompareEntries(&ea, &eb)
		}
		switch {
		case c < 0: // only in a: deleted
			ta = restA
			continue
		case c == 0: // in both, changed
			if ea.Hash != eb.Hash && eb.IsTree() && !refusedName(eb.Name) {
				if err := w.added(ea.Hash, eb.Hash, prefix+"/"+string(eb.Name), out); err != nil {
					return err
				}
			}
			ta = restA
		default: // only in b: added
			if !refusedName(eb.Name) {
				p := prefix + "/" + string(eb.Name)
				if eb.IsTree() {
					if err := w.added(plumbing.ZeroHash, eb.Hash, p, out); err != nil {
						return err
					}
				} else if ticketPath(p) {
					*out = append(*out, treeEntryAt{path: p, mode: eb.Mode, hash: eb.Hash})
				}
			}
		}
		tb = restB
	}
}

// refusedName reports tree entry names validate.Mainline skips: empty,
// ".", "..", ".git" and names holding '/' or NUL.
func refusedName(n []byte) bool {
	s := string(n)
	return s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") || strings.EqualFold(s, ".git")
}

// maxOpenedWalk bounds the commits read to find when a merge's branch
// was opened; past it the time stays unknown.
const maxOpenedWalk = 10_000

// opened sets m.Opened to the earliest author time of the commits m
// brought in: the commit itself for a direct push or squash merge; for a
// merge, the commits reachable from its other parents and not from the
// main line (onMain).
func (w *mainWalker) opened(m *mergeRec, onMain func(plumbing.Hash) bool) error {
	m.OpenedKnown = true
	data, err := w.obj.ReadType(m.Commit, gitobj.TypeCommit)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", m.Commit, err)
	}
	c, err := gitobj.ParseCommit(m.Commit, data)
	if err != nil {
		return err
	}
	if len(c.Parents) < 2 {
		m.Opened = c.Author.When
		return nil
	}
	seen := map[plumbing.Hash]bool{}
	queue := slices.Clone(c.Parents[1:])
	var earliest time.Time
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if seen[h] || onMain(h) {
			continue
		}
		seen[h] = true
		if len(seen) > maxOpenedWalk {
			return nil
		}
		data, err := w.obj.ReadType(h, gitobj.TypeCommit)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", h, err)
		}
		pc, err := gitobj.ParseCommit(h, data)
		if err != nil {
			return err
		}
		if earliest.IsZero() || pc.Author.When.Before(earliest) {
			earliest = pc.Author.When
		}
		queue = append(queue, pc.Parents...)
	}
	m.Opened = earliest
	return nil
}
