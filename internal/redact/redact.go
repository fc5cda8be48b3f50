package redact

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// Placeholder replaces every credential found.
const Placeholder = "[REDACTED]"

// DefaultMax is the bound String applies: enough for an error message
// with a server's explanation, too little for a page of HTML.
const DefaultMax = 2048

// ScanLimit is how much of the input String and Bound read; the rest is
// dropped before scrubbing (the result is bounded well below it anyway).
const ScanLimit = 64 << 10

// MinSecret is the shortest secret New registers: a shorter one would
// scrub ordinary words, and is no secret anyway.
const MinSecret = 6

// rule is one pattern and its replacement.
type rule struct {
	re   *regexp.Regexp
	repl string
}

// rules are the known credential shapes, applied in order. They are
// compiled once, on first use (not at start-up), and never change.
var rules = sync.OnceValue(func() []rule {
	return []rule{
		// PEM private keys, whole (or to the end when cut).
		{regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`), Placeholder},
		// Credentials in URLs (first: "x-access-token:…@" is not a field).
		{regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s"'<>]+@`), "${1}" + Placeholder + "@"},
		// Header or field whose whole value is a credential: "Authorization:
		// Bearer x", "authorization=...", `"Private-Token": "x"`.
		{regexp.MustCompile(`(?i)((?:proxy-)?authorization|private-token|x-gitlab-token|job-token|x-api-key|set-cookie|cookie)("?\s*[:=]\s*"?)[^"\r\n]*`), "${1}${2}" + Placeholder},
		// key=value or "key": "value" where the key names a secret.
		// The value must be a word of six characters or more, so that prose
		// ("the secret: open …") survives.
		{regexp.MustCompile(`(?i)\b([a-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key))("?\s*[:=]\s*"?)[^\s"&,;'<>]{6,}`), "${1}${2}" + Placeholder},
		// Bearer tokens wherever they appear.
		{regexp.MustCompile(`(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}${2}" + Placeholder},
		// Known token formats.
		{regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{16,}`), Placeholder},
		{regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{16,}`), Placeholder},
		{regexp.MustCompile(`\bgl[a-z]{1,6}-[A-Za-z0-9_-]{16,}`), Placeholder},
		{regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z0-9]{12,}`), Placeholder},
		{regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]{8,}`), Placeholder},
		{regexp.MustCompile(`\bxapp-[A-Za-z0-9-]{8,}`), Placeholder},
		{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?`), Placeholder},
		{regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{30,}`), Placeholder},
		{regexp.MustCompile(`\bnpm_[A-Za-z0-9]{30,}`), Placeholder},
	}
})

// Redactor scrubs credentials: the known formats, and the secrets
// registered with New. A nil *Redactor scrubs the known formats only.
type Redactor struct {
	secrets []string // longest first, each with its escaped forms
}

// New returns a Redactor that also scrubs the given secrets (the tokens
// and webhook secrets the process holds). Empty strings are skipped; a
// secret shorter than MinSecret, or one that Placeholder contains, is an
// error, since scrubbing it would garble ordinary text or never finish.
func New(secrets ...string) (*Redactor, error) {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if len(s) < MinSecret {
			return nil, fmt.Errorf("redact: a secret of %d bytes is too short to scrub (want at least %d)", len(s), MinSecret)
		}
		if strings.Contains(Placeholder, s) {
			return nil, errors.New("redact: a secret is part of the placeholder " + Placeholder)
		}
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if !seen[v] {
				seen[v] = true
				r.secrets = append(r.secrets, v)
			}
		}
	}
	// Longest first, so that a secret containing another goes whole.
	for i := 1; i < len(r.secrets); i++ {
		for j := i; j > 0 && len(r.secrets[j]) > len(r.secrets[j-1]); j-- {
			r.secrets[j], r.secrets[j-1] = r.secrets[j-1], r.secrets[j]
		}
	}
	return r, nil
}

// Scrub replaces every credential in s with Placeholder. It reads all of
// s: callers bound it first (String does).
func (r *Redactor) Scrub(s string) string {
	if r != nil {
		// Registered secrets first and whole, before a rule takes part
		// of one and leaves the rest.
		for _, sec := range r.secrets {
			s = strings.ReplaceAll(s, sec, Placeholder)
		}
	}
	for _, ru := range rules() {
		s = ru.re.ReplaceAllString(s, ru.repl)
	}
	if r == nil {
		return s
	}
	// Replacing can only create a new occurrence across a placeholder's
	// edge; a few rounds settle it, and if not, nothing is kept.
	for range 4 {
		found := false
		for _, sec := range r.secrets {
			if strings.Contains(s, sec) {
				found = true
				s = strings.ReplaceAll(s, sec, Placeholder)
			}
		}
		if !found {
			return s
		}
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			return Placeholder
		}
	}
	return s
}

// String scrubs s and bounds it to DefaultMax bytes.
func (r *Redactor) String(s string) string { return r.Bound(s, DefaultMax) }

// Bound scrubs s and cuts it to at most max bytes (at a character
// boundary, with "…" appended when cut). Invalid UTF-8 becomes "?".
func (r *Redactor) Bound(s string, max int) string {
	if len(s) > ScanLimit {
		s = s[:ScanLimit]
	}
	s = strings.ToValidUTF8(s, "?")
	s = r.Scrub(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Error returns err with its message scrubbed and bounded; errors.Is and
// errors.As still see err (its fields are not scrubbed: a caller that
// prints them scrubs them itself). Error(nil) is nil.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*scrubbed); ok && e.by == r {
		return err
	}
	return &scrubbed{msg: r.String(err.Error()), err: err, by: r}
}

// scrubbed is an error whose message was scrubbed.
type scrubbed struct {
	msg string
	err error
	by  *Redactor
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// String scrubs the known credential formats out of s and bounds it to
// DefaultMax bytes; it is (*Redactor)(nil).String.
func String(s string) string { return (*Redactor)(nil).String(s) }

// Error scrubs the known credential formats out of err's message; it is
// (*Redactor)(nil).Error.
func Error(err error) error { return (*Redactor)(nil).Error(err) }

// Bound scrubs the known credential formats out of s and cuts it to max
// bytes; it is (*Redactor)(nil).Bound.
func Bound(s string, max int) string { return (*Redactor)(nil).Bound(s, max) }

// Scrub replaces the known credential formats in s with Placeholder; it
// is (*Redactor)(nil).Scrub.
func Scrub(s string) string { return (*Redactor)(nil).Scrub(s) }
