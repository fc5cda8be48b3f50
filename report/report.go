package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cabhq/cab/internal/diag"
)

// Check is what a cab check found, as reports see it.
type Check struct {
	// Tool names the checker ("cab"); "cab" when empty.
	Tool string
	// Version is cab's version, e.g. "dev".
	Version string
	// Tickets holds every ticket checked, in the order to show them.
	Tickets []Ticket
	// Diagnostics holds every problem, sorted. File (and the file in Rule)
	// is relative to the repository root and '/'-separated.
	Diagnostics diag.List
}

// Ticket is the verdict on one ticket.
type Ticket struct {
	// File is the ticket's path, relative to the repository root and
	// '/'-separated, as in Diagnostic.File.
	File string
	// ID is the ticket's id; empty when the ticket did not parse.
	ID string
	// OK is false when the ticket fails the check.
	OK bool
}

// InformationURI is the home of cab, named in SARIF output.
const InformationURI = "https://github.com/cabhq/cab"

// view is a Check prepared for rendering: diagnostics sorted and grouped
// by file, each ticket with its counts. Every writer works from one.
type view struct {
	tool, version string
	tickets       []ticketView
	diags         diag.List
	// byFile holds the diagnostics of each file, in order.
	byFile map[string]diag.List
	// files lists every file with diagnostics, sorted; others those of
	// them that are not a ticket.
	files, others []string
	// errors and warnings count all diagnostics; failing counts tickets.
	errors, warnings, failing int
}

type ticketView struct {
	Ticket
	errors, warnings int
	failed           bool
}

func newView(c Check) *view {
	v := &view{
		tool:    cmp.Or(c.Tool, "cab"),
		version: c.Version,
		diags:   slices.Clone(c.Diagnostics).Sort(),
		byFile:  map[string]diag.List{},
	}
	for _, d := range v.diags {
		if _, ok := v.byFile[d.File]; !ok {
			v.files = append(v.files, d.File)
		}
		v.byFile[d.File] = append(v.byFile[d.File], d)
		if isError(d) {
			v.errors++
		} else {
			v.warnings++
		}
	}
	tickets := map[string]bool{}
	for _, t := range c.Tickets {
		tv := ticketView{Ticket: t}
		for _, d := range v.byFile[t.File] {
			if isError(d) {
				tv.errors++
			} else {
				tv.warnings++
			}
		}
		tv.failed = !t.OK || tv.errors > 0
		if tv.failed {
			v.failing++
		}
		v.tickets = append(v.tickets, tv)
		tickets[t.File] = true
	}
	for _, f := range v.files {
		if !tickets[f] {
			v.others = append(v.others, f)
		}
	}
	return v
}

// ok reports whether the check passed.
func (v *view) ok() bool { return v.errors == 0 && v.failing == 0 }

func isError(d diag.Diagnostic) bool { return d.Severity == diag.Error }

// code is d's code, or "unclassified" for a diagnostic without one.
func code(d diag.Diagnostic) string { return cmp.Or(d.Code, "unclassified") }

// subject is the message with the field path in front, unless the
// message already starts with it (as diag.Diagnostic.String does).
func subject(d diag.Diagnostic) string {
	if d.Path != "" && !strings.HasPrefix(d.Message, d.Path+":") {
		return d.Path + ": " + d.Message
	}
	return d.Message
}

// fingerprints returns a stable identity for each diagnostic of v, in
// order: the SHA-256 of its file, field path, code and message. The line
// is left out on purpose, so that an edit above a problem does not make it
// a new one. Diagnostics identical in all four get the occurrence number
// added (from the second on), since GitLab folds issues with the same
// fingerprint into one.
func fingerprints(ds diag.List) []string {
	out := make([]string, len(ds))
	seen := map[string]int{}
	for i, d := range ds {
		key := strings.Join([]string{"cab/v1", d.File, d.Path, d.Code, d.Message}, "\x00")
		n := seen[key]
		seen[key] = n + 1
		if n > 0 {
			key += "\x00" + strconv.Itoa(n)
		}
		sum := sha256.Sum256([]byte(key))
		out[i] = hex.EncodeToString(sum[:])
	}
	return out
}

// position splits "file:line:col" (or "file:line", or "file") as in
// Diagnostic.Rule.
func position(s string) (file string, line, col int) {
	file = s
	var nums []int
	for range 2 {
		i := strings.LastIndexByte(file, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(file[i+1:])
		if err != nil || n <= 0 {
			break
		}
		nums = append(nums, n)
		file = file[:i]
	}
	switch len(nums) {
	case 1:
		line = nums[0]
	case 2:
		line, col = nums[1], nums[0]
	}
	return file, line, col
}

// dir is the directory of a '/'-separated file, "(root)" for the top.
func dir(file string) string {
	if d := path.Dir(file); d != "." {
		return d
	}
	return "(root)"
}

// plural formats "1 error", "2 errors".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// counts formats "2 errors, 1 warning", leaving out zeros.
func counts(errors, warnings int) string {
	var parts []string
	if errors > 0 {
		parts = append(parts, plural(errors, "error"))
	}
	if warnings > 0 {
		parts = append(parts, plural(warnings, "warning"))
	}
	return strings.Join(parts, ", ")
}

// clip shortens s to at most n bytes, cutting at a rune boundary and
// ending with "…" when it had to cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	n -= len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}
