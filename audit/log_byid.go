package audit

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/audit/logindex"
	"github.com/cabhq/cab/internal/gitobj"
)

// A question naming its tickets exactly (cab log --id X) is answered from
// an index that is up to date without decoding all of it: the index's
// lookup section (index.go) says where the records of each ticket id are,
// and only those are decoded, with the ledger tickets that have problems
// (every run reports them) and the notes. The rows are the ones a warm run
// of the whole index emits: the same merge records, ticket records and
// ledger tickets, through the same emitMerge. Whenever that cannot be
// promised cheaply (no index, another version, a main head or ledger
// head other than the index's, a ledger commit whose tree is not the one
// the index read, a ticket whose metadata the index does not hold, any
// offset or record that does not decode, a pattern among the ids,
// OpenedAt), the whole index is read as before.
//
// Trust: nothing here is trusted that the whole-index run did not trust.
// The index is a cache under .git/cab/ checked by its CRC-32C, and the
// lookup section is derived from the records in the same file; a lookup
// section that disagrees with its records (which only a hand-made file
// with a matching checksum can hold) is what cab log --verify-index
// reports, as it reports records that disagree with git.

// exact returns the values of a filter list when it names them exactly
// (no pattern), sorted and distinct; nil otherwise.
func exact(values []string) []string {
	var out []string
	for _, v := range values {
		if isPattern(v) {
			return nil
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// byID answers the run's question from the lookup section of a warm index
// (see above). It reports false, having emitted nothing, when the index
// cannot answer it that way.
func (r *runner) byID(head plumbing.Hash, ledgerRef plumbing.ReferenceName, ledgerHead plumbing.Hash, row rowFunc) (bool, error) {
	if r.o.Index != IndexUse || r.o.OpenedAt || r.o.atMain != nil || r.o.atLedger != nil || head.IsZero() {
		return false, nil
	}
	ids, services := exact(r.o.Filter.IDs), exact(r.o.Filter.Services)
	if len(ids) == 0 && len(services) == 0 {
		return false, nil
	}
	data, err := os.ReadFile(logindex.Path(r.gitDir))
	if err != nil {
		return false, nil // the whole-index path reports it
	}
	d, err := logindex.Open(data, indexVersion)
	if err != nil {
		return false, nil
	}
	lk, err := lookupIndex(d, ids, services, &r.o.Filter)
	if err != nil {
		r.log.Debug("ignoring the cab log index's lookup section", "err", err)
		return false, nil
	}
	if lk == nil || lk.head != head || lk.ledgerRef != ledgerRef.String() || lk.ledger.Head != ledgerHead {
		return false, nil
	}
	if !ledgerHead.IsZero() {
		// The ledger view the index holds is the ledger's at that head
		// only if it was read from that head's tree (readLedger checks
		// the same).
		data, err := r.obj.ReadType(ledgerHead, gitobj.TypeCommit)
		if err != nil {
			return false, nil
		}
		c, err := gitobj.ParseCommit(ledgerHead, data)
		if err != nil || c.Tree != lk.ledger.Tree {
			return false, nil
		}
	}
	r.res.Index.State, r.res.Index.Lookup = "warm", true
	r.res.Merged = lk.merged
	r.idx = &logIndex{mainRead: true, head: head, ledgerRef: ledgerRef.String(), ledger: lk.ledger, notes: lk.notes}
	r.ledger, r.repository = lk.ledger, lk.repository
	merges := lk.merges
	if r.o.Reverse {
		slices.Reverse(merges)
	}
	for _, m := range merges {
		if err := r.emitMerge(m, row); err != nil {
			return true, err
		}
	}
	return true, nil
}

// lookedUp is what byID needs of an index.
type lookedUp struct {
	// head is the main head the index describes; ledgerRef the ref its
	// ledger view was read from.
	head      plumbing.Hash
	ledgerRef string
	merged    int
	merges    []*mergeRec // newest first
	// ledger is the view's head, tree and problems, with the tickets asked
	// about and those with problems.
	ledger     *ledgerView
	repository string
	notes      []Problem
}

// lookupIndex reads from index body d the records of ids (or, when there
// are none, of services): the merges that added a ticket of one of them,
// the ledger tickets of the tickets f selects there, and what every run
// reports (the ledger tickets with problems, the notes). nil, nil when the
// index has no lookup section or no main part, or holds a ticket f
// selects without its metadata.
func lookupIndex(d *logindex.Decoder, ids, services []string, f *Filter) (*lookedUp, error) {
	lookupAt := d.Uint32()
	mainRead := d.Bool()
	out := &lookedUp{head: d.Hash()}
	if err := d.Err(); err != nil {
		return nil, err
	}
	if lookupAt == 0 || !mainRead {
		return nil, nil
	}
	l := d.At(uint64(lookupAt))
	out.merged = l.Count(1)
	ledgerAt, notesAt := l.Uvarint(), l.Uvarint()
	out.repository = l.Str()
	np := l.Count(1)
	ledgerOffs := make([]uint64, 0, np+len(ids))
	for range np {
		ledgerOffs = append(ledgerOffs, l.Uvarint())
	}
	n := l.Count(4)
	idTable := l.Offset()
	l = l.At(uint64(idTable + 4*n))
	m := l.Count(4)
	svcTable := l.Offset()
	if err := l.Err(); err != nil {
		return nil, err
	}
	ld := d.At(ledgerAt)
	v := &ledgerView{}
	out.ledgerRef = ld.Str()
	v.Head, v.Tree = ld.Hash(), ld.Hash()
	v.Problems = ld.Strs()
	if err := ld.Err(); err != nil {
		return nil, err
	}
	nd := d.At(notesAt)
	out.notes = decodeNotes(&nd)
	if err := nd.Err(); err != nil {
		return nil, err
	}

	// Each id's or service's entry, by binary search over the table of
	// entry offsets.
	var mergeOffs []uint64
	keys, table, nk := ids, idTable, n
	if len(ids) == 0 {
		keys, table, nk = services, svcTable, m
	}
	for _, k := range keys {
		e, found, err := findEntry(d, table, nk, k)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		for range e.Count(1) {
			mergeOffs = append(mergeOffs, e.Uvarint())
		}
		if len(ids) > 0 {
			if off := e.Uvarint(); off != 0 {
				ledgerOffs = append(ledgerOffs, off)
			}
		}
		if err := e.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(mergeOffs)
	for _, off := range slices.Compact(mergeOffs) {
		md := d.At(off)
		m := &mergeRec{}
		decodeMerge(&md, m, nil)
		if err := md.Err(); err != nil {
			return nil, err
		}
		for i := range m.Tickets {
			t := &m.Tickets[i]
			if !f.matchPath(t) {
				continue
			}
			if !t.MetaRead {
				return nil, nil // the whole-index run reads it and keeps it
			}
			if len(ids) == 0 {
				// The ledger ticket of a ticket of the service.
				e, found, err := findEntry(d, idTable, n, t.ID)
				if err != nil {
					return nil, err
				}
				if !found {
					return nil, errors.New("a ticket without an entry")
				}
				for range e.Count(1) {
					e.Uvarint()
				}
				if off := e.Uvarint(); off != 0 {
					ledgerOffs = append(ledgerOffs, off)
				}
				if err := e.Err(); err != nil {
					return nil, err
				}
			}
		}
		out.merges = append(out.merges, m)
	}
	slices.Sort(ledgerOffs)
	for _, off := range slices.Compact(ledgerOffs) {
		td := d.At(off)
		t := decodeLedgerTicket(&td)
		if err := td.Err(); err != nil {
			return nil, err
		}
		v.Tickets = append(v.Tickets, t)
	}
	// Offsets ascend as the tickets do; a lookup section that says
	// otherwise is not used.
	for i := 1; i < len(v.Tickets); i++ {
		if v.Tickets[i-1].ID >= v.Tickets[i].ID {
			return nil, errors.New("ledger tickets out of order")
		}
	}
	out.ledger = v
	return out, nil
}

// findEntry returns a Decoder positioned after the id of the entry of id
// in the lookup table of n entries at body offset table.
func findEntry(d *logindex.Decoder, table, n int, id string) (logindex.Decoder, bool, error) {
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		td := d.At(uint64(table + 4*mid))
		off := td.Uint32()
		if err := td.Err(); err != nil {
			return logindex.Decoder{}, false, err
		}
		e := d.At(uint64(off))
		got := e.Str()
		if err := e.Err(); err != nil {
			return logindex.Decoder{}, false, err
		}
		switch c := strings.Compare(got, id); {
		case c == 0:
			return e, true, nil
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return logindex.Decoder{}, false, nil
}
