package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// maxFile bounds the size of one file read from the ledger branch.
const maxFile = 4 << 20

// fileRE is the form of a ledger file name, compiled on first use.
var fileRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([1-9][0-9]{0,8})-([a-z-]{1,32})\.(json|dsse)$`)
})

// CorruptError reports ledger content cab did not write: an unexpected
// path, a file disagreeing with its name, undecodable JSON, a gap in the
// sequence numbers. Its message is "<path>: <reason>" ("<dir>/<reason>"
// when Path names a directory, ending in "/").
type CorruptError struct {
	Path   string
	Reason string
	// Err is the error reading the entry, if that is what went wrong
	// (plumbing.ErrObjectNotFound for an object missing from the
	// repository).
	Err error
}

// Unwrap returns the error reading the entry, if any.
func (e *CorruptError) Unwrap() error { return e.Err }

func (e *CorruptError) Error() string {
	if strings.HasSuffix(e.Path, "/") {
		return e.Path + e.Reason
	}
	return e.Path + ": " + e.Reason
}

// TicketLog is what the ledger holds about one ticket, decoded tolerantly:
// every event that could be read, and everything that is wrong.
type TicketLog struct {
	ID string
	// Path is the ticket's directory (see TicketDir).
	Path string
	// Tree is the id of the directory read.
	Tree plumbing.Hash
	// Events are the events that could be read, by sequence number, with
	// their envelopes; outcome events that did not verify are included
	// (Problems names them).
	Events []Event
	// Problems are *CorruptError (unreadable files, gaps), *InvalidError
	// and *TransitionError (the state machine refuses an event), and
	// *OutcomeError (an outcome event not signed by a trusted reconciler
	// key, when the ticket was decoded with a verifier).
	Problems []error
	// State is where the ticket stands, replaying its events without the
	// outcomes that did not verify (Seq still counts them). It is
	// meaningful only when the ticket is not SetAside.
	State TicketState
}

// SetAside reports whether the ticket's events cannot be trusted at all
// (anything wrong but an outcome that did not verify, which is only
// ignored): readers that act leave the ticket alone.
func (t *TicketLog) SetAside() bool {
	for _, p := range t.Problems {
		var oe *OutcomeError
		if !errors.As(p, &oe) {
			return true
		}
	}
	return false
}

// ignored reports whether event seq did not verify.
func (t *TicketLog) ignored(seq int) bool {
	for _, p := range t.Problems {
		var oe *OutcomeError
		if errors.As(p, &oe) && oe.Seq == seq {
			return true
		}
	}
	return false
}

// DecodeTicket reads the directory of one ticket (see List) tolerantly:
// it keeps every event it can read and records each problem instead of
// stopping. The
// state machine is replayed when every file was read: with a verifier,
// outcome events must carry an envelope it accepts over their canonical
// JSON, and those that do not are left out of the state (an
// *OutcomeError each); without one, outcomes are not checked.
func DecodeTicket(objs Objects, d TicketDir, v EventVerifier) *TicketLog {
	return decodeTicket(objs, d, v, nil)
}

// decodeTicket is DecodeTicket reusing, from prev (nil: none), the
// events of files that are in d as they were in prev's directory: prev,
// decoded from the same ticket directory at an earlier tree with the same
// verifier and found without any problem, read those very bytes (same
// name, same blob id) into those events and verified them. Only the files
// added since are read and verified; the state is replayed over all.
func decodeTicket(objs Objects, d TicketDir, v EventVerifier, prev *TicketLog) *TicketLog {
	id := d.ID
	t := &TicketLog{ID: id, Path: d.Path, Tree: d.Tree}
	tpath := d.Path + "/"
	files, err := objs.Tree(d.Tree)
	if err != nil {
		t.Problems = append(t.Problems, &CorruptError{Path: tpath, Reason: "unreadable: " + err.Error(), Err: err})
		return t
	}
	// had are prev's files by name and the events they held, by name
	// without extension, when prev can be reused.
	var had map[string]plumbing.Hash
	var held map[string]*Event
	if prev != nil && prev.ID == id && prev.Path == d.Path && len(prev.Problems) == 0 {
		if pf, err := objs.Tree(prev.Tree); err == nil {
			had = make(map[string]plumbing.Hash, len(pf))
			for _, fe := range pf {
				had[fe.Name] = fe.Hash
			}
			held = make(map[string]*Event, len(prev.Events))
			for i := range prev.Events {
				held[prev.Events[i].name()] = &prev.Events[i]
			}
		}
	}
	// reused are the events taken from prev, by seq, verified there.
	reused := map[int]*Event{}
	bySeq := map[int]*Event{}
	envelopes := map[string][]byte{}
	for _, fe := range files {
		fpath := tpath + fe.Name
		if h, ok := had[fe.Name]; ok && h == fe.Hash && fe.Mode == filemode.Regular {
			base, ext, _ := strings.Cut(fe.Name, ".")
			if ev := held[base]; ev != nil && (ext == "json" || len(ev.Envelope) > 0) {
				if ext == "dsse" {
					envelopes[base] = ev.Envelope
					continue
				}
				if bySeq[ev.Seq] == nil {
					e := *ev
					e.Envelope = nil // set from its .dsse, as when read
					bySeq[ev.Seq], reused[ev.Seq] = &e, ev
					continue
				}
			}
		}
		m := fileRE().FindStringSubmatch(fe.Name)
		if m == nil || fe.Mode != filemode.Regular {
			t.Problems = append(t.Problems, &CorruptError{Path: fpath, Reason: "not <seq>-<kind>.json or .dsse"})
			continue
		}
		data, err := objs.Blob(fe.Hash, maxFile)
		switch {
		case errors.Is(err, plumbing.ErrObjectNotFound):
			t.Problems = append(t.Problems, &CorruptError{Path: fpath, Reason: "missing from the repository", Err: err})
			continue
		case err != nil:
			t.Problems = append(t.Problems, &CorruptError{Path: fpath, Reason: err.Error(), Err: err})
			continue
		}
		if m[3] == "dsse" {
			envelopes[m[1]+"-"+m[2]] = data
			continue
		}
		var ev Event
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Problems = append(t.Problems, &CorruptError{Path: fpath, Reason: err.Error()})
			continue
		}
		seq, _ := strconv.Atoi(m[1])
		if ev.Seq != seq || ev.Kind != m[2] || ev.Ticket != id {
			t.Problems = append(t.Problems, &CorruptError{Path: fpath, Reason: fmt.Sprintf("holds %s event %d of %s", ev.Kind, ev.Seq, ev.Ticket)})
			continue
		}
		if bySeq[seq] != nil {
			t.Problems = append(t.Problems, &CorruptError{Path: fpath, Reason: fmt.Sprintf("second event %d", seq)})
			continue
		}
		bySeq[seq] = &ev
	}
	for _, name := range slices.Sorted(maps.Keys(envelopes)) {
		seq, _ := strconv.Atoi(name[:strings.IndexByte(name, '-')])
		if ev := bySeq[seq]; ev != nil && ev.name() == name {
			ev.Envelope = envelopes[name]
			continue
		}
		t.Problems = append(t.Problems, &CorruptError{Path: tpath + name + ".dsse", Reason: "envelope without its event"})
	}
	seqs := slices.Sorted(maps.Keys(bySeq))
	next := 1
	for _, s := range seqs {
		switch {
		case s == next+1:
			t.Problems = append(t.Problems, &CorruptError{Path: tpath, Reason: fmt.Sprintf("event %d is missing", next)})
		case s > next:
			t.Problems = append(t.Problems, &CorruptError{Path: tpath, Reason: fmt.Sprintf("events %d to %d are missing", next, s-1)})
		}
		t.Events = append(t.Events, *bySeq[s])
		next = s + 1
	}
	if len(t.Problems) > 0 {
		return t
	}
	for i := range t.Events {
		ev := &t.Events[i]
		// An event prev verified needs no verifying again with the very
		// envelope it was verified with.
		if was := reused[ev.Seq]; v != nil && IsOutcome(ev.Kind) && (was == nil || !bytes.Equal(was.Envelope, ev.Envelope)) {
			if err := verifyOutcome(v, ev, tpath+ev.name()+".json"); err != nil {
				t.Problems = append(t.Problems, err)
				t.State.Seq = ev.Seq // it keeps its number
				continue
			}
		}
		if err := t.State.apply(ev); err != nil {
			t.Problems = append(t.Problems, err)
			break
		}
	}
	return t
}
