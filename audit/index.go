package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/ledger"
)

// The derived index of cab log lives in the repository's git directory,
// at cab/log-v1.idx. It is a cache, never a source of truth: it records,
// for the main head it was built at, the first-parent chain, every commit
// that added tickets with what the scan found, and the ledger as last
// read; every run checks it against git (the head it describes must be on
// the first-parent chain of the revision read, or it is rebuilt) and
// brings it up to date by reading only what is newer. A corrupt,
// truncated or foreign file is ignored and rewritten.
const (
	indexDir  = "cab"
	indexFile = "log-v1.idx"
	// indexMagic starts the file; indexVersion changes whenever what the
	// scan records changes, so that an older index is rebuilt.
	indexMagic   = "CABLOGIX"
	indexVersion = 6 // 6: the ledger view's tree is the root tree of the ledger head (layout 2)
)

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

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// indexPath is where the index of the repository whose git directory is
// gitDir lives.
func indexPath(gitDir string) string { return filepath.Join(gitDir, indexDir, indexFile) }

// loadIndex reads the index; nil when there is none or it is unusable.
func (r *runner) loadIndex() *logIndex {
	data, err := os.ReadFile(indexPath(r.gitDir))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.log.Debug("reading the cab log index", "err", err)
		}
		r.res.Index.State = "cold"
		return nil
	}
	idx, err := decodeIndex(data)
	if err != nil {
		r.log.Debug("ignoring the cab log index", "path", indexPath(r.gitDir), "err", err)
		r.res.Index.State = "cold"
		return nil
	}
	return idx
}

// saveIndex writes the index atomically: a temporary file renamed over
// the old one, so that a reader sees the old or the new index, whole.
func (r *runner) saveIndex() error {
	data := encodeIndex(r.idx)
	dir := filepath.Join(r.gitDir, indexDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, indexFile+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), indexPath(r.gitDir)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// indexWriter encodes the index: varints, 20-byte hashes, and strings as
// references into one table of distinct strings, written first so that
// decoding allocates it once.
type indexWriter struct {
	body    []byte
	strs    []byte
	offsets map[string]int
}

func (w *indexWriter) uvarint(v uint64) { w.body = binary.AppendUvarint(w.body, v) }
func (w *indexWriter) varint(v int64)   { w.body = binary.AppendVarint(w.body, v) }
func (w *indexWriter) hash(h plumbing.Hash) {
	w.body = append(w.body, h[:]...)
}
func (w *indexWriter) bool(b bool) {
	if b {
		w.body = append(w.body, 1)
	} else {
		w.body = append(w.body, 0)
	}
}
func (w *indexWriter) time(t time.Time) {
	if t.IsZero() {
		w.bool(false)
		return
	}
	w.bool(true)
	w.varint(t.Unix())
	w.uvarint(uint64(t.Nanosecond()))
}
func (w *indexWriter) str(s string) {
	off, ok := w.offsets[s]
	if !ok {
		off = len(w.strs)
		w.strs = append(w.strs, s...)
		w.offsets[s] = off
	}
	w.uvarint(uint64(off))
	w.uvarint(uint64(len(s)))
}
func (w *indexWriter) strList(ss []string) {
	w.uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func encodeIndex(idx *logIndex) []byte {
	w := &indexWriter{offsets: map[string]int{}}
	w.bool(idx.mainRead)
	if idx.mainRead {
		w.hash(idx.head)
		w.uvarint(uint64(len(idx.chain)))
		for _, h := range idx.chain {
			w.hash(h)
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
		w.uvarint(uint64(tickets))
		w.uvarint(uint64(envs))
		w.uvarint(uint64(len(idx.merges)))
		for _, m := range idx.merges {
			w.hash(m.Commit)
			w.hash(m.Parent)
			w.time(m.Time)
			w.str(m.Author)
			w.uvarint(uint64(m.PR))
			w.bool(m.OpenedKnown)
			w.time(m.Opened)
			w.uvarint(uint64(m.pos))
			w.uvarint(uint64(len(m.Tickets)))
			for i := range m.Tickets {
				t := &m.Tickets[i]
				w.str(t.Path)
				w.uvarint(uint64(t.Mode))
				w.hash(t.Blob)
				w.str(t.ID)
				w.str(t.Service)
				w.bool(t.MetaRead)
				if t.MetaRead {
					w.str(t.Title)
					w.str(t.Kind)
					w.str(t.Risk)
					w.str(t.Owner)
					w.strList(t.Environments)
					w.strList(t.Fixes)
					w.str(t.PostReviewOf)
					w.str(t.Problem)
				}
			}
		}
	}
	w.str(idx.ledgerRef)
	v := idx.ledger
	if v == nil {
		v = &ledgerView{}
	}
	w.hash(v.Head)
	w.hash(v.Tree)
	w.strList(v.Problems)
	w.uvarint(uint64(len(v.Tickets)))
	for _, t := range v.Tickets {
		w.str(t.ID)
		w.hash(t.Tree)
		w.strList(t.Problems)
		w.uvarint(uint64(len(t.Events)))
		for _, ev := range t.Events {
			w.uvarint(uint64(ev.Seq))
			w.str(ev.Kind)
			w.str(ev.Env)
			w.time(ev.At)
			w.str(ev.Actor)
			w.str(ev.Commit)
			w.str(ev.Reason)
			w.str(ev.Cause)
			w.bool(ev.BurnRate != nil)
			if b := ev.BurnRate; b != nil {
				w.uvarint(math.Float64bits(b.Value))
				w.str(b.Query)
				w.str(b.Server)
				w.time(b.At)
			}
			w.bool(ev.Signed != nil)
			if s := ev.Signed; s != nil {
				w.uvarint(uint64(s.PR))
				w.str(s.Author)
				w.str(s.Merger)
				w.uvarint(uint64(len(s.Approvals)))
				for _, a := range s.Approvals {
					w.str(a.ID)
					w.str(a.Login)
					w.time(a.At)
				}
				w.time(s.SignedAt)
				w.str(s.Repository)
				w.strList(s.Environments)
				w.str(s.KeyID)
			}
		}
	}
	w.uvarint(uint64(len(idx.notes)))
	for _, n := range idx.notes {
		w.str(n.Ticket)
		w.str(n.What)
		w.str(n.Message)
	}

	out := make([]byte, 0, len(indexMagic)+16+len(w.strs)+len(w.body)+4)
	out = append(out, indexMagic...)
	out = binary.AppendUvarint(out, indexVersion)
	out = binary.AppendUvarint(out, uint64(len(w.strs)))
	out = append(out, w.strs...)
	out = append(out, w.body...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crcTable))
}

// errCorruptIndex is wrapped by every decoding error.
var errCorruptIndex = errors.New("corrupt cab log index")

// indexReader decodes what indexWriter wrote, failing (sticky) on the
// first malformed value.
type indexReader struct {
	b    []byte
	strs string
	err  error
}

func (r *indexReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorruptIndex, what)
	}
}

