package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/sign"
)

// ledgerEvent is one ledger event as cab log shows it.
type ledgerEvent struct {
	Seq    int
	Kind   string
	Env    string
	At     time.Time
	Actor  string
	Commit string
	// Reason is the event's data "reason", or the reasons of an unsigned
	// event joined with "; ".
	Reason string
	// Signed is the predicate of a signed event's envelope (nil for other
	// kinds, or when the envelope does not decode).
	Signed *signedInfo
}

// signedInfo is what a signed event's predicate says, read from the DSSE
// payload without verifying the signature: cab verify does that.
type signedInfo struct {
	PR           int64
	Author       string
	Approvals    []approval
	SignedAt     time.Time
	Repository   string
	Environments []string
	KeyID        string
}

type approval struct {
	ID, Login string
	At        time.Time
}

// ledgerTicket is what the ledger holds about one ticket.
type ledgerTicket struct {
	ID string
	// Tree is the id of ledger/<ID>/ at the ledger head read.
	Tree   plumbing.Hash
	Events []ledgerEvent
	// Problems are what is wrong with the ticket's events: unreadable
	// files, gaps in the sequence, impossible transitions.
	Problems []string
}

// ledgerView is the ledger as read at one head.
type ledgerView struct {
	// Head is the ledger commit read (zero: no ledger branch).
	Head plumbing.Hash
	// Tree is the id of the ledger/ directory at Head.
	Tree plumbing.Hash
	// Tickets are sorted by id.
	Tickets []*ledgerTicket
	// Problems concern the branch as a whole (entries that are not ticket
	// directories, a rewritten history).
	Problems []string
}

func (v *ledgerView) ticket(id string) *ledgerTicket {
	i := sort.Search(len(v.Tickets), func(i int) bool { return v.Tickets[i].ID >= id })
	if i < len(v.Tickets) && v.Tickets[i].ID == id {
		return v.Tickets[i]
	}
	return nil
}

// ledgerDir is the directory of the ledger branch holding one directory
// per ticket (ledger's own layout).
const ledgerDir = "ledger"

var ledgerFileRE = regexp.MustCompile(`^([1-9][0-9]{0,8})-([a-z-]{1,32})\.(json|dsse)$`)

// maxLedgerFile bounds one file read from the ledger, as the ledger
// package does.
const maxLedgerFile = 4 << 20

