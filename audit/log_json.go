package audit

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonWriter appends indented JSON, byte for byte what
// json.MarshalIndent(v, prefix, "  ") writes for the row types of cab log
// (a test holds it to that), without reflection: encoding/json costs
// more than everything else a warm cab log does for ten thousand rows.
type jsonWriter struct {
	b      []byte
	prefix string
	depth  int
	first  bool
}

func (w *jsonWriter) newline() {
	w.b = append(w.b, '\n')
	w.b = append(w.b, w.prefix...)
	for range w.depth {
		w.b = append(w.b, ' ', ' ')
	}
}

func (w *jsonWriter) open(c byte) {
	w.b = append(w.b, c)
	w.depth++
	w.first = true
}

func (w *jsonWriter) close(c byte) {
	w.depth--
	if !w.first {
		w.newline()
	}
	w.b = append(w.b, c)
	w.first = false
}

// item starts an array element or an object member.
func (w *jsonWriter) item() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.newline()
}

func (w *jsonWriter) key(k string) {
	w.item()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':', ' ')
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

func (w *jsonWriter) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

func (w *jsonWriter) timeOmit(k string, t time.Time) {
	if !t.IsZero() {
		w.time(k, t)
	}
}

func (w *jsonWriter) strings(k string, ss []string) {
	w.key(k)
	if ss == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.open('[')
	for _, s := range ss {
		w.item()
		w.b = appendJSONString(w.b, s)
	}
	w.close(']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding with HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendChange appends c as json.MarshalIndent(c, prefix, "  ") does.
func appendChange(b []byte, prefix string, c *Change) []byte {
	w := &jsonWriter{b: b, prefix: prefix}
	w.open('{')
	w.str("id", c.ID)
	w.str("title", c.Title)
	w.str("service", c.Service)
	w.str("kind", c.Kind)
	w.str("risk", c.Risk)
	w.strOmit("owner", c.Owner)
	w.str("path", c.Path)
	w.strOmit("author", c.Author)
	w.strOmit("merger", c.Merger)
	w.strings("approvers", c.Approvers)
	if c.PR != 0 {
		w.int("pr", c.PR)
	}
	w.strOmit("prURL", c.PRURL)
	w.str("mergeCommit", c.MergeCommit)
	w.strOmit("commitURL", c.CommitURL)
	w.time("mergedAt", c.MergedAt)
	w.timeOmit("openedAt", c.OpenedAt)
	w.timeOmit("approvedAt", c.ApprovedAt)
	w.str("signature", c.Signature)
	w.strOmit("signedBy", c.SignedBy)
	w.timeOmit("signedAt", c.SignedAt)
	w.strOmit("signedKey", c.SignedKey)
	w.key("environments")
	if c.Environments == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.open('[')
		for i := range c.Environments {
			e := &c.Environments[i]
			w.item()
			w.open('{')
			w.str("env", e.Env)
			w.str("outcome", e.Outcome)
			w.timeOmit("at", e.At)
			w.timeOmit("applying", e.Applying)
			w.timeOmit("applied", e.Applied)
			w.timeOmit("verified", e.Verified)
			w.timeOmit("failed", e.Failed)
			w.timeOmit("rolledBack", e.RolledBack)
			w.timeOmit("rollbackFailed", e.RollbackFailed)
			w.strOmit("reason", e.Reason)
			w.close('}')
		}
		w.close(']')
	}
	if len(c.Fixes) > 0 {
		w.strings("fixes", c.Fixes)
	}
	w.strOmit("postReviewOf", c.PostReviewOf)
	w.str("outcome", c.Outcome)
	if len(c.Problems) > 0 {
		w.strings("problems", c.Problems)
	}
	w.close('}')
	return w.b
}

// appendEvent appends e as json.MarshalIndent(e, prefix, "  ") does.
func appendEvent(b []byte, prefix string, e *EventRow) []byte {
	w := &jsonWriter{b: b, prefix: prefix}
	w.open('{')
	w.str("ticket", e.Ticket)
	w.str("title", e.Title)
	w.str("service", e.Service)
	w.int("seq", int64(e.Seq))
	w.str("kind", e.Kind)
	w.strOmit("env", e.Env)
	w.time("at", e.At)
	w.strOmit("actor", e.Actor)
	w.strOmit("commit", e.Commit)
	w.strOmit("reason", e.Reason)
	w.close('}')
	return w.b
}
