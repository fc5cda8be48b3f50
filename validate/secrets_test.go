package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/diag"
)

// Secrets are assembled at run time, so that this repository holds none
// that a scanner (ours or a forge's) would flag.
func fakeSecret(kind string) string {
	r := func(s string, n int) string { return strings.Repeat(s, n) }
	switch kind {
	case "pem":
		return "-----BEGIN " + "RSA PRIVATE KEY-----"
	case "openssh":
		return "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
	case "cosign":
		return "-----BEGIN " + "ENCRYPTED SIGSTORE PRIVATE KEY-----"
	case "cosign-old":
		return "-----BEGIN " + "ENCRYPTED COSIGN PRIVATE KEY-----"
	case "pgp":
		return "-----BEGIN " + "PGP PRIVATE KEY BLOCK-----"
	case "ghp":
		return "gh" + "p_" + r("aB3d", 9)
	case "gho":
		return "gh" + "o_" + r("Zz09", 9)
	case "github_pat":
		return "github" + "_pat_" + r("11AAbb22_", 9) + "x"
	case "glpat":
		return "gl" + "pat-" + r("x1Y2", 5)
	case "aws":
		return "AK" + "IA" + r("Q7", 8)
	case "slack":
		return "xo" + "xb-" + r("1234567890", 2) + "-abc"
	case "slack-webhook":
		return "https://hooks." + "slack.com/services/T0000/B0000/" + r("x", 24)
	}
	panic(kind)
}

