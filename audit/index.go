package audit

import (
	"errors"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/audit/logindex"
	"github.com/cabhq/cab/ledger"
)

// The derived index of cab log lives in the repository's git directory,
// at cab/log-v1.idx, in the file format of package logindex; this file
// says what it records. It is a cache, never a source of truth: it records,
// for the main head it was built at, the first-parent chain, every commit
// that added tickets with what the scan found, and the ledger as last
// read; every run checks it against git (the head it describes must be on
// the first-parent chain of the revision read, or it is rebuilt) and
// brings it up to date by reading only what is newer. A corrupt,
// truncated or foreign file is ignored and rewritten.
//
// indexVersion changes whenever what the scan records changes, so that an
// older index is rebuilt.
const indexVersion = 8 // 8: a lookup section of each ticket id's and service's records (log_byid.go; 7 was that of ids only, never released)

// logIndex is the content of the index.
type logIndex struct {
	// mainRead says whether the main part below was read from disk or
	// built by this run (false: there is none).
	mainRead bool
	head     plumbing.Hash
	// chain is the first-parent chain from head, newest first.
	chain []plumbing.Hash
	// merges are the commits of chain that added tickets, newest first.
	merges []*mergeRec

	ledgerRef string
	ledger    *ledgerView
	// notes are problems seen once and reported on every run since: a
	// rewritten ledger.
	notes []Problem
}

// loadIndex reads the index; nil when there is none or it is unusable.
func (r *runner) loadIndex() *logIndex {
	data, err := os.ReadFile(logindex.Path(r.gitDir))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.log.Debug("reading the cab log index", "err", err)
		}
		r.res.Index.State = "cold"
		return nil
	}
	idx, err := decodeIndex(data)
	if err != nil {
		r.log.Debug("ignoring the cab log index", "path", logindex.Path(r.gitDir), "err", err)
		r.res.Index.State = "cold"
		return nil
	}
	return idx
}

// saveIndex writes the index atomically (logindex.Write).
func (r *runner) saveIndex() error {
	return logindex.Write(r.gitDir, encodeIndex(r.idx))
}

