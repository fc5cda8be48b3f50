package webui

import (
	"bytes"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// icsHorizon is how far back /calendar.ics goes: windows that ended
// earlier are left out, so that subscriptions stay small.
const icsHorizon = 90 * 24 * time.Hour

// WriteICS writes the windows of the tickets f selects that end after
// now minus 90 days, and every freeze, as an RFC 5545 calendar.
func WriteICS(w io.Writer, s *Snapshot, f Filter, now time.Time) error {
	var b icsWriter
	b.line("BEGIN:VCALENDAR")
	b.line("VERSION:2.0")
	b.line("PRODID:-//cab//change calendar//EN")
	b.line("CALSCALE:GREGORIAN")
	b.prop("X-WR-CALNAME", "cab changes")
	since := now.Add(-icsHorizon)
	for _, t := range s.Tickets {
		w := t.Window
		if w.Start.IsZero() || w.End.IsZero() || !w.End.After(since) || !f.match(t) {
			continue
		}
		b.line("BEGIN:VEVENT")
		b.prop("UID", t.ID+"@cab")
		b.line("DTSTAMP:" + icsTime(t.MergedAt))
		b.line("DTSTART:" + icsTime(w.Start))
		b.line("DTEND:" + icsTime(w.End))
		b.prop("SUMMARY", t.ID+" "+t.Title+" ["+t.Detail+"]")
		desc := "service: " + t.Service + "\nkind: " + t.Kind + "\nrisk: " + t.Risk + "\nowner: " + t.Owner + "\nstate: " + t.Detail
		if t.Reason != "" {
			desc += "\nreason: " + t.Reason
		}
		if t.Description != "" {
			desc += "\n\n" + t.Description
		}
		b.prop("DESCRIPTION", desc)
		b.prop("CATEGORIES", t.Service)
		if t.State == StateFailed {
			b.line("STATUS:CANCELLED")
		} else {
			b.line("STATUS:CONFIRMED")
		}
		b.line("END:VEVENT")
	}
	for _, sp := range s.Freezes.Listing(since, now.AddDate(1, 0, 0)) { // recurring freezes: their occurrences of the coming year
		if !sp.End.After(since) || (len(f.Envs) > 0 && !sp.Applies(f.Envs)) {
			continue
		}
		b.line("BEGIN:VEVENT")
		b.prop("UID", "freeze-"+sp.Name+"-"+icsTime(sp.Start)+"@cab")
		b.line("DTSTAMP:" + icsTime(sp.Start))
		b.line("DTSTART:" + icsTime(sp.Start))
		b.line("DTEND:" + icsTime(sp.End))
		b.prop("SUMMARY", "Freeze: "+sp.Name)
		desc := sp.Reason
		if len(sp.Environments) > 0 {
			desc += "\nenvironments: " + strings.Join(sp.Environments, ", ")
		}
		b.prop("DESCRIPTION", strings.TrimPrefix(desc, "\n"))
		b.line("TRANSP:OPAQUE")
		b.line("END:VEVENT")
	}
	b.line("END:VCALENDAR")
	_, err := w.Write(b.buf.Bytes())
	return err
}

func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsWriter writes content lines: TEXT values escaped, lines folded at 75
// octets (never inside a UTF-8 sequence), CRLF line ends.
type icsWriter struct{ buf bytes.Buffer }

// prop writes NAME:value with value escaped as TEXT.
func (w *icsWriter) prop(name, value string) { w.line(name + ":" + icsEscape(value)) }

func (w *icsWriter) line(l string) {
	const max = 75
	first := true
	for len(l) > 0 {
		room := max
		if !first {
			room = max - 1 // the leading space of a continuation
			w.buf.WriteByte(' ')
		}
		n := min(room, len(l))
		for n < len(l) && n > 0 && !utf8.RuneStart(l[n]) {
			n--
		}
		w.buf.WriteString(l[:n])
		w.buf.WriteString("\r\n")
		l = l[n:]
		first = false
	}
}

// icsEscape escapes a TEXT value (RFC 5545 3.3.11): backslash,
// semicolon, comma and newlines; other control characters, which TEXT
// does not allow, are dropped, and invalid UTF-8 is replaced.
func icsEscape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\r\n", "\n") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
