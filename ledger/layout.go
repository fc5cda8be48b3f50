package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The layout of the ledger branch. This file is its only reader.
//
// Version 1 (a root tree without LEDGER-VERSION): the root tree of a
// ledger commit holds the directory ledger/, which holds one directory per
// ticket id, which holds the files <seq>-<kind>.json and <seq>-<kind>.dsse:
//
//	ledger/CHG-2026-0042/1-signed.json
//
// Version 2: the root tree holds the file LEDGER-VERSION ("2\n") and
// ledger/, which holds one shard directory per last two digits of the
// ticket ids (00 to 99), each holding the ticket directories of its
// tickets:
//
//	LEDGER-VERSION
//	ledger/42/CHG-2026-0042/1-signed.json
//
// Appending an event to a version 2 ledger rewrites the root, ledger/ (at
// most 100 entries), one shard (a hundredth of the tickets) and one ticket
// directory, where version 1 rewrote the directory of every ticket.

const (
	// dir is the directory of the ledger branch holding the tickets.
	dir = "ledger"
	// VersionFile is the file at the root of a ledger tree naming its
	// layout version; a tree without it is version 1.
	VersionFile = "LEDGER-VERSION"
	// Version is the layout cab writes: a new ledger starts with it, and
	// a version 1 ledger is written as version 1 until migrated (see
	// Ledger.Migrate).
	Version = 2
)

// versionContent is the content of VersionFile in a version 2 ledger.
var versionContent = []byte("2\n")

// shardOf is the shard directory of a valid ticket id: its last two digits.
func shardOf(id string) string { return id[len(id)-2:] }

// isShard reports whether name is a shard directory name (two digits).
func isShard(name string) bool {
	return len(name) == 2 && name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9'
}

// Path returns where file name (e.g. "3-applied.json"; "" for the
// directory itself) of ticket id is in a ledger of the current layout
// (Version), e.g. ledger/42/CHG-2026-0042/3-applied.json. id must be
// valid (ValidTicketID).
func Path(id, name string) string { return pathIn(Version, id, name) }

// pathIn is Path in a ledger of layout version.
func pathIn(version int, id, name string) string {
	p := dir + "/" + id
	if version >= 2 {
		p = dir + "/" + shardOf(id) + "/" + id
	}
	if name != "" {
		p += "/" + name
	}
	return p
}