// encodeIndex writes idx as an index file: the records (main, then the
// ledger view, then the notes) and, after them, a lookup section saying
// where the records of each ticket id and service are (log_byid.go reads
// it to answer a question naming its tickets or services without decoding
// the rest). Layout 7:
//
//	uint32 offset of the lookup section
//	bool mainRead; [head, chain, totals, merges]
//	ledger ref, head, tree, problems, tickets
//	notes
//	lookup: merged, ledger offset, notes offset, repository,
//	        offsets of the ledger tickets with problems,
//	        n, n uint32 offsets of the id entries (by id, ascending),
//	        m, m uint32 offsets of the service entries (ascending),
//	        id entries: id, offsets of its merges (newest first),
//	                    offset of its ledger ticket (0: none)
//	        service entries: service, offsets of its merges (newest first)
func encodeIndex(idx *logIndex) []byte {
	var w logindex.Encoder
	w.Uint32(0) // the lookup section's offset, filled in below
	byID := map[string]*lookupEntry{}
	entry := func(id string) *lookupEntry {
		e := byID[id]
		if e == nil {
			e = &lookupEntry{id: id}
			byID[id] = e
		}
		return e
	}
	bySvc := map[string][]int{}
	merged := 0
	w.Bool(idx.mainRead)
	if idx.mainRead {
		w.Hash(idx.head)
		w.Uvarint(uint64(len(idx.chain)))
		for _, h := range idx.chain {
			w.Hash(h)
		}
		// Totals first, so that decoding allocates the tickets and their
		// environments once for all merges.
		tickets, envs := 0, 0
		for _, m := range idx.merges {
			tickets += len(m.Tickets)
			for i := range m.Tickets {
				envs += len(m.Tickets[i].Environments)
			}
		}
		merged = tickets
		w.Uvarint(uint64(tickets))
		w.Uvarint(uint64(envs))
		w.Uvarint(uint64(len(idx.merges)))
		for _, m := range idx.merges {
			off := w.Len()
			for i := range m.Tickets {
				if e := entry(m.Tickets[i].ID); !slices.Contains(e.merges, off) {
					e.merges = append(e.merges, off)
				}
				svc := m.Tickets[i].Service
				if offs := bySvc[svc]; len(offs) == 0 || offs[len(offs)-1] != off {
					bySvc[svc] = append(offs, off)
				}
			}
			encodeMerge(&w, m)
		}
	}
	ledgerAt := w.Len()
	w.Str(idx.ledgerRef)
	v := idx.ledger
	if v == nil {
		v = &ledgerView{}
	}
	w.Hash(v.Head)
	w.Hash(v.Tree)
	w.Strs(v.Problems)
	w.Uvarint(uint64(len(v.Tickets)))
	var problems []int
	for _, t := range v.Tickets {
		off := w.Len()
		entry(t.ID).ledger = off
		if len(t.Problems) > 0 {
			problems = append(problems, off)
		}
		encodeLedgerTicket(&w, t)
	}
	notesAt := w.Len()
	w.Uvarint(uint64(len(idx.notes)))
	for _, n := range idx.notes {
		w.Str(n.Ticket)
		w.Str(n.What)
		w.Str(n.Message)
	}

	// The lookup section. Its entries take less than four times the bytes
	// of the records they point at (an id or a service is in a ticket
	// record of at least 28 bytes, an id maybe in a ledger ticket of 24
	// instead; each entry takes at most 4+10+10+5 bytes and 5 per merge),
	// so every offset fits the 4 bytes of the tables when the records take
	// less than a fifth of 4 GiB; a larger index has no lookup section
	// (offset 0) and is read whole.
	lookupAt := w.Len()
	if lookupAt > math.MaxUint32/5 {
		return w.File(indexVersion)
	}
	w.SetUint32(0, uint32(lookupAt))
	w.Uvarint(uint64(merged))
	w.Uvarint(uint64(ledgerAt))
	w.Uvarint(uint64(notesAt))
	w.Str(repositoryOf(v))
	w.Uvarint(uint64(len(problems)))
	for _, off := range problems {
		w.Uvarint(uint64(off))
	}
	ids := slices.Sorted(maps.Keys(byID))
	svcs := slices.Sorted(maps.Keys(bySvc))
	w.Uvarint(uint64(len(ids)))
	idTable := w.Len()
	for range ids {
		w.Uint32(0)
	}
	w.Uvarint(uint64(len(svcs)))
	svcTable := w.Len()
	for range svcs {
		w.Uint32(0)
	}
	for i, id := range ids {
		w.SetUint32(idTable+4*i, uint32(w.Len()))
		e := byID[id]
		w.Str(id)
		w.Uvarint(uint64(len(e.merges)))
		for _, off := range e.merges {
			w.Uvarint(uint64(off))
		}
		w.Uvarint(uint64(e.ledger))
	}
	for i, svc := range svcs {
		w.SetUint32(svcTable+4*i, uint32(w.Len()))
		w.Str(svc)
		w.Uvarint(uint64(len(bySvc[svc])))
		for _, off := range bySvc[svc] {
			w.Uvarint(uint64(off))
		}
	}
	return w.File(indexVersion)
}

// lookupEntry is what the lookup section records of one ticket id: the
// offsets of the merges that added it and of its ledger ticket (0: none).
type lookupEntry struct {
	id     string
	merges []int
	ledger int
}

// repositoryOf is the forge repository the signed predicates of v name:
// the first one, by ticket and sequence ("" when none).
func repositoryOf(v *ledgerView) string {
	for _, t := range v.Tickets {
		for _, ev := range t.Events {
			if ev.Signed != nil && ev.Signed.Repository != "" {
				return ev.Signed.Repository
			}
		}
	}
	return ""
}

// encodeMerge writes one merge record.
func encodeMerge(w *logindex.Encoder, m *mergeRec) {
	w.Hash(m.Commit)
	w.Hash(m.Parent)
	w.Time(m.Time)
	w.Str(m.Author)
	w.Uvarint(uint64(m.PR))
	w.Bool(m.OpenedKnown)
	w.Time(m.Opened)
	w.Uvarint(uint64(m.pos))
	w.Uvarint(uint64(len(m.Tickets)))
	for i := range m.Tickets {
		t := &m.Tickets[i]
		w.Str(t.Path)
		w.Uvarint(uint64(t.Mode))
		w.Hash(t.Blob)
		w.Str(t.ID)
		w.Str(t.Service)
		w.Bool(t.MetaRead)
		if t.MetaRead {
			w.Str(t.Title)
			w.Str(t.Kind)
			w.Str(t.Risk)
			w.Str(t.Owner)
			w.Strs(t.Environments)
			w.Strs(t.Fixes)
			w.Str(t.PostReviewOf)
			w.Str(t.Problem)
		}
	}
}

