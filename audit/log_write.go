package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Formats lists the output formats of LogWriter.
var Formats = []string{"table", "json", "csv"}

// LogWriter renders the rows of Log or LogEvents as they come: a table for
// people, CSV for spreadsheets, or one JSON document whose rows are
// written one by one. Call Flush after each row to make it visible at
// once, and Finish at the end.
type LogWriter struct {
	// Wide prints every table column in full on one line per row; by
	// default the table fits TableWidth columns (long cells are elided,
	// the title and environments wrap onto a second line).
	Wide bool

	w      *bufio.Writer
	format string
	events bool
	csv    *csv.Writer
	begun  bool
	rows   int
	buf    []byte
}

// NewLogWriter returns a writer of rows (events: LogEvents' rows) in
// format, one of Formats.
func NewLogWriter(w io.Writer, format string, events bool) (*LogWriter, error) {
	switch format {
	case "table", "json", "csv":
	default:
		return nil, fmt.Errorf("%w: format %q: want table, json or csv", ErrFilter, format)
	}
	return &LogWriter{w: bufio.NewWriterSize(w, 64<<10), format: format, events: events}, nil
}

// begin writes what precedes the rows (a header, the opening of the JSON
// document), once, before the first row or at Finish: nothing is written
// when the log fails before it has rows.
func (lw *LogWriter) begin() error {
	if lw.begun {
		return nil
	}
	lw.begun = true
	switch lw.format {
	case "csv":
		lw.csv = csv.NewWriter(lw.w)
		header := changeCSVHeader
		if lw.events {
			header = eventCSVHeader
		}
		return lw.csv.Write(header)
	case "table":
		switch {
		case lw.events && lw.Wide:
			fmt.Fprintf(lw.w, "%-20s %-15s %3s %-15s %-12s %-20s %s\n", "AT", "TICKET", "SEQ", "KIND", "ENV", "ACTOR", "REASON")
		case lw.events:
			fmt.Fprintf(lw.w, narrowEvent+"%s\n", "AT", "TICKET", "SEQ", "KIND", "ENV", "ACTOR", "REASON")
		case lw.Wide:
			fmt.Fprintf(lw.w, "%-15s %-20s %-20s %-8s %-9s %6s %-24s %-24s %-16s %-15s %-32s %s\n",
				"ID", "MERGED", "SERVICE", "RISK", "KIND", "PR", "AUTHOR", "APPROVERS", "SIGNED BY", "OUTCOME", "ENVIRONMENTS", "TITLE")
		default:
			fmt.Fprintf(lw.w, narrowRow, "ID", "MERGED", "SERVICE", "RISK", "PR", "AUTHOR", "APPROVERS", "SIGNED BY [KEY]", "OUTCOME")
			fmt.Fprintf(lw.w, "%*s%s\n", narrowIndent, "", "KIND · ENVIRONMENTS · TITLE")
		}
	case "json":
		key := "changes"
		if lw.events {
			key = "events"
		}
		fmt.Fprintf(lw.w, "{\n  %q: [", key)
	}
	return nil
}