// ticketOf is the ticket id of a path ledger/<id>[/...] or
// ledger/<shard>/<id>[/...] ("" for others).
func ticketOf(path string) string {
	rest, ok := strings.CutPrefix(path, dir+"/")
	if !ok {
		return ""
	}
	first, rest, _ := strings.Cut(rest, "/")
	if ValidTicketID(first) {
		return first
	}
	if !isShard(first) {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	if !ValidTicketID(id) || shardOf(id) != first {
		return ""
	}
	return id
}

// layout is what the root tree of a ledger commit says about its layout.
type layout struct {
	version int
	// root is the root tree; dir is ledger/ in it (zero: none).
	root, dir plumbing.Hash
}

// readLayout reads the root tree of a ledger commit. Content cab did not
// write there (ledger/ not a directory, an unknown version) is a
// *CorruptError.
func readLayout(objs Objects, root plumbing.Hash) (layout, error) {
	lo := layout{version: 1, root: root}
	entries, err := objs.Tree(root)
	if err != nil {
		return lo, fmt.Errorf("reading the ledger tree %s: %w", root, err)
	}
	for _, e := range entries {
		switch e.Name {
		case dir:
			if e.Mode != filemode.Dir {
				return lo, &CorruptError{Path: dir, Reason: "not a directory"}
			}
			lo.dir = e.Hash
		case VersionFile:
			if e.Mode != filemode.Regular {
				return lo, &CorruptError{Path: VersionFile, Reason: "not a regular file"}
			}
			data, err := objs.Blob(e.Hash, 64)
			if errors.Is(err, ErrTooLarge) {
				data = []byte("(too large)")
			} else if err != nil {
				return lo, fmt.Errorf("reading %s: %w", VersionFile, err)
			}
			if !bytes.Equal(data, versionContent) {
				return lo, &CorruptError{Path: VersionFile, Reason: fmt.Sprintf("layout version %q: this cab reads versions 1 and 2", bytes.TrimSpace(data))}
			}
			lo.version = 2
		}
	}
	return lo, nil
}

// TicketDir is where one ticket's entries are in a ledger tree.
type TicketDir struct {
	ID string
	// Path is the directory: ledger/42/CHG-2026-0042 (layout 2) or
	// ledger/CHG-2026-0042 (layout 1).
	Path string
	// Tree is the id of the directory's tree.
	Tree plumbing.Hash
}

// Listing is the ticket directories of the tree of a ledger commit.
type Listing struct {
	// Version is the layout read (1 or 2; 0 when it cannot be read).
	Version int
	// Root is the root tree listed: two listings of the same Root are
	// the same.
	Root plumbing.Hash
	// Tickets are sorted by ID.
	Tickets []TicketDir
	// Problems are the entries of the tree that belong to no ticket
	// (*CorruptError), or a layout that cannot be read (then Tickets is
	// empty).
	Problems []error
}

// List lists the ticket directories of the ledger commit whose root tree
// is root, in either layout. Content cab did not write is reported in
// Problems; the error is for objects that cannot be read.
func List(objs Objects, root plumbing.Hash) (*Listing, error) {
	out := &Listing{Root: root}
	lo, err := readLayout(objs, root)
	var ce *CorruptError
	if errors.As(err, &ce) {
		out.Problems = []error{err}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.Version = lo.version
	if lo.dir.IsZero() {
		return out, nil
	}
	if lo.version == 1 {
		out.Tickets, out.Problems, err = listFlat(objs, lo.dir)
		return out, err
	}
	shards, problems, err := listShards(objs, lo.dir)
	if err != nil {
		return nil, err
	}
	out.Problems = problems
	for _, sh := range shards {
		tickets, problems, err := listShard(objs, sh.Name, sh.Hash)
		if err != nil {
			return nil, err
		}
		out.Tickets = append(out.Tickets, tickets...)
		out.Problems = append(out.Problems, problems...)
	}
	slices.SortFunc(out.Tickets, func(a, b TicketDir) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// listFlat lists the ticket directories of a layout 1 ledger/ (tree h).
func listFlat(objs Objects, h plumbing.Hash) ([]TicketDir, []error, error) {
	entries, err := objs.Tree(h)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s/: %w", dir, err)
	}
	var tickets []TicketDir
	var problems []error
	for _, e := range entries {
		if !ValidTicketID(e.Name) || e.Mode != filemode.Dir {
			problems = append(problems, &CorruptError{Path: dir + "/" + e.Name, Reason: "not a ticket directory"})
			continue
		}
		tickets = append(tickets, TicketDir{ID: e.Name, Path: pathIn(1, e.Name, ""), Tree: e.Hash})
	}
	slices.SortFunc(tickets, func(a, b TicketDir) int { return strings.Compare(a.ID, b.ID) })
	return tickets, problems, nil
}

// listShards lists the shard directories of a layout 2 ledger/ (tree h),
// sorted by name; problems are the other entries.
func listShards(objs Objects, h plumbing.Hash) ([]object.TreeEntry, []error, error) {
	entries, err := objs.Tree(h)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s/: %w", dir, err)
	}
	var shards []object.TreeEntry
	var problems []error
	for _, e := range entries {
		if !isShard(e.Name) || e.Mode != filemode.Dir {
			problems = append(problems, &CorruptError{Path: dir + "/" + e.Name, Reason: "not a ticket directory"})
			continue
		}
		shards = append(shards, e)
	}
	slices.SortFunc(shards, func(a, b object.TreeEntry) int { return strings.Compare(a.Name, b.Name) })
	return shards, problems, nil
}

// listShard lists the ticket directories of shard name (tree h) of a
// layout 2 ledger, sorted by id; problems are the other entries, and
// tickets in the wrong shard.
func listShard(objs Objects, name string, h plumbing.Hash) ([]TicketDir, []error, error) {
	var tickets []TicketDir
	problems, err := scanShard(objs, name, h, func(e object.TreeEntry) {
		tickets = append(tickets, TicketDir{ID: e.Name, Path: dir + "/" + name + "/" + e.Name, Tree: e.Hash})
	})
	slices.SortFunc(tickets, func(a, b TicketDir) int { return strings.Compare(a.ID, b.ID) })
	return tickets, problems, err
}

// scanShard calls ticket with each ticket directory of shard name (tree
// h), in the tree's order, and returns the entries that are not ticket
// directories of that shard as problems.
func scanShard(objs Objects, name string, h plumbing.Hash, ticket func(object.TreeEntry)) ([]error, error) {
	entries, err := objs.Tree(h)
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s/: %w", dir, name, err)
	}
	var problems []error
	for _, e := range entries {
		switch {
		case !ValidTicketID(e.Name) || e.Mode != filemode.Dir:
			problems = append(problems, &CorruptError{Path: dir + "/" + name + "/" + e.Name, Reason: "not a ticket directory"})
		case shardOf(e.Name) != name:
			problems = append(problems, &CorruptError{Path: dir + "/" + name + "/" + e.Name, Reason: "in the wrong shard (want " + pathIn(2, e.Name, "") + ")"})
		default:
			ticket(e)
		}
	}
	return problems, nil
}
