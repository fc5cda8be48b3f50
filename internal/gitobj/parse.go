package gitobj

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Signature is a name, an email and a time, as git records authors and
// committers.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Commit is what ParseCommit reads of a commit object: its tree,
// parents, author, committer and message (signatures and other headers
// are skipped).
type Commit struct {
	Hash      plumbing.Hash
	Tree      plumbing.Hash
	Parents   []plumbing.Hash
	Author    Signature
	Committer Signature
	Message   string
}

// ParseCommit decodes the raw commit object h.
func ParseCommit(h plumbing.Hash, data []byte) (*Commit, error) {
	c := &Commit{Hash: h}
	rest := data
	sawTree, sawCommitter := false, false
	for len(rest) > 0 {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			nl = len(rest)
		}
		line := rest[:nl]
		if nl < len(rest) {
			rest = rest[nl+1:]
		} else {
			rest = nil
		}
		if len(line) == 0 {
			c.Message = string(rest)
			break
		}
		if line[0] == ' ' {
			continue // continuation of a multi-line header (gpgsig, mergetag)
		}
		key, val, _ := bytes.Cut(line, []byte{' '})
		switch string(key) {
		case "tree":
			th, ok := ParseHex(val)
			if !ok {
				return nil, fmt.Errorf("commit %s: bad tree %q", h, val)
			}
			c.Tree, sawTree = th, true
		case "parent":
			ph, ok := ParseHex(val)
			if !ok {
				return nil, fmt.Errorf("commit %s: bad parent %q", h, val)
			}
			c.Parents = append(c.Parents, ph)
		case "author":
			c.Author = parsePerson(val)
		case "committer":
			c.Committer, sawCommitter = parsePerson(val), true
		}
	}
	if !sawTree || !sawCommitter {
		return nil, fmt.Errorf("commit %s: no tree or committer", h)
	}
	return c, nil
}

// parsePerson decodes "Name <email> 1700000000 +0100". A malformed time
// gives the zero time: git itself accepts such commits.
func parsePerson(b []byte) Signature {
	var p Signature
	lt := bytes.IndexByte(b, '<')
	gt := bytes.LastIndexByte(b, '>')
	if lt < 0 || gt < lt {
		p.Name = string(bytes.TrimSpace(b))
		return p
	}
	p.Name = string(bytes.TrimSpace(b[:lt]))
	p.Email = string(b[lt+1 : gt])
	fields := bytes.Fields(b[gt+1:])
	if len(fields) == 0 {
		return p
	}
	sec, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil {
		return p
	}
	loc := time.UTC
	if len(fields) > 1 {
		if tz := fields[1]; len(tz) == 5 && (tz[0] == '+' || tz[0] == '-') {
			hh, err1 := strconv.Atoi(string(tz[1:3]))
			mm, err2 := strconv.Atoi(string(tz[3:5]))
			if err1 == nil && err2 == nil {
				off := (hh*60 + mm) * 60
				if tz[0] == '-' {
					off = -off
				}
				loc = time.FixedZone("", off)
			}
		}
	}
	p.When = time.Unix(sec, 0).In(loc)
	return p
}

// Modes of tree entries.
const (
	ModeTree      = 0o040000
	ModeSubmodule = 0o160000
)

// TreeEntry is one entry of a raw tree; Name aliases the tree's bytes.
type TreeEntry struct {
	Mode uint32
	Name []byte
	Hash plumbing.Hash
}

// IsTree reports whether e names a tree (a directory).
func (e *TreeEntry) IsTree() bool { return e.Mode == ModeTree }

// ErrBadTree reports a tree object that does not decode.
var ErrBadTree = errors.New("malformed tree")

// NextEntry decodes the first entry of a raw tree ("<octal mode> <name>\0<20
// bytes>") and returns the rest.
func NextEntry(b []byte) (TreeEntry, []byte, error) {
	var e TreeEntry
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 || sp > 7 {
		return e, nil, ErrBadTree
	}
	for _, c := range b[:sp] {
		if c < '0' || c > '7' {
			return e, nil, ErrBadTree
		}
		e.Mode = e.Mode<<3 | uint32(c-'0')
	}
	b = b[sp+1:]
	nul := bytes.IndexByte(b, 0)
	if nul <= 0 || len(b) < nul+1+20 {
		return e, nil, ErrBadTree
	}
	e.Name = b[:nul]
	copy(e.Hash[:], b[nul+1:nul+21])
	return e, b[nul+21:], nil
}

// FindEntry returns the entry called name in a raw tree.
func FindEntry(tree []byte, name string) (TreeEntry, bool, error) {
	for len(tree) > 0 {
		e, rest, err := NextEntry(tree)
		if err != nil {
			return e, false, err
		}
		if string(e.Name) == name {
			return e, true, nil
		}
		tree = rest
	}
	return TreeEntry{}, false, nil
}

// CompareEntries orders tree entries as git does: by name, a tree's name
// followed by '/'.
func CompareEntries(a, b *TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := bytes.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	next := func(e *TreeEntry) byte {
		if len(e.Name) > n {
			return e.Name[n]
		}
		if e.IsTree() {
			return '/'
		}
		return 0
	}
	ca, cb := next(a), next(b)
	switch {
	case ca < cb:
		return -1
	case ca > cb:
		return 1
	}
	return cmp.Compare(len(a.Name), len(b.Name))
}

// TagTarget reads the "object <hex>" line of an annotated tag.
func TagTarget(data []byte) (plumbing.Hash, bool) {
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	hexID, ok := bytes.CutPrefix(line, []byte("object "))
	if !ok {
		return plumbing.ZeroHash, false
	}
	return ParseHex(hexID)
}

// ParseHex decodes a 40-digit hexadecimal object id.
func ParseHex(b []byte) (plumbing.Hash, bool) {
	var h plumbing.Hash
	if len(b) != 40 {
		return h, false
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return h, false
	}
	return h, true
}