func (r *indexReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *indexReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length, refusing one larger than the bytes left could
// hold (each element takes at least min bytes).
func (r *indexReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.fail("count out of range")
		return 0
	}
	return int(n)
}

func (r *indexReader) hash() plumbing.Hash {
	var h plumbing.Hash
	if r.err != nil {
		return h
	}
	if len(r.b) < len(h) {
		r.fail("truncated hash")
		return h
	}
	copy(h[:], r.b)
	r.b = r.b[len(h):]
	return h
}

func (r *indexReader) bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) == 0 || r.b[0] > 1 {
		r.fail("bad flag")
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *indexReader) time() time.Time {
	if !r.bool() {
		return time.Time{}
	}
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= 1e9 {
		r.fail("bad time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *indexReader) str() string {
	off, n := r.uvarint(), r.uvarint()
	if r.err != nil {
		return ""
	}
	if off > uint64(len(r.strs)) || n > uint64(len(r.strs))-off {
		r.fail("string out of range")
		return ""
	}
	return r.strs[off : off+n]
}

func (r *indexReader) strList() []string {
	n := r.count(2)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func decodeIndex(data []byte) (*logIndex, error) {
	if len(data) < len(indexMagic)+4 || !bytes.HasPrefix(data, []byte(indexMagic)) {
		return nil, fmt.Errorf("%w: not a cab log index", errCorruptIndex)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorruptIndex)
	}
	return decodeIndexBody(body[len(indexMagic):])
}

// decodeIndexBody decodes what follows the magic, up to the checksum.
func decodeIndexBody(body []byte) (*logIndex, error) {
	r := &indexReader{b: body}
	if v := r.uvarint(); v != indexVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errCorruptIndex, v, indexVersion)
	}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: bad string table", errCorruptIndex)
	}
	r.strs, r.b = string(r.b[:n]), r.b[n:]

	idx := &logIndex{}
	idx.mainRead = r.bool()
	if idx.mainRead {
		idx.head = r.hash()
		idx.chain = make([]plumbing.Hash, r.count(20))
		for i := range idx.chain {
			idx.chain[i] = r.hash()
		}
		ticketPool := make([]ticketRec, r.count(28))
		envPool := make([]string, r.count(2))
		nm := r.count(45)
		recs := make([]mergeRec, nm)
		idx.merges = make([]*mergeRec, nm)
		for i := range recs {
			m := &recs[i]
			idx.merges[i] = m
			m.Commit = r.hash()
			m.Parent = r.hash()
			m.Time = r.time()
			m.Author = r.str()
			pr := r.uvarint()
			if pr > math.MaxInt64 {
				r.fail("bad pull request number")
			}
			m.PR = int64(pr)
			m.OpenedKnown = r.bool()
			m.Opened = r.time()
			pos := r.uvarint()
			if pos >= uint64(len(idx.chain)) || (i > 0 && int(pos) <= recs[i-1].pos) {
				r.fail("merge position out of order")
			}
			m.pos = int(pos)
			nt := r.count(28)
			if nt > len(ticketPool) {
				r.fail("more tickets than the total")
				return nil, r.err
			}
			m.Tickets, ticketPool = ticketPool[:nt:nt], ticketPool[nt:]
			for j := range m.Tickets {
				t := &m.Tickets[j]
				t.Path = r.str()
				mode := r.uvarint()
				if mode > math.MaxUint32 {
					r.fail("bad mode")
				}
				t.Mode = uint32(mode)
				t.Blob = r.hash()
				t.ID = r.str()
				t.Service = r.str()
				t.MetaRead = r.bool()
				if t.MetaRead {
					t.Title = r.str()
					t.Kind = r.str()
					t.Risk = r.str()
					t.Owner = r.str()
					ne := r.count(2)
					if ne > len(envPool) {
						r.fail("more environments than the total")
						return nil, r.err
					}
					if ne > 0 {
						t.Environments, envPool = envPool[:ne:ne], envPool[ne:]
						for k := range t.Environments {
							t.Environments[k] = r.str()
						}
					}
					t.Fixes = r.strList()
					t.PostReviewOf = r.str()
					t.Problem = r.str()
				}
			}
			if r.err != nil {
				return nil, r.err
			}
		}
		if len(idx.chain) == 0 || idx.chain[0] != idx.head {
			r.fail("chain does not start at the head")
		}
	}
	idx.ledgerRef = r.str()
	v := &ledgerView{}
	idx.ledger = v
	v.Head = r.hash()
	v.Tree = r.hash()
	v.Problems = r.strList()
	v.Tickets = make([]*ledgerTicket, r.count(24))
	for i := range v.Tickets {
		t := &ledgerTicket{}
		v.Tickets[i] = t
		t.ID = r.str()
		t.Tree = r.hash()
		t.Problems = r.strList()
		t.Events = make([]ledgerEvent, r.count(10))
		for j := range t.Events {
			ev := &t.Events[j]
			seq := r.uvarint()
			if seq > math.MaxInt32 {
				r.fail("bad sequence number")
			}
			ev.Seq = int(seq)
			ev.Kind = r.str()
			ev.Env = r.str()
			ev.At = r.time()
			ev.Actor = r.str()
			ev.Commit = r.str()
			ev.Reason = r.str()
			ev.Cause = r.str()
			if r.bool() {
				b := &ledger.BurnRate{Value: math.Float64frombits(r.uvarint())}
				b.Query = r.str()
				b.Server = r.str()
				b.At = r.time()
				ev.BurnRate = b
			}
			if r.bool() {
				s := &signedInfo{}
				ev.Signed = s
				pr := r.uvarint()
				if pr > math.MaxInt64 {
					r.fail("bad pull request number")
				}
				s.PR = int64(pr)
				s.Author = r.str()
				s.Merger = r.str()
				s.Approvals = make([]approval, r.count(5))
				for k := range s.Approvals {
					s.Approvals[k] = approval{ID: r.str(), Login: r.str(), At: r.time()}
				}
				if len(s.Approvals) == 0 {
					s.Approvals = nil
				}
				s.SignedAt = r.time()
				s.Repository = r.str()
				s.Environments = r.strList()
				s.KeyID = r.str()
			}
		}
		if len(t.Events) == 0 {
			t.Events = nil
		}
		if r.err != nil {
			return nil, r.err
		}
		if i > 0 && v.Tickets[i-1].ID >= t.ID {
			r.fail("ledger tickets out of order")
		}
	}
	for range r.count(6) {
		idx.notes = append(idx.notes, Problem{Ticket: r.str(), What: r.str(), Message: r.str()})
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorruptIndex, len(r.b))
	}
	return idx, nil
}
