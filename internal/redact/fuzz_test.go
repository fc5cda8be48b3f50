package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScrub plants a registered secret and a GitHub token in arbitrary
// text and checks that neither survives, and that the result is bounded
// valid UTF-8.
func FuzzScrub(f *testing.F) {
	f.Add("error: ", " trailing", "s3cr3t-value-0123", 100)
	f.Add("Authorization: ", "", "abcdefgh", 10)
	f.Add("[REDACT", "ED]", "EDACTED]x", 2048)
	f.Add(strings.Repeat("é", 40), "ghp_", "ghp_0123456789abcdefABCDEF", 33)
	f.Fuzz(func(t *testing.T, before, after, secret string, max int) {
		if max < 1 || max > 4*DefaultMax || len(before)+len(after) > ScanLimit/2 {
			return
		}
		secret = strings.TrimSpace(secret)
		if len(secret) > 200 || !utf8.ValidString(secret) || !utf8.ValidString(before) || !utf8.ValidString(after) {
			return
		}
		r, err := New(secret)
		if err != nil {
			return
		}
		const tok = "ghp_ZZZZ9999YYYY8888XXXX7777WWWW6666VVVV"
		in := before + secret + after + " " + tok + " "
		got := r.Bound(in, max)
		if secret != "" && strings.Contains(got, secret) {
			t.Fatalf("secret %q survived in %q", secret, got)
		}
		if strings.Contains(got, tok[:12]) {
			t.Fatalf("token survived in %q", got)
		}
		if len(got) > max+len("…") {
			t.Fatalf("len %d > bound %d", len(got), max)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
	})
}
