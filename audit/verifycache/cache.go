package verifycache

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/cabhq/cab/internal/atomicfile"
	"github.com/cabhq/cab/internal/selfid"
)

// Identity names the cab binary that computed what a file holds.
type Identity [32]byte

// Executable returns the Identity of the running binary: the sha256 of
// its executable file, so that a cache written by any other build of cab
// (other code, another embedded schema) is never read.
func Executable() (Identity, error) {
	id, err := selfid.Digest()
	return Identity(id), err
}

// magic starts every file, followed by its kind.
const magic = "cab-verify-cache v1 "

// maxFile bounds the size of a file read: a larger one reads as empty.
const maxFile = 256 << 20

// ErrCorrupt is wrapped by every decoding error: the file is not a cache
// this binary wrote, and reads as empty.
var ErrCorrupt = errors.New("not a usable cab verify cache")

// Dir is the cache directory of one repository, read and written by one
// cab binary.
type Dir struct {
	path string
	id   Identity
}

// Open returns the cache of the repository whose git directory is
// gitDir, for the binary id. Nothing is read yet.
func Open(gitDir string, id Identity) *Dir {
	return &Dir{path: filepath.Join(gitDir, "cab", "verify"), id: id}
}

// encode returns the file holding v as kind for id.
func encode(kind string, id Identity, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s\n%x\n%x\n", magic, kind, id[:], sum[:])
	b.Write(body)
	return b.Bytes(), nil
}

// decode reads into v what encode wrote as kind for id. Anything else is
// an error wrapping ErrCorrupt.
func decode(data []byte, kind string, id Identity, v any) error {
	lines := make([][]byte, 3)
	rest := data
	for i := range lines {
		var ok bool
		if lines[i], rest, ok = bytes.Cut(rest, []byte("\n")); !ok {
			return fmt.Errorf("%w: cut short", ErrCorrupt)
		}
	}
	if string(lines[0]) != magic+kind {
		return fmt.Errorf("%w: header %q, want %q", ErrCorrupt, lines[0], magic+kind)
	}
	if string(lines[1]) != hex.EncodeToString(id[:]) {
		return fmt.Errorf("%w: written by another cab binary", ErrCorrupt)
	}
	sum := sha256.Sum256(rest)
	if string(lines[2]) != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the body", ErrCorrupt)
	}
	return nil
}

