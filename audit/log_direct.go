package audit

import (
	"context"
	"fmt"
	"slices"
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
		if isPattern(s) {
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
// Between two commits the walk compares, every commit the Bloom filters
// ruled out left changes/<service>/ as its first parent had it: the
// older commit's trees are the newer one's parent trees, read once.
func (r *runner) direct(ctx context.Context, head plumbing.Hash, services []string, row rowFunc) error {
	r.res.Index.State = "direct"
	r.res.Merged = -1
	if head.IsZero() {
		return nil // no commit yet
	}
	g, err := gitobj.OpenCommitGraph(r.objDir)
	if err != nil {
		// A cache: without it every commit is compared.
		r.log.Debug("ignoring the commit-graph", "err", err)
		g = nil
	}
	defer g.Close()
	f := &r.o.Filter
	byTime := graphTimeUsable(f)
	keys := make([]*gitobj.BloomKey, len(services))
	for i, s := range services {
		keys[i] = gitobj.NewBloomKey("changes/" + s)
	}
	w := r.reader
	var buffered []*mergeRec
	emit := func(m *mergeRec) error {
		if m == nil {
			return nil
		}
		if r.o.Reverse {
			buffered = append(buffered, m)
			return nil
		}
		return r.emitMerge(m, row)
	}

	// pending is the last commit compared, waiting for its parent's
	// trees; reuse says every commit walked since was ruled out by the
	// Bloom filters (its trees under changes/ are then the next compared
	// commit's).
	var (
		pending      *gitobj.Commit
		pendingTrees []plumbing.Hash
		reuse        bool
	)
	finish := func(parentTrees []plumbing.Hash) error {
		if pending == nil {
			return nil
		}
		c := pending
		pending = nil
		if parentTrees == nil {
			var parent plumbing.Hash
			if len(c.Parents) > 0 {
				parent = c.Parents[0]
			}
			var err error
			if parentTrees, err = w.directTrees(parent, services); err != nil {
				return err
			}
		}
		m, err := w.directMerge(c, parentTrees, pendingTrees, services)
		if err != nil {
			return err
		}
		return emit(m)
	}

	cur := head
	var pos uint32
	inGraph, stale := false, false
	if g != nil {
		pos, inGraph = g.Lookup(head)
	}
	for i := 1; ; i++ {
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
		if inGraph {
			if parent, root, skip, bloom := directSkip(g, pos, f, byTime, keys); skip {
				r.res.Index.Commits++
				reuse = reuse && bloom
				if root {
					cur = plumbing.ZeroHash
					break
				}
				pos, cur, stale = parent, plumbing.ZeroHash, true
				continue
			}
		}
		if stale {
			// The id of a commit the walk reached by graph position.
			if cur, err = g.Hash(pos); err != nil {
				return err
			}
			stale = false
		}
		r.res.Index.Commits++
		data, err := w.obj.ReadType(cur, gitobj.TypeCommit)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", cur, err)
		}
		c, err := gitobj.ParseCommit(cur, data)
		if err != nil {
			return err
		}
		var trees []plumbing.Hash
		if pending != nil && reuse || f.matchTime(c.Committer.When) {
			if trees, err = w.directTrees(cur, services, c.Tree); err != nil {
				return err
			}
		}
		if pending != nil {
			var parentTrees []plumbing.Hash
			if reuse {
				parentTrees = trees
			}
			if err := finish(parentTrees); err != nil {
				return err
			}
		}
		if f.matchTime(c.Committer.When) {
			pending, pendingTrees, reuse = c, trees, true
		}
		cur = plumbing.ZeroHash
		if len(c.Parents) > 0 {
			cur = c.Parents[0]
		}
		if cur.IsZero() {
			break
		}
		if g != nil {
			pos, inGraph = g.Lookup(cur)
		}
	}
	// The root reached: what the last commit compared had below it is
	// nothing when only ruled-out commits followed it.
	if pending != nil {
		var none []plumbing.Hash
		if reuse {
			none = make([]plumbing.Hash, max(1, len(services)))
		}
		if err := finish(none); err != nil {
			return err
		}
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

// directSkip reports whether the graph rules the commit at pos out, and
// then the position of its first parent (root: it has none) and whether
// the Bloom filters ruled it out (it touched none of keys; else it is
// outside the period).
func directSkip(g *gitobj.CommitGraph, pos uint32, f *Filter, byTime bool, keys []*gitobj.BloomKey) (parent uint32, root, skip, bloom bool) {
	parent, hasParent, commitTime, err := g.FirstParent(pos)
	if err != nil {
		return 0, false, false, false
	}
	if len(keys) > 0 {
		bloom = true
		for _, k := range keys {
			if g.ChangedKey(pos, k) != gitobj.BloomNo {
				bloom = false
				break
			}
		}
	}
	if !bloom && !(byTime && !f.matchTime(time.Unix(commitTime, 0))) {
		return 0, false, false, false
	}
	return parent, !hasParent, true, bloom
}

// directTrees returns, for commit h (zero: none), the trees directMerge
// compares: the changes/ tree when services is empty, else the tree of
// each service under changes/ (zero: none). root, when given, is h's root
// tree (read from h otherwise).
func (w *mainWalker) directTrees(h plumbing.Hash, services []string, root ...plumbing.Hash) ([]plumbing.Hash, error) {
	out := make([]plumbing.Hash, max(1, len(services)))
	if h.IsZero() {
		return out, nil
	}
	var changes plumbing.Hash
	var err error
	if len(root) > 0 {
		changes, err = w.changesTree(root[0])
		if err != nil {
			err = fmt.Errorf("reading the tree of %s: %w", h, err)
		}
	} else {
		changes, err = w.changesOf(h)
	}
	if err != nil || changes.IsZero() {
		return out, err
	}
	if len(services) == 0 {
		out[0] = changes
		return out, nil
	}
	tree, err := w.obj.ReadType(changes, gitobj.TypeTree)
	if err != nil {
		return nil, fmt.Errorf("reading changes/ of %s: %w", h, err)
	}
	for i, s := range services {
		if refusedName([]byte(s)) {
			continue
		}
		if out[i], err = subtree(tree, s); err != nil {
			return nil, fmt.Errorf("reading changes/ of %s: %w", h, err)
		}
	}
	return out, nil
}

// directMerge compares commit c with its first parent under changes/, or
// only under changes/<service>/ for each of services, as merge does for
// the whole of changes/ (a and b are directTrees of the parent and of c):
// the record of the tickets it added there, nil when none.
func (w *mainWalker) directMerge(c *gitobj.Commit, a, b []plumbing.Hash, services []string) (*mergeRec, error) {
	if len(services) == 0 {
		if a[0] == b[0] || b[0].IsZero() {
			return nil, nil
		}
		return w.merge(c, a[0], b[0])
	}
	var added []treeEntryAt
	for i, s := range services {
		if b[i].IsZero() || a[i] == b[i] {
			continue
		}
		if err := w.added(a[i], b[i], "changes/"+s, &added); err != nil {
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
