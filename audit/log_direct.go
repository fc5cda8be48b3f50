package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/gitobj"
)

// A cold run (no usable index) normally builds the whole index first:
// every merge of main, every ticket it added, each merge's author; that
// is what LogResult.Merged, the number of tickets main ever merged,
// needs. A question that does not show Merged (LogOptions.NoMerged) and
// names its services exactly, or a period, is answered directly instead,
// the way git log answers a path-limited question: main is walked by
// first parent, and only the commits that may have added a ticket of
// those services in that period are compared with their first parent,
// and only under changes/<service>/. Which commits may have is read from
// the repository's commit-graph when there is one (objects/info: git's
// cache of each commit's tree, parents and time, and of a Bloom filter of
// the paths each commit's diff against its first parent touched); a
// commit the graph does not hold is read and compared as before. Each row
// is built as the full scan builds it (the same merge record, the same
// ticket record, the same ledger view), so that the rows are the same; the
// index is neither read nor written (the next run that needs it builds
// it).
//
// Trust: the commit-graph is a file git writes locally (fetch and push
// never carry it), whose every field is a function of the commit id it is
// filed under (the tree and parents are hashed into the id, the Bloom
// filter is derived from the trees); cab reads it as git log does. A Bloom
// filter has no false negatives, so a commit it rules out touched none of
// the paths asked about; a missing or unreadable filter, or a path it
// cannot hash safely, only means the commit is compared. The graph's
// commit time rules a commit out only when the period is bounded on both
// sides between 1970 and 2514 (the 34 bits the graph keeps): a time the
// graph keeps truncated is then outside the period either way.

// directServices returns the services an eligible question names (nil
// for a question bounded by time only) and whether the question is one
// the direct walk answers.
func (r *runner) directServices() ([]string, bool) {
	f := &r.o.Filter
	if !r.o.NoMerged || r.o.OpenedAt || r.o.Index != IndexUse || r.o.atMain != nil {
		return nil, false
	}
	var services []string
	for _, s := range f.Services {
		if strings.ContainsAny(s, `*?[\`) {
			return nil, false // a pattern: no path to ask the graph about
		}
		if !slices.Contains(services, s) {
			services = append(services, s)
		}
	}
	if len(services) == 0 && f.Since.IsZero() && f.Until.IsZero() {
		return nil, false
	}
	return services, true
}

// graphTimeUsable reports whether the commit-graph's commit times may rule
// commits out of f's period (see above).
func graphTimeUsable(f *Filter) bool {
	return !f.Since.IsZero() && !f.Until.IsZero() && f.Since.Unix() >= 0 && f.Until.Unix() < 1<<34-1
}

// direct answers the question by walking main from head (see above).
func (r *runner) direct(ctx context.Context, head plumbing.Hash, services []string, row rowFunc) error {
	r.res.Index.State = "direct"
	r.res.Merged = -1
	g, err := gitobj.OpenCommitGraph(r.objDir)
	if err != nil {
		// A cache: without it every commit is compared.
		r.log.Debug("ignoring the commit-graph", "err", err)
		g = nil
	}
	defer g.Close()
	f := &r.o.Filter
	byTime := graphTimeUsable(f)
	keys := make([]string, len(services))
	for i, s := range services {
		keys[i] = "changes/" + s
	}
	w := r.reader
	var buffered []*mergeRec
	cur := head
	for i := 1; !cur.IsZero(); i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if r.o.Progress != nil {
				r.o.Progress(i)
			}
		}
		if i > maxChain {
			return fmt.Errorf("main is longer than %d commits", maxChain)
		}
		r.res.Index.Commits++
		if g != nil {
			if next, skip := directSkip(g, cur, f, byTime, keys); skip {
				cur = next
				continue
			}
		}
		data, err := w.obj.ReadType(cur, gitobj.TypeCommit)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", cur, err)
		}
		c, err := gitobj.ParseCommit(cur, data)
		if err != nil {
			return err
		}
		var parent plumbing.Hash
		if len(c.Parents) > 0 {
			parent = c.Parents[0]
		}
		if f.matchTime(c.Committer.When) {
			m, err := w.directMerge(c, parent, services)
			if err != nil {
				return err
			}
			if m != nil {
				if r.o.Reverse {
					buffered = append(buffered, m)
				} else if err := r.emitMerge(m, row); err != nil {
					return err
				}
			}
		}
		cur = parent
	}
	if r.o.Progress != nil {
		r.o.Progress(r.res.Index.Commits)
	}
	for _, m := range slices.Backward(buffered) {
		if err := r.emitMerge(m, row); err != nil {
			return err
		}
	}
	return nil
}

// directSkip reports whether the graph rules commit h out (its first
// parent is then next): outside the period, or touching none of keys.
func directSkip(g *gitobj.CommitGraph, h plumbing.Hash, f *Filter, byTime bool, keys []string) (plumbing.Hash, bool) {
	pos, ok := g.Lookup(h)
	if !ok {
		return plumbing.ZeroHash, false
	}
	gc, err := g.Commit(pos)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	out := byTime && !f.matchTime(time.Unix(gc.Time, 0))
	if !out && len(keys) > 0 {
		out = true
		for _, k := range keys {
			if g.Changed(pos, k) != gitobj.BloomNo {
				out = false
				break
			}
		}
	}
	if !out {
		return plumbing.ZeroHash, false
	}
	if len(gc.Parents) == 0 {
		return plumbing.ZeroHash, true
	}
	next, err := g.Hash(gc.Parents[0])
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return next, true
}

// directMerge compares commit c with its first parent under changes/, or
// only under changes/<service>/ for each of services, as merge does for
// the whole of changes/: the record of the tickets it added there, nil
// when none.
func (w *mainWalker) directMerge(c *gitobj.Commit, parent plumbing.Hash, services []string) (*mergeRec, error) {
	b, err := w.changesTree(c.Tree)
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s: %w", c.Hash, err)
	}
	var a plumbing.Hash
	if !parent.IsZero() {
		if a, err = w.changesOf(parent); err != nil {
			return nil, err
		}
	}
	if a == b || b.IsZero() {
		return nil, nil
	}
	if len(services) == 0 {
		return w.merge(c, a, b)
	}
	var ta, tb []byte
	if !a.IsZero() {
		if ta, err = w.obj.ReadType(a, gitobj.TypeTree); err != nil {
			return nil, fmt.Errorf("reading changes/ of %s: %w", parent, err)
		}
	}
	if tb, err = w.obj.ReadType(b, gitobj.TypeTree); err != nil {
		return nil, fmt.Errorf("reading changes/ of %s: %w", c.Hash, err)
	}
	var added []treeEntryAt
	for _, s := range services {
		if refusedName([]byte(s)) {
			continue
		}
		sb, err := subtree(tb, s)
		if err != nil {
			return nil, err
		}
		if sb.IsZero() {
			continue
		}
		sa, err := subtree(ta, s)
		if err != nil {
			return nil, err
		}
		if err := w.added(sa, sb, "changes/"+s, &added); err != nil {
			return nil, fmt.Errorf("comparing commit %s with its first parent: %w", c.Hash, err)
		}
	}
	return w.mergeOf(c, added)
}

// subtree returns the id of the tree entry called name in a raw tree
// (zero when there is none, or the entry is not a tree).
func subtree(tree []byte, name string) (plumbing.Hash, error) {
	for len(tree) > 0 {
		e, rest, err := gitobj.NextEntry(tree)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if e.IsTree() && string(e.Name) == name {
			return e.Hash, nil
		}
		tree = rest
	}
	return plumbing.ZeroHash, nil
}