// encodeLedgerTicket writes one ticket of the ledger view.
func encodeLedgerTicket(w *logindex.Encoder, t *ledgerTicket) {
	w.Str(t.ID)
	w.Hash(t.Tree)
	w.Strs(t.Problems)
	w.Uvarint(uint64(len(t.Events)))
	for _, ev := range t.Events {
		w.Uvarint(uint64(ev.Seq))
		w.Str(ev.Kind)
		w.Str(ev.Env)
		w.Time(ev.At)
		w.Str(ev.Actor)
		w.Str(ev.Commit)
		w.Str(ev.Reason)
		w.Str(ev.Cause)
		w.Bool(ev.BurnRate != nil)
		if b := ev.BurnRate; b != nil {
			w.Uvarint(math.Float64bits(b.Value))
			w.Str(b.Query)
			w.Str(b.Server)
			w.Time(b.At)
		}
		w.Bool(ev.Signed != nil)
		if s := ev.Signed; s != nil {
			w.Uvarint(uint64(s.PR))
			w.Str(s.Author)
			w.Str(s.Merger)
			w.Uvarint(uint64(len(s.Approvals)))
			for _, a := range s.Approvals {
				w.Str(a.ID)
				w.Str(a.Login)
				w.Time(a.At)
			}
			w.Time(s.SignedAt)
			w.Str(s.Repository)
			w.Strs(s.Environments)
			w.Str(s.KeyID)
		}
	}
}

// decodeIndex reads an index file.
func decodeIndex(data []byte) (*logIndex, error) {
	r, err := logindex.Open(data, indexVersion)
	if err != nil {
		return nil, err
	}
	return decodeRecords(r)
}

// decodeIndexBody decodes what follows the magic, up to the checksum.
func decodeIndexBody(body []byte) (*logIndex, error) {
	r, err := logindex.OpenBody(body, indexVersion)
	if err != nil {
		return nil, err
	}
	return decodeRecords(r)
}

