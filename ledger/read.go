package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// snapshot is what a Ledger read last: the log, and how it was laid out,
// so that the next read decodes only what changed since (found by
// comparing trees, whatever the commits in between).
type snapshot struct {
	log *Log
	lo  layout
	// shards are the shards of a layout 2 ledger as listed, by name.
	shards map[string]shardListing
	// dirProblems are the entries of ledger/ that belong to no ticket
	// (layout 1), or that are not shards (layout 2).
	dirProblems []error
	// tickets are the tickets decoded, by id.
	tickets map[string]*TicketLog
}

// shardListing is one shard directory as listed.
type shardListing struct {
	tree     plumbing.Hash
	ids      []string
	problems []error
}

// decoder reads a ledger through objs, checking outcomes with v.
type decoder struct {
	objs Objects
	v    EventVerifier
}

// read returns the log at head, reading from prev (nil: nothing read yet)
// only what changed: the ticket directories whose tree differs. It
// returns the new snapshot.
func (d decoder) read(s storer.EncodedObjectStorer, head plumbing.Hash, prev *snapshot) (*snapshot, error) {
	if head.IsZero() {
		return &snapshot{log: emptyLog(head)}, nil
	}
	c, err := object.GetCommit(s, head)
	if err != nil {
		return nil, fmt.Errorf("reading ledger head %s: %w", head, err)
	}
	if prev != nil && prev.log != nil && prev.lo.root == c.TreeHash {
		out := *prev
		out.log = splice(prev.log, head, nil)
		return &out, nil
	}
	lo, err := readLayout(d.objs, c.TreeHash)
	var ce *CorruptError
	if errors.As(err, &ce) {
		lg := emptyLog(head)
		lg.Problems[""] = []error{err}
		return &snapshot{log: lg, lo: layout{root: c.TreeHash}}, nil
	}
	if err != nil {
		return nil, err
	}
	if prev == nil || prev.log == nil || prev.lo.version != 2 || lo.version != 2 || prev.lo.dir.IsZero() || lo.dir.IsZero() {
		return d.full(head, lo, prev)
	}
	return d.incremental(head, lo, prev)
}

// full lists every ticket directory and decodes those prev does not hold
// as they are.
func (d decoder) full(head plumbing.Hash, lo layout, prev *snapshot) (*snapshot, error) {
	out := &snapshot{lo: lo, tickets: map[string]*TicketLog{}}
	var dirs []TicketDir
	if !lo.dir.IsZero() && lo.version == 1 {
		var err error
		if dirs, out.dirProblems, err = listFlat(d.objs, lo.dir); err != nil {
			return nil, err
		}
	} else if !lo.dir.IsZero() {
		shards, problems, err := listShards(d.objs, lo.dir)
		if err != nil {
			return nil, err
		}
		out.dirProblems = problems
		out.shards = make(map[string]shardListing, len(shards))
		for _, sh := range shards {
			tickets, problems, err := listShard(d.objs, sh.Name, sh.Hash)
			if err != nil {
				return nil, err
			}
			sl := shardListing{tree: sh.Hash, problems: problems}
			for _, t := range tickets {
				sl.ids = append(sl.ids, t.ID)
			}
			out.shards[sh.Name] = sl
			dirs = append(dirs, tickets...)
		}
		slices.SortFunc(dirs, func(a, b TicketDir) int { return strings.Compare(a.ID, b.ID) })
	}
	var cache map[string]*TicketLog
	if prev != nil {
		cache = prev.tickets
	}
	lg := emptyLog(head)
	for _, td := range dirs {
		t := d.decode(td, cache)
		out.tickets[td.ID] = t
		addTicket(lg, t)
	}
	out.setProblems(lg)
	out.log = lg
	return out, nil
}

// incremental reads a layout 2 ledger whose ledger/ directory prev read
// in layout 2 too: only the shards whose tree changed are listed, and
// only the tickets whose tree changed are decoded; the log is prev's with
// those tickets replaced.
func (d decoder) incremental(head plumbing.Hash, lo layout, prev *snapshot) (*snapshot, error) {
	out := &snapshot{lo: lo, shards: prev.shards, dirProblems: prev.dirProblems, tickets: prev.tickets}
	changed := map[string]*TicketLog{} // nil: removed
	if lo.dir != prev.lo.dir {
		shards, problems, err := listShards(d.objs, lo.dir)
		if err != nil {
			return nil, err
		}
		out.dirProblems = problems
		out.shards = make(map[string]shardListing, len(shards))
		for _, sh := range shards {
			old, ok := prev.shards[sh.Name]
			if ok && old.tree == sh.Hash {
				out.shards[sh.Name] = old
				continue
			}
			sl := shardListing{tree: sh.Hash, ids: make([]string, 0, len(old.ids)+1)}
			sl.problems, err = scanShard(d.objs, sh.Name, sh.Hash, func(e object.TreeEntry) {
				sl.ids = append(sl.ids, e.Name)
				if t := prev.tickets[e.Name]; t != nil && t.Tree == e.Hash {
					return // unchanged: not even its path is built
				}
				changed[e.Name] = d.decode(TicketDir{ID: e.Name, Path: dir + "/" + sh.Name + "/" + e.Name, Tree: e.Hash}, prev.tickets)
			})
			if err != nil {
				return nil, err
			}
			slices.Sort(sl.ids)
			for _, id := range old.ids {
				if _, found := slices.BinarySearch(sl.ids, id); !found {
					changed[id] = nil
				}
			}
			out.shards[sh.Name] = sl
		}
		for name, old := range prev.shards {
			if _, ok := out.shards[name]; !ok {
				for _, id := range old.ids {
					changed[id] = nil
				}
			}
		}
	}
	if len(changed) > 0 {
		// prev is the Ledger's own and is replaced by out: its map is
		// taken over rather than copied (nothing can fail from here on).
		for id, t := range changed {
			if t == nil {
				delete(out.tickets, id)
			} else {
				out.tickets[id] = t
			}
		}
	}
	out.log = splice(prev.log, head, changed)
	out.setProblems(out.log)
	return out, nil
}

// decode decodes the ticket directory td, or takes it from cache when
// it holds that directory as it is.
func (d decoder) decode(td TicketDir, cache map[string]*TicketLog) *TicketLog {
	t := cache[td.ID]
	switch {
	case t == nil || t.Tree != td.Tree:
	case t.Path == td.Path:
		return t
	case len(t.Problems) == 0:
		// The same directory moved (the migration): nothing it holds
		// names its path but its problems, and it has none.
		moved := *t
		moved.Path = td.Path
		return &moved
	}
	if t != nil && t.Path == td.Path {
		return decodeTicket(d.objs, td, d.v, t) // grown: read what it added
	}
	return DecodeTicket(d.objs, td, d.v)
}

// setProblems sets the problems of the branch that belong to no ticket.
func (s *snapshot) setProblems(lg *Log) {
	problems := slices.Clone(s.dirProblems)
	for _, name := range slices.Sorted(maps.Keys(s.shards)) {
		problems = append(problems, s.shards[name].problems...)
	}
	if len(problems) > 0 {
		lg.Problems[""] = problems
	} else {
		delete(lg.Problems, "")
	}
}

// state is the TicketState the log shows for t: its replayed state, or
// StatusSetAside at its highest sequence number.
func (t *TicketLog) state() *TicketState {
	if t.SetAside() {
		seq := 0
		for _, ev := range t.Events {
			seq = max(seq, ev.Seq)
		}
		return &TicketState{Seq: seq, Status: StatusSetAside}
	}
	st := t.State
	st.Envs = maps.Clone(st.Envs)
	return &st
}