// Flush writes what is buffered.
func (lw *LogWriter) Flush() error {
	if lw.csv != nil {
		lw.csv.Flush()
		if err := lw.csv.Error(); err != nil {
			return err
		}
	}
	return lw.w.Flush()
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// cell makes a value safe for a table cell: one line, no control
// characters.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// csvCell keeps a spreadsheet from running a value as a formula: a cell
// starting with = + - @ or a tab or carriage return is prefixed with '.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

var changeCSVHeader = []string{"id", "title", "service", "kind", "risk", "owner", "path", "author", "approvers", "pr", "prURL",
	"mergeCommit", "mergedAt", "approvedAt", "signature", "signedBy", "signedAt", "outcome", "environments",
	"applied", "verified", "rolledBack", "problems"}

var eventCSVHeader = []string{"ticket", "title", "service", "seq", "kind", "env", "at", "actor", "commit", "reason"}

// envSummary is "staging=verified prod=pending".
func envSummary(envs []EnvOutcome) string {
	parts := make([]string, len(envs))
	for i, e := range envs {
		parts[i] = e.Env + "=" + e.Outcome
	}
	return strings.Join(parts, " ")
}

// envTimes is "staging=<time> prod=<time>" for the environments where
// pick is set.
func envTimes(envs []EnvOutcome, pick func(EnvOutcome) time.Time) string {
	var parts []string
	for _, e := range envs {
		if t := pick(e); !t.IsZero() {
			parts = append(parts, e.Env+"="+rfc3339(t))
		}
	}
	return strings.Join(parts, " ")
}

// WriteChange writes one row of Log.
func (lw *LogWriter) WriteChange(c *Change) error {
	if err := lw.begin(); err != nil {
		return err
	}
	lw.rows++
	switch lw.format {
	case "json":
		lw.beginJSON()
		lw.buf = appendChange(lw.buf[:0], "    ", c)
		_, err := lw.w.Write(lw.buf)
		return err
	case "csv":
		pr := ""
		if c.PR != 0 {
			pr = strconv.FormatInt(c.PR, 10)
		}
		rec := []string{c.ID, c.Title, c.Service, c.Kind, c.Risk, c.Owner, c.Path, c.Author, strings.Join(c.Approvers, " "), pr, c.PRURL,
			c.MergeCommit, rfc3339(c.MergedAt), rfc3339(c.ApprovedAt), c.Signature, c.SignedBy, rfc3339(c.SignedAt), c.Outcome,
			envSummary(c.Environments),
			envTimes(c.Environments, func(e EnvOutcome) time.Time { return e.Applied }),
			envTimes(c.Environments, func(e EnvOutcome) time.Time { return e.Verified }),
			envTimes(c.Environments, func(e EnvOutcome) time.Time { return e.RolledBack }),
			strings.Join(c.Problems, "; ")}
		for i := range rec {
			rec[i] = csvCell(rec[i])
		}
		return lw.csv.Write(rec)
	}
	pr := "-"
	if c.PR != 0 {
		pr = "#" + strconv.FormatInt(c.PR, 10)
	}
	signed := c.SignedBy
	if c.Signature == "unsigned" {
		signed = "UNSIGNED"
	} else if c.Signature == "signed" && signed == "" {
		signed = "signed"
	}
	title := cell(c.Title)
	if len(c.Problems) > 0 {
		title = "(!) " + title
	}
	if lw.Wide {
		if c.SignedKey != "" {
			signed += "[" + cell(c.SignedKey) + "]"
		}
		_, err := fmt.Fprintf(lw.w, "%-15s %-20s %-20s %-8s %-9s %6s %-24s %-24s %-16s %-15s %-32s %s\n",
			cell(c.ID), rfc3339(c.MergedAt), cell(c.Service), cell(c.Risk), cell(c.Kind), pr, cell(c.Author),
			cell(strings.Join(c.Approvers, ",")), cell(signed), cell(c.Outcome), cell(envSummary(c.Environments)), title)
		return err
	}
	merged := "-"
	if !c.MergedAt.IsZero() {
		merged = c.MergedAt.UTC().Format(time.DateOnly)
	}
	_, err := fmt.Fprintf(lw.w, narrowRow,
		elide(cell(c.ID), 13), merged, elide(cell(c.Service), 10), elide(cell(c.Risk), 8), elide(pr, 5),
		elide(cell(c.Author), 14), elideList(c.Approvers, 14), narrowSigner(cell(signed), c.SignedKey), elide(cell(c.Outcome), 15))
	if err != nil {
		return err
	}
	second := cell(c.Kind) + " · " + cell(envSummary(c.Environments)) + " · " + title
	_, err = fmt.Fprintf(lw.w, "%*s%s\n", narrowIndent, "", elide(second, TableWidth-narrowIndent))
	return err
}

// TableWidth is the width the default table of LogWriter fits in.
const TableWidth = 120

// narrowRow is the first line of a change in the default table (at most
// 13+10+10+8+5+14+14+20+15 runes and 8 spaces: TableWidth - 1); the
// second line, indented by narrowIndent, holds the kind, the outcome per
// environment and the title.
const (
	narrowRow    = "%-13s %-10s %-10s %-8s %-5s %-14s %-14s %-20s %s\n"
	narrowIndent = 14
	// narrowEvent is an event row of the default table before its reason,
	// which wraps in the remaining 44 columns.
	narrowEvent = "%-20s %-13s %3s %-12s %-8s %-14s "
)

// narrowSigner is the actor and the start of the key id,
// "ci/sign[7YHzhPQG]", in at most 20 runes; Wide prints the whole key id.
func narrowSigner(actor, key string) string {
	if key == "" {
		return elide(actor, 20)
	}
	short := []rune(strings.TrimPrefix(cell(key), "SHA256:"))
	short = short[:min(len(short), 8)] // a fingerprint's prefix, as ssh-keygen -l shows it
	return elide(actor, 20-len(short)-2) + "[" + string(short) + "]"
}

// elide shortens s to at most n runes, ending in "…" when cut.
func elide(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// elideList joins items with "," in at most n runes: as many as fit,
// then "+k" for the k left out.
func elideList(items []string, n int) string {
	if len(items) == 0 {
		return "-"
	}
	all := cell(strings.Join(items, ","))
	if utf8.RuneCountInString(all) <= n {
		return all
	}
	for k := len(items) - 1; k >= 1; k-- {
		more := "+" + strconv.Itoa(len(items)-k)
		head := cell(strings.Join(items[:k], ","))
		if utf8.RuneCountInString(head)+1+len(more) <= n {
			return head + "," + more
		}
	}
	more := "+" + strconv.Itoa(len(items)-1)
	return elide(cell(items[0]), n-1-len(more)) + "," + more
}

// WriteEvent writes one row of LogEvents.
func (lw *LogWriter) WriteEvent(e *EventRow) error {
	if err := lw.begin(); err != nil {
		return err
	}
	lw.rows++
	switch lw.format {
	case "json":
		lw.beginJSON()
		lw.buf = appendEvent(lw.buf[:0], "    ", e)
		_, err := lw.w.Write(lw.buf)
		return err
	case "csv":
		rec := []string{e.Ticket, e.Title, e.Service, strconv.Itoa(e.Seq), e.Kind, e.Env, rfc3339(e.At), e.Actor, e.Commit, e.Reason}
		for i := range rec {
			rec[i] = csvCell(rec[i])
		}
		return lw.csv.Write(rec)
	}
	reason := cell(e.Reason)
	if lw.Wide {
		_, err := fmt.Fprintf(lw.w, "%-20s %-15s %3d %-15s %-12s %-20s %s\n",
			rfc3339(e.At), cell(e.Ticket), e.Seq, cell(e.Kind), cell(e.Env), cell(e.Actor), reason)
		return err
	}
	prefix := fmt.Sprintf(narrowEvent, rfc3339(e.At), elide(cell(e.Ticket), 13), strconv.Itoa(e.Seq),
		elide(cell(e.Kind), 12), elide(cell(e.Env), 8), elide(cell(e.Actor), 14))
	// The reason wraps under itself: a failure's reason is read whole.
	indent := utf8.RuneCountInString(prefix)
	for i, line := range wrap(reason, TableWidth-indent) {
		if i > 0 {
			prefix = strings.Repeat(" ", indent)
		}
		if _, err := fmt.Fprintf(lw.w, "%s%s\n", prefix, line); err != nil {
			return err
		}
	}
	return nil
}

// beginJSON separates a row from the one before.
func (lw *LogWriter) beginJSON() {
	if lw.rows > 1 {
		lw.w.WriteByte(',')
	}
	lw.w.WriteString("\n    ")
}

// Finish ends the output; the JSON document closes with the heads read,
// the counts and the problems.
func (lw *LogWriter) Finish(res *LogResult) error {
	if err := lw.begin(); err != nil {
		return err
	}
	if lw.format == "json" {
		if lw.rows > 0 {
			lw.w.WriteString("\n  ")
		}
		lw.w.WriteString("],\n")
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		// The result's fields follow the rows in the same object.
		lw.w.Write(b[2 : len(b)-1])
		lw.w.WriteString("}\n")
	}
	return lw.Flush()
}

// wrap breaks s into lines of at most n runes, at spaces where it can.
func wrap(s string, n int) []string {
	var lines []string
	for utf8.RuneCountInString(s) > n {
		r := []rune(s)
		cut := n
		for i := n; i > n/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
		s = strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(lines, s)
}
