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
)

// Formats lists the output formats of LogWriter.
var Formats = []string{"table", "json", "csv"}

// LogWriter renders the rows of Log or LogEvents as they come: a table for
// people, CSV for spreadsheets, or one JSON document whose rows are
// written one by one. Call Flush after each row to make it visible at
// once, and Finish at the end.
type LogWriter struct {
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
		if lw.events {
			fmt.Fprintf(lw.w, "%-20s %-15s %3s %-15s %-12s %-20s %s\n", "AT", "TICKET", "SEQ", "KIND", "ENV", "ACTOR", "REASON")
		} else {
			fmt.Fprintf(lw.w, "%-15s %-20s %-20s %-8s %-9s %6s %-24s %-24s %-16s %-15s %-32s %s\n",
				"ID", "MERGED", "SERVICE", "RISK", "KIND", "PR", "AUTHOR", "APPROVERS", "SIGNED BY", "OUTCOME", "ENVIRONMENTS", "TITLE")
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
	_, err := fmt.Fprintf(lw.w, "%-15s %-20s %-20s %-8s %-9s %6s %-24s %-24s %-16s %-15s %-32s %s\n",
		cell(c.ID), rfc3339(c.MergedAt), cell(c.Service), cell(c.Risk), cell(c.Kind), pr, cell(c.Author),
		cell(strings.Join(c.Approvers, ",")), cell(signed), cell(c.Outcome), cell(envSummary(c.Environments)), title)
	return err
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
	_, err := fmt.Fprintf(lw.w, "%-20s %-15s %3d %-15s %-12s %-20s %s\n",
		rfc3339(e.At), cell(e.Ticket), e.Seq, cell(e.Kind), cell(e.Env), cell(e.Actor), cell(e.Reason))
	return err
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
