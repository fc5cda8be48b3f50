package audit

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// person is a name, an email and a time, as git records authors and
// committers.
type person struct {
	Name  string
	Email string
	When  time.Time
}

// commitInfo is the part of a commit object the scanner needs.
type commitInfo struct {
	Hash      plumbing.Hash
	Tree      plumbing.Hash
	Parents   []plumbing.Hash
	Author    person
	Committer person
	Message   string
}

// parseCommit decodes a raw commit object.
func parseCommit(h plumbing.Hash, data []byte) (*commitInfo, error) {
	c := &commitInfo{Hash: h}
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
			th, ok := parseHex(val)
			if !ok {
				return nil, fmt.Errorf("commit %s: bad tree %q", h, val)
			}
			c.Tree, sawTree = th, true
		case "parent":
			ph, ok := parseHex(val)
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
func parsePerson(b []byte) person {
	var p person
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

// Tree entry modes.
const (
	modeTree      = 0o040000
	modeSubmodule = 0o160000
)

// treeEntry is one entry of a raw tree; Name aliases the tree's bytes.
type treeEntry struct {
	Mode uint32
	Name []byte
	Hash plumbing.Hash
}

func (e *treeEntry) isTree() bool { return e.Mode == modeTree }

var errBadTree = errors.New("malformed tree")

// nextEntry decodes the first entry of a raw tree ("<octal mode> <name>\0<20
// bytes>") and returns the rest.
func nextEntry(b []byte) (treeEntry, []byte, error) {
	var e treeEntry
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 || sp > 7 {
		return e, nil, errBadTree
	}
	for _, c := range b[:sp] {
		if c < '0' || c > '7' {
			return e, nil, errBadTree
		}
		e.Mode = e.Mode<<3 | uint32(c-'0')
	}
	b = b[sp+1:]
	nul := bytes.IndexByte(b, 0)
	if nul <= 0 || len(b) < nul+1+20 {
		return e, nil, errBadTree
	}
	e.Name = b[:nul]
	copy(e.Hash[:], b[nul+1:nul+21])
	return e, b[nul+21:], nil
}

// findEntry returns the entry called name in a raw tree.
func findEntry(tree []byte, name string) (treeEntry, bool, error) {
	for len(tree) > 0 {
		e, rest, err := nextEntry(tree)
		if err != nil {
			return e, false, err
		}
		if string(e.Name) == name {
			return e, true, nil
		}
		tree = rest
	}
	return treeEntry{}, false, nil
}

// compareEntries orders tree entries as git does: by name, a tree's name
// followed by '/'.
func compareEntries(a, b *treeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := bytes.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	next := func(e *treeEntry) byte {
		if len(e.Name) > n {
			return e.Name[n]
		}
		if e.isTree() {
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

// tagTarget reads the "object <hex>" line of an annotated tag.
func tagTarget(data []byte) (plumbing.Hash, bool) {
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	hexID, ok := bytes.CutPrefix(line, []byte("object "))
	if !ok {
		return plumbing.ZeroHash, false
	}
	return parseHex(hexID)
}
