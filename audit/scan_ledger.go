package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

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
	// Cause is the stable key of a reconciler's wait ("prechecks:prod"),
	// from the event's data "cause".
	Cause string
	// BurnRate is the error-budget burn rate recorded in the event's data
	// (applying, verified, failed), nil when none.
	BurnRate *ledger.BurnRate
	// Signed is the predicate of a signed event's envelope (nil for other
	// kinds, or when the envelope does not decode).
	Signed *signedInfo
}

// signedInfo is what a signed event's predicate says, read from the DSSE
// payload without verifying the signature: cab verify does that.
type signedInfo struct {
	PR           int64
	Author       string
	Merger       string
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
	// Tree is the id of the ticket's directory at the ledger head read.
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
	// Tree is the root tree of Head (ledger.Listing.Root): two views of
	// the same Tree are the same.
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

// ledgerObjects lets the ledger package read the ledger through the fast
// object reader: the layout, the decoding and the state machine are the
// ledger's, the speed is cab log's.
type ledgerObjects struct{ obj *objects }

var _ ledger.Objects = ledgerObjects{}

func (o ledgerObjects) Tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	data, err := o.obj.readType(h, objTree)
	if err != nil {
		return nil, o.missing(err)
	}
	var out []object.TreeEntry
	for len(data) > 0 {
		te, rest, err := nextEntry(data)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", h, err)
		}
		data = rest
		out = append(out, object.TreeEntry{Name: string(te.Name), Mode: filemode.FileMode(te.Mode), Hash: te.Hash})
	}
	return out, nil
}

func (o ledgerObjects) Blob(h plumbing.Hash, limit int64) ([]byte, error) {
	data, err := o.obj.readType(h, objBlob)
	if err != nil {
		return nil, o.missing(err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%d bytes, more than %d: %w", len(data), limit, ledger.ErrTooLarge)
	}
	return data, nil
}

// missing makes a missing object the error the ledger package knows.
func (o ledgerObjects) missing(err error) error {
	if errors.Is(err, errObjectMissing) {
		return fmt.Errorf("%w: %v", plumbing.ErrObjectNotFound, err)
	}
	return err
}

// readLedger reads the ledger at commit head through the ledger
// package's layout and tolerant decoder (ledger.List, DecodeTicket): it
// keeps every event it can read and records each problem on its ticket,
// so that cab log shows the rows as far as the ledger is readable and
// says what is broken. Ticket directories whose tree id is the one in
// prev are taken from prev (unless prev reported problems for them, whose
// text names the directory); the others are read by up to workers
// goroutines.
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
	v.Tree = c.Tree
	if prev != nil && prev.Tree == v.Tree {
		v.Tickets, v.Problems = prev.Tickets, prev.Problems
		return v, nil
	}
	ls, err := ledger.List(ledgerObjects{obj}, c.Tree)
	if err != nil {
		return nil, fmt.Errorf("reading the tree of ledger commit %s: %w", head, err)
	}
	for _, p := range ls.Problems {
		v.Problems = append(v.Problems, p.Error())
	}
	type job struct {
		i int
		d ledger.TicketDir
	}
	var jobs []job
	for _, d := range ls.Tickets {
		if prev != nil {
			if pt := prev.ticket(d.ID); pt != nil && pt.Tree == d.Tree && len(pt.Problems) == 0 {
				v.Tickets = append(v.Tickets, pt)
				continue
			}
		}
		v.Tickets = append(v.Tickets, nil)
		jobs = append(jobs, job{i: len(v.Tickets) - 1, d: d})
	}
	// The directories to read, spread over the workers.
	var (
		wg   sync.WaitGroup
		next = make(chan job)
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
				v.Tickets[j.i] = readLedgerTicket(o, j.d)
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	sort.Slice(v.Tickets, func(i, j int) bool { return v.Tickets[i].ID < v.Tickets[j].ID })
	return v, nil
}

// readLedgerTicket reads the events in the ticket directory d through the
// ledger package's tolerant decoder: every event it can read, and each
// problem on the ticket.
func readLedgerTicket(obj *objects, d ledger.TicketDir) *ledgerTicket {
	dl := ledger.DecodeTicket(ledgerObjects{obj}, d, nil)
	t := &ledgerTicket{ID: d.ID, Tree: d.Tree}
	for _, p := range dl.Problems {
		t.Problems = append(t.Problems, p.Error())
	}
	dir := d.Path + "/"
	for _, ev := range dl.Events {
		le := ledgerEvent{Seq: ev.Seq, Kind: ev.Kind, Env: ev.Env, At: ev.At, Actor: ev.Actor, Commit: ev.Commit, Reason: eventReason(ev.Data), Cause: eventCause(ev.Data), BurnRate: ledger.BurnRateOf(ev.Data)}
		if ev.Kind == ledger.KindSigned {
			if len(ev.Envelope) == 0 {
				t.Problems = append(t.Problems, fmt.Sprintf("%s%d-signed: no envelope", dir, ev.Seq))
			} else if si, err := decodePredicate(ev.Envelope); err != nil {
				t.Problems = append(t.Problems, fmt.Sprintf("%s%d-signed.dsse: %v", dir, ev.Seq, err))
			} else {
				si.KeyID = eventKeyID(ev.Data)
				le.Signed = si
			}
		}
		t.Events = append(t.Events, le)
	}
	return t
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

// eventCause reads the "cause" of an event's data.
func eventCause(data json.RawMessage) string {
	var d struct {
		Cause string `json:"cause"`
	}
	if len(data) == 0 || json.Unmarshal(data, &d) != nil {
		return ""
	}
	return d.Cause
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

// decodePredicate reads what cab log shows of a signed event's predicate
// (sign.PredicateOf: payload type checked, signature not verified).
func decodePredicate(envelope []byte) (*signedInfo, error) {
	p, err := sign.PredicateOf(envelope)
	if err != nil {
		return nil, err
	}
	si := &signedInfo{PR: p.PR, Author: p.Author, Merger: p.Merger, SignedAt: p.SignedAt, Repository: p.Repository, Environments: p.Environments}
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