// readLedger reads the ledger at commit head tolerantly: unlike
// ledger.ReadAt, which refuses a ledger with any problem, it keeps every
// event it can read and records each problem on its ticket, so that cab log
// shows the rows as far as the ledger is readable and says what is broken.
// Ticket directories whose tree id is the one in prev are taken from prev;
// the others are read by up to workers goroutines.
func readLedger(obj *objects, head plumbing.Hash, prev *ledgerView, workers int) (*ledgerView, error) {
	v := &ledgerView{Head: head}
	if head.IsZero() {
		return v, nil
	}
	data, err := obj.readType(head, objCommit)
	if err != nil {
		return nil, fmt.Errorf("reading ledger commit %s: %w", head, err)
	}
	c, err := parseCommit(head, data)
	if err != nil {
		return nil, err
	}
	root, err := obj.readType(c.Tree, objTree)
	if err != nil {
		return nil, fmt.Errorf("reading the tree of ledger commit %s: %w", head, err)
	}
	e, ok, err := findEntry(root, ledgerDir)
	if err != nil {
		return nil, fmt.Errorf("reading the tree of ledger commit %s: %w", head, err)
	}
	if !ok {
		return v, nil
	}
	if !e.isTree() {
		v.Problems = append(v.Problems, "ledger: not a directory")
		return v, nil
	}
	v.Tree = e.Hash
	if prev != nil && prev.Tree == v.Tree {
		v.Tickets, v.Problems = prev.Tickets, prev.Problems
		return v, nil
	}
	dir, err := obj.readType(e.Hash, objTree)
	if err != nil {
		return nil, fmt.Errorf("reading ledger/: %w", err)
	}
	type job struct {
		i    int
		name string
		tree plumbing.Hash
	}
	var jobs []job
	for len(dir) > 0 {
		te, rest, err := nextEntry(dir)
		if err != nil {
			return nil, fmt.Errorf("reading ledger/: %w", err)
		}
		dir = rest
		name := string(te.Name)
		if !ledger.ValidTicketID(name) || !te.isTree() {
			v.Problems = append(v.Problems, fmt.Sprintf("ledger/%s: not a ticket directory", name))
			continue
		}
		if prev != nil {
			if pt := prev.ticket(name); pt != nil && pt.Tree == te.Hash {
				v.Tickets = append(v.Tickets, pt)
				continue
			}
		}
		v.Tickets = append(v.Tickets, nil)
		jobs = append(jobs, job{i: len(v.Tickets) - 1, name: name, tree: te.Hash})
	}
	// The directories to read, spread over the workers.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan job)
	)
	for w := range max(1, min(workers, len(jobs))) {
		o := obj
		if w > 0 {
			o = obj.clone()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				t, err := readLedgerTicket(o, j.name, j.tree)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				v.Tickets[j.i] = t
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	sort.Slice(v.Tickets, func(i, j int) bool { return v.Tickets[i].ID < v.Tickets[j].ID })
	return v, nil
}

// readLedgerTicket reads the events in ledger/<id>/ (tree h).
func readLedgerTicket(obj *objects, id string, h plumbing.Hash) (*ledgerTicket, error) {
	t := &ledgerTicket{ID: id, Tree: h}
	files, err := obj.readType(h, objTree)
	if err != nil {
		return nil, fmt.Errorf("reading ledger/%s/: %w", id, err)
	}
	bySeq := map[int]*ledger.Event{}
	envelopes := map[int][]byte{}
	dir := "ledger/" + id + "/"
	for len(files) > 0 {
		fe, rest, err := nextEntry(files)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", dir, err)
		}
		files = rest
		name := string(fe.Name)
		m := ledgerFileRE.FindStringSubmatch(name)
		if m == nil || fe.Mode&0o170000 != 0o100000 {
			t.Problems = append(t.Problems, dir+name+": not <seq>-<kind>.json or .dsse")
			continue
		}
		seq, _ := strconv.Atoi(m[1])
		data, err := obj.readType(fe.Hash, objBlob)
		if err != nil {
			if errors.Is(err, errObjectMissing) {
				t.Problems = append(t.Problems, dir+name+": missing from the repository")
				continue
			}
			return nil, fmt.Errorf("reading %s%s: %w", dir, name, err)
		}
		if len(data) > maxLedgerFile {
			t.Problems = append(t.Problems, fmt.Sprintf("%s%s: %d bytes, more than %d", dir, name, len(data), maxLedgerFile))
			continue
		}
		if m[3] == "dsse" {
			envelopes[seq] = data
			continue
		}
		var ev ledger.Event
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Problems = append(t.Problems, dir+name+": "+err.Error())
			continue
		}
		if ev.Seq != seq || ev.Kind != m[2] || ev.Ticket != id {
			t.Problems = append(t.Problems, fmt.Sprintf("%s%s: holds %s event %d of %s", dir, name, ev.Kind, ev.Seq, ev.Ticket))
			continue
		}
		if bySeq[seq] != nil {
			t.Problems = append(t.Problems, fmt.Sprintf("%s%s: second event %d", dir, name, seq))
			continue
		}
		bySeq[seq] = &ev
	}
	seqs := make([]int, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	sort.Ints(seqs)
	events := make([]ledger.Event, 0, len(seqs))
	next := 1
	for _, s := range seqs {
		switch {
		case s == next+1:
			t.Problems = append(t.Problems, fmt.Sprintf("%sevent %d is missing", dir, next))
		case s > next:
			t.Problems = append(t.Problems, fmt.Sprintf("%sevents %d to %d are missing", dir, next, s-1))
		}
		events = append(events, *bySeq[s])
		next = s + 1
	}
	for s := range envelopes {
		if bySeq[s] == nil {
			t.Problems = append(t.Problems, fmt.Sprintf("%s%d: envelope without its event", dir, s))
		}
	}
	if len(events) > 0 && len(t.Problems) == 0 {
		if err := ledger.Validate(events); err != nil {
			t.Problems = append(t.Problems, err.Error())
		}
	}
	for _, ev := range events {
		le := ledgerEvent{Seq: ev.Seq, Kind: ev.Kind, Env: ev.Env, At: ev.At, Actor: ev.Actor, Commit: ev.Commit, Reason: eventReason(ev.Data)}
		if ev.Kind == ledger.KindSigned {
			env, ok := envelopes[ev.Seq]
			if !ok {
				t.Problems = append(t.Problems, fmt.Sprintf("%s%d-signed: no envelope", dir, ev.Seq))
			} else if si, err := decodePredicate(env); err != nil {
				t.Problems = append(t.Problems, fmt.Sprintf("%s%d-signed.dsse: %v", dir, ev.Seq, err))
			} else {
				si.KeyID = eventKeyID(ev.Data)
				le.Signed = si
			}
		}
		t.Events = append(t.Events, le)
	}
	return t, nil
}

// eventReason reads the reason of an event's data: "reason", or the
// "reasons" of an unsigned event.
func eventReason(data json.RawMessage) string {
	if len(data) == 0 {
		return ""
	}
	var d struct {
		Reason  string   `json:"reason"`
		Reasons []string `json:"reasons"`
	}
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	if d.Reason != "" {
		return d.Reason
	}
	return strings.Join(d.Reasons, "; ")
}

func eventKeyID(data json.RawMessage) string {
	var d struct {
		KeyID string `json:"keyid"`
	}
	if len(data) == 0 || json.Unmarshal(data, &d) != nil {
		return ""
	}
	return d.KeyID
}

// decodePredicate reads the cab predicate from a DSSE envelope's payload,
// without verifying anything.
func decodePredicate(envelope []byte) (*signedInfo, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	if env.PayloadType != sign.PayloadType {
		return nil, fmt.Errorf("payload type %q, want %q", env.PayloadType, sign.PayloadType)
	}
	var st sign.Statement
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		return nil, fmt.Errorf("payload is not an in-toto statement: %w", err)
	}
	if st.PredicateType != sign.PredicateType {
		return nil, fmt.Errorf("predicate type %q, want %q", st.PredicateType, sign.PredicateType)
	}
	p := st.Predicate
	si := &signedInfo{PR: p.PR, Author: p.Author, SignedAt: p.SignedAt, Repository: p.Repository, Environments: p.Environments}
	for _, a := range p.Approvals {
		ap := approval{ID: a.ID, Login: a.Login}
		if a.At != "" {
			if t, err := time.Parse(time.RFC3339, a.At); err == nil {
				ap.At = t
			}
		}
		si.Approvals = append(si.Approvals, ap)
	}
	return si, nil
}