func TestScanSecrets(t *testing.T) {
	tests := []struct {
		name, src string
		// want lists "line:col: what" of each finding.
		want []string
	}{
		{"PEM private key", "a: 1\n" + fakeSecret("pem") + "\nMIIE...\n", []string{"2:1: a private key (PEM)"}},
		{"OpenSSH key", fakeSecret("openssh") + "\n", []string{"1:1: a private key (PEM)"}},
		{"cosign encrypted key", "x\n\n" + fakeSecret("cosign"), []string{"3:1: a private key (PEM)"}},
		{"cosign encrypted key, old header", fakeSecret("cosign-old"), []string{"1:1: a private key (PEM)"}},
		{"PGP private key", fakeSecret("pgp"), []string{"1:1: a private key (PEM)"}},
		{"GitHub classic token", `token: "` + fakeSecret("ghp") + `"`, []string{"1:9: a GitHub token"}},
		{"GitHub OAuth token", fakeSecret("gho"), []string{"1:1: a GitHub token"}},
		{"GitHub fine-grained token", "  " + fakeSecret("github_pat"), []string{"1:3: a GitHub token"}},
		{"GitLab token", "export T=" + fakeSecret("glpat"), []string{"1:10: a GitLab token"}},
		{"AWS key id", "aws_access_key_id = " + fakeSecret("aws"), []string{"1:21: an AWS access key id"}},
		{"Slack token", fakeSecret("slack"), []string{"1:1: a Slack token"}},
		{"Slack webhook", "url: " + fakeSecret("slack-webhook"), []string{"1:6: a Slack webhook URL"}},
		{"two on a line", fakeSecret("ghp") + " " + fakeSecret("aws"), []string{"1:1: a GitHub token", "1:42: an AWS access key id"}},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", nil},
		{"too short to be a token", "ghp_abc glpat-x AKIA123", nil},
		{"a digest", "image: ghcr.io/acme/pay@sha256:" + strings.Repeat("ab", 32), nil},
		{"allowed on purpose", "example: " + fakeSecret("ghp") + " # " + allowSecretMarker, nil},
		{"binary", "\x00\x01" + fakeSecret("pem"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range scanSecrets("f", []byte(tc.src), "hint") {
				assert.Equal(t, "secret", d.Code)
				assert.Equal(t, "hint", d.Hint)
				what, _, _ := strings.Cut(d.Message, " is committed")
				got = append(got, strings.Join([]string{itoa(d.Line), itoa(d.Column), " " + what}, ":"))
				for _, k := range []string{"ghp", "gho", "github_pat", "glpat", "aws", "slack", "slack-webhook"} {
					assert.NotContains(t, d.Message, fakeSecret(k), "a token is not repeated in full")
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A local check scans the files it is given.
func TestCheckPathsRefusesSecrets(t *testing.T) {
	root := newRepo(t, map[string]string{
		"changes/payments/CHG-2026-0001.cue": idTicket("CHG-2026-0001", nil),
		"deploy/key.pem":                     fakeSecret("openssh") + "\n",
		"notes.txt":                          "token " + fakeSecret("ghp") + "\n",
		".hidden/x":                          fakeSecret("pem"),
	})
	rep := check(t)
	var got []string
	for _, d := range rep.Diagnostics {
		if d.Code == "secret" {
			got = append(got, d.File)
			assert.Contains(t, d.Hint, "rotate")
		}
	}
	assert.ElementsMatch(t, []string{"deploy/key.pem", "notes.txt"}, got)
	require.NoError(t, os.WriteFile(filepath.Join(root, "changes/payments/CHG-2026-0001.cue"), []byte(idTicket("CHG-2026-0001", nil)+"// "+fakeSecret("aws")+"\n"), 0o644))
	rep = check(t, "changes/payments/CHG-2026-0001.cue")
	d := findDiag(t, rep, "changes/payments/CHG-2026-0001.cue", "AWS access key id")
	assert.Equal(t, "secret", d.Code)
}

// FuzzScanSecrets: the scanner never panics, its positions are inside the
// input, and a token on a line of its own is always found.
func FuzzScanSecrets(f *testing.F) {
	f.Add([]byte("a: 1\n"), 0)
	f.Add([]byte(fakeSecret("pem")+"\nxyz"), 3)
	f.Add([]byte("\x00binary"), 1)
	f.Add([]byte("ghp_ ghp_ glpat- AKIA xoxb-"), 2)
	f.Fuzz(func(t *testing.T, data []byte, at int) {
		check := func(src []byte) []int {
			lines := strings.Split(string(src), "\n")
			var found []int
			for _, d := range scanSecrets("f", src, "h") {
				if d.Line < 1 || d.Line > len(lines) || d.Column < 1 || d.Column > len(lines[d.Line-1]) {
					t.Fatalf("finding at %d:%d is outside the input (%d lines)", d.Line, d.Column, len(lines))
				}
				found = append(found, d.Line)
			}
			return found
		}
		check(data)
		if isBinary(data) {
			return
		}
		// Put a token on a line of its own, at a line boundary.
		lines := strings.Split(string(data), "\n")
		at = (at%(len(lines)+1) + len(lines) + 1) % (len(lines) + 1)
		withToken := append(append(append([]string{}, lines[:at]...), fakeSecret("ghp")), lines[at:]...)
		src := []byte(strings.Join(withToken, "\n"))
		if isBinary(src) {
			return
		}
		if got := check(src); !slices.Contains(got, at+1) && !strings.Contains(withToken[at], allowSecretMarker) {
			t.Fatalf("token on line %d not found (findings on %v)", at+1, got)
		}
	})
}

// The gate refuses secrets anywhere in what a pull request adds or
// changes, and reads nothing else.
func TestCheckPRRefusesSecrets(t *testing.T) {
	big := make([]byte, maxScanBytes+10)
	for i := range big {
		big[i] = 'a'
	}
	tests := []struct {
		name string
		base map[string]*entry
		head map[string]*entry
		want []string // "file:line:col" of each secret error
		warn []string // files not scanned, by warning
	}{
		{name: "a key file", head: map[string]*entry{"deploy/cosign.key": ptr(file(fakeSecret("cosign") + "\neyJrZGYiOnsi...\n"))},
			want: []string{"deploy/cosign.key:1:1"}},
		{name: "a token in a ticket comment", head: map[string]*entry{"changes/payments/CHG-2026-0002.cue": ptr(file(newTicket + "// " + fakeSecret("glpat") + "\n"))},
			want: []string{"changes/payments/CHG-2026-0002.cue:14:4"}},
		{name: "a token in cab.cue", head: map[string]*entry{"cab.cue": ptr(file(governanceConfig + "// slack: " + fakeSecret("slack") + "\n"))},
			want: []string{fmt.Sprintf("cab.cue:%d:11", strings.Count(governanceConfig, "\n")+1)}},
		{name: "an edited file", base: map[string]*entry{"ci/env": ptr(file("A=1\n"))}, head: map[string]*entry{"ci/env": ptr(file("A=1\nAWS=" + fakeSecret("aws") + "\n"))},
			want: []string{"ci/env:2:5"}},
		{name: "a secret the base already holds is not this change's", base: map[string]*entry{"old/key.pem": ptr(file(fakeSecret("pem")))},
			head: map[string]*entry{"README.md": ptr(file("# hi\n"))}},
		{name: "binary files are skipped", head: map[string]*entry{"bin/tool": ptr(file("\x7fELF\x00\x00" + fakeSecret("pem")))}},
		{name: "a large text file is named, not read", head: map[string]*entry{"docs/huge.txt": ptr(file(string(big)))}, warn: []string{"docs/huge.txt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGitRepo(t)
			files := with(baseFiles(), tc.base)
			b := g.commit("main", plumbing.ZeroHash, files)
			h := g.commit("pr", b, with(files, tc.head))
			rep, err := CheckPR(context.Background(), PROptions{Dir: g.dir, Base: "main", Head: "pr", Evidence: bound(approvedBy("github:1", "github:2", "github:5", "github:6"), h), Now: before})
			require.NoError(t, err)
			var got, warned []string
			for _, d := range rep.Diagnostics {
				if d.Code != "secret" {
					continue
				}
				if d.Severity == diag.Warning {
					warned = append(warned, d.File)
					continue
				}
				got = append(got, fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Column))
				assert.Contains(t, d.Hint, "rotate it now")
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.warn, warned)
		})
	}
}

// FuzzSecretLiterals holds each kind's literals to its pattern: whatever
// the pattern matches contains one of them, so skipping text without any
// (scanSecrets' prefilter) never skips a secret.
func FuzzSecretLiterals(f *testing.F) {
	for _, k := range []string{"pem", "openssh", "cosign", "pgp", "ghp", "gho", "github_pat", "glpat", "aws", "slack", "slack-webhook"} {
		f.Add([]byte("x " + fakeSecret(k) + " y"))
	}
	f.Add([]byte("AIza" + strings.Repeat("a", 35) + " sk_live_" + strings.Repeat("b", 20) + " npm_" + strings.Repeat("c", 36)))
	f.Add([]byte("pypi-AgEIcHlwaS5vcmc" + strings.Repeat("d", 50)))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range secretKinds() {
			for _, m := range k.re.FindAllIndex(data, -1) {
				if !k.mayMatch(data[m[0]:m[1]]) {
					t.Fatalf("%s: match %q holds none of %q", k.what, data[m[0]:m[1]], k.lits)
				}
			}
		}
	})
}
