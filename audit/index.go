package audit

import (
	"errors"
	"math"
	"os"

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
const indexVersion = 6 // 6: the ledger view's tree is the root tree of the ledger head (layout 2)

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

// encodeIndex writes idx as an index file.
func encodeIndex(idx *logIndex) []byte {
	var w logindex.Encoder
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
		w.Uvarint(uint64(tickets))
		w.Uvarint(uint64(envs))
		w.Uvarint(uint64(len(idx.merges)))
		for _, m := range idx.merges {
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
	}
	w.Str(idx.ledgerRef)
	v := idx.ledger
	if v == nil {
		v = &ledgerView{}
	}
	w.Hash(v.Head)
	w.Hash(v.Tree)
	w.Strs(v.Problems)
	w.Uvarint(uint64(len(v.Tickets)))
	for _, t := range v.Tickets {
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
	w.Uvarint(uint64(len(idx.notes)))
	for _, n := range idx.notes {
		w.Str(n.Ticket)
		w.Str(n.What)
		w.Str(n.Message)
	}

	return w.File(indexVersion)
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

// decodeRecords reads what encodeIndex wrote.
func decodeRecords(r *logindex.Decoder) (*logIndex, error) {
	idx := &logIndex{}
	idx.mainRead = r.Bool()
	if idx.mainRead {
		idx.head = r.Hash()
		idx.chain = make([]plumbing.Hash, r.Count(20))
		for i := range idx.chain {
			idx.chain[i] = r.Hash()
		}
		ticketPool := make([]ticketRec, r.Count(28))
		envPool := make([]string, r.Count(2))
		nm := r.Count(45)
		recs := make([]mergeRec, nm)
		idx.merges = make([]*mergeRec, nm)
		for i := range recs {
			m := &recs[i]
			idx.merges[i] = m
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
			if pos >= uint64(len(idx.chain)) || (i > 0 && int(pos) <= recs[i-1].pos) {
				r.Fail("merge position out of order")
			}
			m.pos = int(pos)
			nt := r.Count(28)
			if nt > len(ticketPool) {
				r.Fail("more tickets than the total")
				return nil, r.Err()
			}
			m.Tickets, ticketPool = ticketPool[:nt:nt], ticketPool[nt:]
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
					if ne > len(envPool) {
						r.Fail("more environments than the total")
						return nil, r.Err()
					}
					if ne > 0 {
						t.Environments, envPool = envPool[:ne:ne], envPool[ne:]
						for k := range t.Environments {
							t.Environments[k] = r.Str()
						}
					}
					t.Fixes = r.Strs()
					t.PostReviewOf = r.Str()
					t.Problem = r.Str()
				}
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
		t := &ledgerTicket{}
		v.Tickets[i] = t
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
		}
		if len(t.Events) == 0 {
			t.Events = nil
		}
		if r.Err() != nil {
			return nil, r.Err()
		}
		if i > 0 && v.Tickets[i-1].ID >= t.ID {
			r.Fail("ledger tickets out of order")
		}
	}
	for range r.Count(6) {
		idx.notes = append(idx.notes, Problem{Ticket: r.Str(), What: r.Str(), Message: r.Str()})
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return idx, nil
}