// read decodes the file name of kind into v; false when there is no
// usable one.
func (d *Dir) read(name, kind string, v any) bool {
	f, err := os.Open(filepath.Join(d.path, name))
	if err != nil {
		return false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil || len(data) > maxFile {
		return false
	}
	return decode(data, kind, d.id, v) == nil
}

// write replaces the file name with v as kind, atomically.
func (d *Dir) write(name, kind string, v any) error {
	data, err := encode(kind, d.id, v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(d.path, name), data, 0o600)
}

// Key is the sha256 of every input of a cached parse.
type Key [32]byte

// ParseKey is the key of the parse of the ticket at path whose exact
// bytes are src.
func ParseKey(path string, src []byte) Key {
	s := sha256.Sum256(src)
	h := sha256.New()
	h.Write([]byte("cab verify ticket parse\x00"))
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(s[:])
	var k Key
	h.Sum(k[:0])
	return k
}

// Parse is what cab verify takes from parsing a ticket that parses: the
// sha256 of its canonical JSON (the digest its signature covers) and its
// environments.
type Parse struct {
	Digest       string   `json:"digest"`
	Environments []string `json:"environments"`
	// Exact says the digest and environments are those of the canonical
	// JSON schema.ExportData computed without parsing, which settle a
	// verdict only when the signature verifies against them (verify then
	// parses the ticket, as when nothing is cached).
	Exact bool `json:"exact,omitempty"`
}

// Parses are the ticket parses of the cache, by key, read on first use.
type Parses struct {
	d          *Dir
	loaded     bool
	have, used map[Key]Parse
	added      bool
}

type parseEntry struct {
	Key string `json:"key"`
	Parse
}

const parsesFile, parsesKind = "parses.json", "parses"

// Parses returns the ticket parses d holds (none when the file is
// missing or unusable); the file is read on first use.
func (d *Dir) Parses() *Parses {
	return &Parses{d: d, have: map[Key]Parse{}, used: map[Key]Parse{}}
}

func (p *Parses) load() {
	if p.loaded {
		return
	}
	p.loaded = true
	var entries []parseEntry
	if !p.d.read(parsesFile, parsesKind, &entries) {
		return
	}
	for _, e := range entries {
		var k Key
		b, err := hex.DecodeString(e.Key)
		if err != nil || len(b) != len(k) {
			clear(p.have) // not a file this package wrote: none of it counts
			return
		}
		copy(k[:], b)
		p.have[k] = e.Parse
	}
}

// Get returns the parse kept for k.
func (p *Parses) Get(k Key) (Parse, bool) {
	p.load()
	r, ok := p.have[k]
	if ok {
		p.used[k] = r
	}
	return r, ok
}

// Put keeps r as the parse for k.
func (p *Parses) Put(k Key, r Parse) {
	p.load()
	p.have[k], p.used[k] = r, r
	p.added = true
}

// SaveParses writes p back to d, unless nothing changed. With prune,
// only the parses got or put since they were read are kept (the parses
// of tickets no longer on main leave the cache): a run that read every
// ticket prunes; one that carried verdicts over without reading their
// tickets keeps every parse.
func (d *Dir) SaveParses(p *Parses, prune bool) error {
	if !p.loaded || !p.added && (!prune || len(p.used) == len(p.have)) {
		return nil
	}
	keep := p.have
	if prune {
		keep = p.used
	}
	entries := make([]parseEntry, 0, len(keep))
	for k, r := range keep {
		entries = append(entries, parseEntry{Key: hex.EncodeToString(k[:]), Parse: r})
	}
	slices.SortFunc(entries, func(a, b parseEntry) int { return strings.Compare(a.Key, b.Key) })
	return d.write(parsesFile, parsesKind, entries)
}

// State is the verdict a run of cab verify reached on the main line at
// Main against one ledger head, ticket by ticket.
type State struct {
	// Main is the main commit read.
	Main string `json:"main"`
	// Ledger is the ledger head read; LedgerProven says that the run
	// proved its first-parent history append-only all the way to its
	// root (ledger.AppendOnly), so that a later run need only prove
	// what was added since.
	Ledger       string `json:"ledger"`
	LedgerProven bool   `json:"ledgerProven,omitempty"`
	// Merges are the commits of the main line that added tickets, oldest
	// first, as validate.Mainline returns them.
	Merges []Merge `json:"merges"`
}

// Merge is a commit that added tickets, and their verdicts.
type Merge struct {
	Commit string `json:"commit"`
	Parent string `json:"parent"`
	// Config is the blob id of cab.cue at Parent when it is a regular
	// file there ("" otherwise, or not read).
	Config  string   `json:"config,omitempty"`
	Tickets []Ticket `json:"tickets"`
}

// Ticket is the verdict on one merged ticket.
type Ticket struct {
	Path string `json:"path"`
	// Signed is the hex sha256 of the signed envelope the ticket was
	// judged against; "" when it was not judged (the ledger set it aside,
	// or holds no signature for it), and then no verdict is kept.
	Signed string `json:"signed,omitempty"`
	// What and Message are the break found; What is "" when the ticket
	// verified.
	What    string `json:"what,omitempty"`
	Message string `json:"message,omitempty"`
}

const stateKind = "state"

// keepStates bounds the states kept: the newest ones.
const keepStates = 4

func stateFile(ledgerHead plumbing.Hash) string { return "state-" + ledgerHead.String() + ".json" }

// State returns the state a run recorded at ledgerHead, if d holds a
// usable one.
func (d *Dir) State(ledgerHead plumbing.Hash) (*State, bool) {
	if ledgerHead.IsZero() {
		return nil, false
	}
	return d.readState(stateFile(ledgerHead), ledgerHead)
}

// Newest returns the state recorded last, if d holds a usable one.
func (d *Dir) Newest() (*State, bool) {
	names := d.states()
	if len(names) == 0 {
		return nil, false
	}
	h := strings.TrimSuffix(strings.TrimPrefix(names[0], "state-"), ".json")
	if !plumbing.IsHash(h) {
		return nil, false
	}
	return d.readState(names[0], plumbing.NewHash(h))
}

func (d *Dir) readState(name string, ledgerHead plumbing.Hash) (*State, bool) {
	var s State
	if !d.read(name, stateKind, &s) || !plumbing.IsHash(s.Main) || s.Ledger != ledgerHead.String() {
		return nil, false
	}
	return &s, true
}

// SaveState records s as the state at its ledger head, and removes all
// but the newest states.
func (d *Dir) SaveState(s *State) error {
	if !plumbing.IsHash(s.Ledger) || plumbing.NewHash(s.Ledger).IsZero() {
		return nil
	}
	if err := d.write(stateFile(plumbing.NewHash(s.Ledger)), stateKind, s); err != nil {
		return err
	}
	names := d.states()
	for _, name := range names[min(keepStates, len(names)):] {
		_ = os.Remove(filepath.Join(d.path, name))
	}
	return nil
}

// states lists the state files, newest first.
func (d *Dir) states() []string {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return nil
	}
	type state struct {
		name string
		mod  int64
	}
	var states []state
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "state-") {
			continue
		}
		if info, err := e.Info(); err == nil {
			states = append(states, state{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortStableFunc(states, func(a, b state) int { return cmp.Compare(b.mod, a.mod) })
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = s.name
	}
	return names
}