// decodeRecords reads what encodeIndex wrote: the records, up to the
// lookup section, which a whole index does not need (log_byid.go reads
// it; VerifyIndex checks it is the one the records give).
func decodeRecords(r *logindex.Decoder) (*logIndex, error) {
	lookupAt := r.Uint32()
	if lookupAt != 0 {
		r.Upto(uint64(lookupAt))
	}
	idx := &logIndex{}
	idx.mainRead = r.Bool()
	if idx.mainRead {
		idx.head = r.Hash()
		idx.chain = make([]plumbing.Hash, r.Count(20))
		for i := range idx.chain {
			idx.chain[i] = r.Hash()
		}
		p := &decodePools{tickets: make([]ticketRec, r.Count(28)), envs: make([]string, r.Count(2))}
		nm := r.Count(45)
		recs := make([]mergeRec, nm)
		idx.merges = make([]*mergeRec, nm)
		for i := range recs {
			m := &recs[i]
			idx.merges[i] = m
			decodeMerge(r, m, p)
			if m.pos >= len(idx.chain) || (i > 0 && m.pos <= recs[i-1].pos) {
				r.Fail("merge position out of order")
			}
			if r.Err() != nil {
				return nil, r.Err()
			}
		}
		if len(idx.chain) == 0 || idx.chain[0] != idx.head {
			r.Fail("chain does not start at the head")
		}
	}
	idx.ledgerRef = r.Str()
	v := &ledgerView{}
	idx.ledger = v
	v.Head = r.Hash()
	v.Tree = r.Hash()
	v.Problems = r.Strs()
	v.Tickets = make([]*ledgerTicket, r.Count(24))
	for i := range v.Tickets {
		t := decodeLedgerTicket(r)
		v.Tickets[i] = t
		if r.Err() != nil {
			return nil, r.Err()
		}
		if i > 0 && v.Tickets[i-1].ID >= t.ID {
			r.Fail("ledger tickets out of order")
		}
	}
	idx.notes = decodeNotes(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return idx, nil
}

// decodePools are the tickets and environments of every merge, allocated
// once when a whole index is decoded; nil pools: each merge allocates its
// own.
type decodePools struct {
	tickets []ticketRec
	envs    []string
}

// carve returns n elements cut from the front of *pool, or new ones when
// pool is nil (no pools); false when the pool holds fewer than n.
func carve[T any](pool *[]T, n int) ([]T, bool) {
	if pool == nil {
		return make([]T, n), true
	}
	if n > len(*pool) {
		return nil, false
	}
	s := (*pool)[:n:n]
	*pool = (*pool)[n:]
	return s, true
}

// decodeMerge reads what encodeMerge wrote into m.
func decodeMerge(r *logindex.Decoder, m *mergeRec, p *decodePools) {
	m.Commit = r.Hash()
	m.Parent = r.Hash()
	m.Time = r.Time()
	m.Author = r.Str()
	pr := r.Uvarint()
	if pr > math.MaxInt64 {
		r.Fail("bad pull request number")
	}
	m.PR = int64(pr)
	m.OpenedKnown = r.Bool()
	m.Opened = r.Time()
	pos := r.Uvarint()
	if pos > maxChain {
		r.Fail("merge position out of range")
		return
	}
	m.pos = int(pos)
	var (
		ticketPool *[]ticketRec
		envPool    *[]string
		ok         bool
	)
	if p != nil {
		ticketPool, envPool = &p.tickets, &p.envs
	}
	nt := r.Count(28)
	if m.Tickets, ok = carve(ticketPool, nt); !ok {
		r.Fail("more tickets than the total")
		return
	}
	for j := range m.Tickets {
		t := &m.Tickets[j]
		t.Path = r.Str()
		mode := r.Uvarint()
		if mode > math.MaxUint32 {
			r.Fail("bad mode")
		}
		t.Mode = uint32(mode)
		t.Blob = r.Hash()
		t.ID = r.Str()
		t.Service = r.Str()
		t.MetaRead = r.Bool()
		if t.MetaRead {
			t.Title = r.Str()
			t.Kind = r.Str()
			t.Risk = r.Str()
			t.Owner = r.Str()
			ne := r.Count(2)
			if ne > 0 {
				if t.Environments, ok = carve(envPool, ne); !ok {
					r.Fail("more environments than the total")
					return
				}
				for k := range t.Environments {
					t.Environments[k] = r.Str()
				}
			}
			t.Fixes = r.Strs()
			t.PostReviewOf = r.Str()
			t.Problem = r.Str()
		}
		if r.Err() != nil {
			return
		}
	}
}

// decodeLedgerTicket reads what encodeLedgerTicket wrote.
func decodeLedgerTicket(r *logindex.Decoder) *ledgerTicket {
	t := &ledgerTicket{}
	t.ID = r.Str()
	t.Tree = r.Hash()
	t.Problems = r.Strs()
	t.Events = make([]ledgerEvent, r.Count(10))
	for j := range t.Events {
		ev := &t.Events[j]
		seq := r.Uvarint()
		if seq > math.MaxInt32 {
			r.Fail("bad sequence number")
		}
		ev.Seq = int(seq)
		ev.Kind = r.Str()
		ev.Env = r.Str()
		ev.At = r.Time()
		ev.Actor = r.Str()
		ev.Commit = r.Str()
		ev.Reason = r.Str()
		ev.Cause = r.Str()
		if r.Bool() {
			b := &ledger.BurnRate{Value: math.Float64frombits(r.Uvarint())}
			b.Query = r.Str()
			b.Server = r.Str()
			b.At = r.Time()
			ev.BurnRate = b
		}
		if r.Bool() {
			s := &signedInfo{}
			ev.Signed = s
			pr := r.Uvarint()
			if pr > math.MaxInt64 {
				r.Fail("bad pull request number")
			}
			s.PR = int64(pr)
			s.Author = r.Str()
			s.Merger = r.Str()
			s.Approvals = make([]approval, r.Count(5))
			for k := range s.Approvals {
				s.Approvals[k] = approval{ID: r.Str(), Login: r.Str(), At: r.Time()}
			}
			if len(s.Approvals) == 0 {
				s.Approvals = nil
			}
			s.SignedAt = r.Time()
			s.Repository = r.Str()
			s.Environments = r.Strs()
			s.KeyID = r.Str()
		}
		if r.Err() != nil {
			break
		}
	}
	if len(t.Events) == 0 {
		t.Events = nil
	}
	return t
}

// decodeNotes reads the notes encodeIndex wrote.
func decodeNotes(r *logindex.Decoder) []Problem {
	var notes []Problem
	for range r.Count(6) {
		notes = append(notes, Problem{Ticket: r.Str(), What: r.Str(), Message: r.Str()})
	}
	return notes
}
