package audit

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/gitobj"
)

// pipeline configures walkPipeline.
type pipeline struct {
	// obj is the reader of the walking goroutine; workers read through
	// clones of it.
	obj     *gitobj.Reader
	workers int
	// progress, when set, is called now and then with the number of main
	// commits read.
	progress func(commits int)
	// prepare, when set, runs on a worker for each merge found (or given)
	// before it is emitted, e.g. to read ticket files; it returns how many
	// blobs it read.
	prepare func(w *mainWalker, m *mergeRec) int
}

// chunkSize is how many consecutive first-parent commits one worker
// compares at a time.
const chunkSize = 64

// chunk is a run of consecutive first-parent commits, newest first, and
// what a worker found in them; or, for merges an index already holds,
// just those merges to prepare.
type chunk struct {
	commits []*gitobj.Commit
	// parent is the first parent of the last commit (zero: it is a root).
	parent plumbing.Hash
	merges []*mergeRec
	blobs  int
	err    error
	done   chan struct{}
}

// walkPipeline reads main from head back by first parent, as walk does,
// but spreads the work: this goroutine's helper reads the commits (cheap:
// commits are stored whole), workers compare each commit's changes/ tree
// with its first parent's (the costly part: trees are deltas of deltas)
// and prepare the merges, chunk by chunk; emit is called on the caller's
// goroutine for every merge, in walk order, as soon as its chunk is done.
// After the walk, the merges of tail (an index's, below the stop commit)
// are prepared and emitted the same way.
func walkPipeline(ctx context.Context, p pipeline, head plumbing.Hash, stop func(plumbing.Hash) bool,
	tail func(end *walkEnd) []*mergeRec, emit func(m *mergeRec, blobs int) error) (*walkEnd, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *chunk, 64)
	order := make(chan *chunk, 64)
	send := func(c *chunk) bool {
		c.done = make(chan struct{})
		select {
		case work <- c:
		case <-ctx.Done():
			return false
		}
		select {
		case order <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}

	end := &walkEnd{}
	walked := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(work)
		err := readChain(ctx, p, head, stop, end, send)
		if err == nil && tail != nil {
			ms := tail(end)
			for len(ms) > 0 && ctx.Err() == nil {
				n := min(len(ms), chunkSize)
				if !send(&chunk{merges: ms[:n:n]}) {
					break
				}
				ms = ms[n:]
			}
		}
		walked <- err
	}()

	var workers sync.WaitGroup
	for range max(1, p.workers) {
		w := &mainWalker{obj: p.obj.Clone()}
		workers.Add(1)
		go func() {
			defer workers.Done()
			for c := range work {
				if ctx.Err() == nil {
					c.err = w.compare(c)
				}
				if c.err == nil && p.prepare != nil && ctx.Err() == nil {
					for _, m := range c.merges {
						c.blobs += p.prepare(w, m)
					}
				}
				close(c.done)
			}
		}()
	}

	var emitErr error
	for c := range order {
		<-c.done
		if emitErr != nil {
			continue // draining
		}
		emitErr = c.err
		for i, m := range c.merges {
			if emitErr != nil {
				break
			}
			blobs := 0
			if i == 0 {
				blobs = c.blobs
			}
			emitErr = emit(m, blobs)
		}
		if emitErr != nil {
			cancel()
		}
	}
	workers.Wait()
	walkErr := <-walked
	switch {
	case emitErr != nil:
		return nil, emitErr
	case walkErr != nil:
		return nil, walkErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return end, nil
}

// readChain reads the first-parent chain from head until stop or the root
// and sends it in chunks.
func readChain(ctx context.Context, p pipeline, head plumbing.Hash, stop func(plumbing.Hash) bool, end *walkEnd, send func(*chunk) bool) error {
	cur := head
	var c *chunk
	for i := 1; ; i++ {
		if stop(cur) {
			end.Stop = cur
			break
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if p.progress != nil {
				p.progress(i)
			}
		}
		if i > maxChain {
			return fmt.Errorf("main is longer than %d commits", maxChain)
		}
		data, err := p.obj.ReadType(cur, gitobj.TypeCommit)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", cur, err)
		}
		ci, err := gitobj.ParseCommit(cur, data)
		if err != nil {
			return err
		}
		end.Chain = append(end.Chain, cur)
		if c == nil {
			c = &chunk{}
		}
		c.commits = append(c.commits, ci)
		if len(ci.Parents) == 0 {
			break
		}
		if len(c.commits) == chunkSize {
			c.parent = ci.Parents[0]
			if !send(c) {
				return ctx.Err()
			}
			c = nil
		}
		cur = ci.Parents[0]
	}
	if p.progress != nil {
		p.progress(len(end.Chain))
	}
	if c != nil {
		if last := c.commits[len(c.commits)-1]; len(last.Parents) > 0 {
			c.parent = last.Parents[0]
		}
		if !send(c) {
			return ctx.Err()
		}
	}
	return nil
}

// compare finds the merges among a chunk's commits: those whose changes/
// tree differs from their first parent's and adds ticket files.
func (w *mainWalker) compare(c *chunk) error {
	if len(c.commits) == 0 {
		return nil
	}
	var parentChanges plumbing.Hash
	if !c.parent.IsZero() {
		var err error
		if parentChanges, err = w.changesOf(c.parent); err != nil {
			return err
		}
	}
	// From the oldest commit of the chunk to the newest, each commit's
	// parent tree is the one read just before.
	merges := make([]*mergeRec, 0, len(c.commits))
	for i := len(c.commits) - 1; i >= 0; i-- {
		ci := c.commits[i]
		changes, err := w.changesTree(ci.Tree)
		if err != nil {
			return fmt.Errorf("reading the tree of %s: %w", ci.Hash, err)
		}
		if changes != parentChanges && !changes.IsZero() {
			m, err := w.merge(ci, parentChanges, changes)
			if err != nil {
				return err
			}
			if m != nil {
				merges = append(merges, m)
			}
		}
		parentChanges = changes
	}
	for i, j := 0, len(merges)-1; i < j; i, j = i+1, j-1 {
		merges[i], merges[j] = merges[j], merges[i]
	}
	c.merges = merges
	return nil
}
