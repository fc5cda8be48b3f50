package redact

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tokens in the documented shapes (made up, of the right length).
const (
	ghp    = "ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8"
	ghPAT  = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU"
	ghs    = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	glpat  = "glpat-xY9zAbCdEfGhIjKlMnOp"
	akia   = "AKIAIOSFODNN7EXAMPLE"
	slack  = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	jwt    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	pemKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oJS\n-----END EC PRIVATE KEY-----"
)

func TestScrub(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		secret string // must not survive
		keep   string // must survive
	}{
		{"authorization header", "401: echoed Authorization: Bearer abc.def.ghi-123456 in request", "abc.def.ghi-123456", "401: echoed Authorization: "},
		{"authorization basic", "headers: {\"Authorization\": \"Basic eC1hY2Nlc3MtdG9rZW46aHVudGVyMg==\"}", "eC1hY2Nlc3MtdG9rZW46aHVudGVyMg==", `"Authorization": "`},
		{"private-token", "Private-Token: zzzsecretvalue123\nnext line", "zzzsecretvalue123", "next line"},
		{"cookie", "Set-Cookie: session=0123456789abcdef; Path=/", "0123456789abcdef", "Set-Cookie"},
		{"password field", `{"user":"bob","password":"hunter2hunter2"}`, "hunter2hunter2", `"user":"bob"`},
		{"query token", "GET /api?access_token=s3cr3tValue&page=2", "s3cr3tValue", "page=2"},
		{"bearer in prose", "upstream said: bearer 0123456789abcdefXYZ is expired", "0123456789abcdefXYZ", "is expired"},
		{"github classic", "bad credentials for " + ghp + ".", ghp, "bad credentials for "},
		{"github fine-grained", "token " + ghPAT, ghPAT, ""},
		{"github app", "x:" + ghs, ghs, "x:"},
		{"gitlab", "glpat: " + glpat + " revoked", glpat, "revoked"},
		{"aws", "key " + akia + " denied", akia, "denied"},
		{"slack", "slack " + slack, slack, "slack"},
		{"jwt", "id_token " + jwt + " end", jwt, " end"},
		{"pem", "key:\n" + pemKey + "\ndone", "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oJS", "done"},
		{"pem cut", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0123", "MIIEowIBAAKCAQEA0123", "key:"},
		{"url userinfo", "fetching https://x-access-token:topsecret99@git.example.com/o/r.git failed", "topsecret99", "@git.example.com/o/r.git failed"},
		{"prose survives", "the secret: open /x: no such file", "", "the secret: open /x: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if tt.secret != "" {
				assert.NotContains(t, got, tt.secret, "got %q", got)
				assert.Contains(t, got, Placeholder)
			}
			assert.Contains(t, got, tt.keep)
		})
	}
}

func TestRegistered(t *testing.T) {
	r, err := New("", "plain-Secret/with+chars")
	require.NoError(t, err)
	for _, in := range []string{
		"body echoed plain-Secret/with+chars back",
		"url ?t=" + "plain-Secret%2Fwith%2Bchars",
		"path /plain-Secret%2Fwith+chars/",
	} {
		got := r.String(in)
		assert.NotContains(t, got, "plain-Secret", "in %q got %q", in, got)
		assert.Contains(t, got, Placeholder)
	}
	// A nil Redactor scrubs formats, not secrets it does not know.
	assert.Contains(t, (*Redactor)(nil).String("plain-Secret/with+chars"), "plain-Secret")

	_, err = New("abc")
	assert.Error(t, err, "too short")
	_, err = New("EDACTED")
	assert.Error(t, err, "inside the placeholder")
}

func TestBound(t *testing.T) {
	long := strings.Repeat("é", 5000) + ghp
	got := String(long)
	assert.LessOrEqual(t, len(got), DefaultMax+len("…"))
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasSuffix(got, "…"))

	// A token straddling the cut is scrubbed before the cut.
	in := strings.Repeat("a ", 20) + ghp
	got = (*Redactor)(nil).Bound(in, 45)
	assert.NotContains(t, got, "ghp_1A")
	assert.Equal(t, "?", String("\xff"))
}

func TestError(t *testing.T) {
	r, err := New("tok-123456")
	require.NoError(t, err)
	base := fmt.Errorf("GET: 401 body tok-123456: %w", fs.ErrPermission)
	e := r.Error(base)
	assert.NotContains(t, e.Error(), "tok-123456")
	assert.ErrorIs(t, e, fs.ErrPermission, "errors.Is sees through")
	assert.Same(t, e, r.Error(e), "not wrapped twice")
	assert.NoError(t, r.Error(nil))
	var pe *fs.PathError
	assert.False(t, errors.As(e, &pe))
}

func TestHandler(t *testing.T) {
	r, err := New("webhook-secret-42")
	require.NoError(t, err)
	var buf bytes.Buffer
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, nil))).With("remote", "https://u:webhook-secret-42@h/")
	log.Info("saw webhook-secret-42", "err", errors.New("401 "+ghp), "changes", []string{"a " + glpat},
		slog.Group("g", "v", "Authorization: token abcdefghijkl"), "n", 3)
	out := buf.String()
	for _, s := range []string{"webhook-secret-42", ghp, glpat, "abcdefghijkl"} {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, `"n":3`)
}
