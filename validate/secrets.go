package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cabhq/cab/internal/diag"
	"github.com/cabhq/cab/internal/gitx"
	"github.com/cabhq/cab/schema/load"
)

// Committed secrets. The gate refuses private keys and tokens of the common
// formats anywhere in what a pull request adds or changes (on files: in the
// files checked). Only text is scanned: a blob with a NUL byte in its first
// binarySniff bytes is binary and skipped, and at most maxScanBytes of a
// file are read. A line holding allowSecretMarker is not scanned (for
// documentation that shows a format).

const (
	// maxScanBytes is the largest file scanned for secrets.
	maxScanBytes = 1 << 20
	// binarySniff is how much of a file decides that it is binary, as git
	// decides it.
	binarySniff = 8000
	// allowSecretMarker on a line exempts it from the scan.
	allowSecretMarker = "cab:allow-secret"
)

// secretKind is one format of secret.
type secretKind struct {
	what string
	re   *regexp.Regexp
	// lits are literals one of which every match of re contains: text
	// without any of them is not searched (FuzzSecretLiterals holds the
	// two together).
	lits []string
}

// secretKinds are the formats refused. Each pattern is anchored on a fixed
// prefix that real formats carry, so that ordinary text does not match.
// They are compiled on first use, not at start-up.
var secretKinds = sync.OnceValue(func() []secretKind {
	return []secretKind{
		{"a private key (PEM)", regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----`), []string{"-----BEGIN"}},
		{"a GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})\b`), []string{"gh", "github_pat_"}},
		{"a GitLab token", regexp.MustCompile(`\b(?:glpat|gldt|glrt|glptt|gloas|glsoat|glcbt)-[A-Za-z0-9_-]{20,}`), []string{"gl"}},
		{"an AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`), []string{"AKIA", "ASIA", "ABIA", "ACCA"}},
		{"a Slack token", regexp.MustCompile(`\bxox[abposr]-[0-9A-Za-z-]{10,}`), []string{"xox"}},
		{"a Slack webhook URL", regexp.MustCompile(`https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}`), []string{"https://hooks.slack.com/"}},
		{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), []string{"AIza"}},
		{"a Stripe secret key", regexp.MustCompile(`\b[rs]k_live_[0-9A-Za-z]{20,}\b`), []string{"k_live_"}},
		{"an npm token", regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`), []string{"npm_"}},
		{"a PyPI token", regexp.MustCompile(`\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`), []string{"pypi-AgEIcHlwaS5vcmc"}},
	}
})

// mayMatch reports whether b holds one of k's literals.
func (k secretKind) mayMatch(b []byte) bool {
	for _, l := range k.lits {
		if bytes.Contains(b, []byte(l)) {
			return true
		}
	}
	return false
}

// isBinary reports whether data looks binary, as git decides it.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0
}

// scanSecrets returns a diagnostic for every secret in data, the content
// of the file named name, at its line and column (1-based, in bytes).
// hint says what to do; binary data is not scanned.
func scanSecrets(name string, data []byte, hint string) diag.List {
	if isBinary(data) {
		return nil
	}
	// Only the kinds whose literals occur in the file are searched for.
	var kinds []secretKind
	for _, k := range secretKinds() {
		if k.mayMatch(data) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	var out diag.List
	line := 1
	for len(data) > 0 {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if !bytes.Contains(l, []byte(allowSecretMarker)) {
			for _, k := range kinds {
				if !k.mayMatch(l) {
					continue
				}
				for _, m := range k.re.FindAllIndex(l, -1) {
					out = append(out, diag.Diagnostic{File: name, Line: line, Column: m[0] + 1, Severity: diag.Error, Code: "secret",
						Message: fmt.Sprintf("%s is committed here (%s)", k.what, redact(l[m[0]:m[1]])), Hint: hint})
				}
			}
		}
		line++
	}
	return out
}

// redact shows enough of a secret to find it, and not enough to use it.
func redact(s []byte) string {
	if bytes.HasPrefix(s, []byte("-----")) {
		return string(s)
	}
	n := min(len(s)/4, 8)
	return string(s[:n]) + "…"
}

// Hints of secret diagnostics.
const (
	secretHintPR    = "remove it from the pull request and rotate it now: it is in git history from this commit on, and deleting the file later does not take it out; keep keys and tokens in a secret store or CI secrets, never in the repository"
	secretHintLocal = "remove it before you commit, and keep keys and tokens in a secret store or CI secrets; if it was ever pushed, rotate it"
)

// scanChange scans the blob a pull request adds or changes for secrets:
// regular files only, at most maxScanBytes (a larger text file is a
// warning that says it was not scanned), binary skipped.
func scanChange(c change) (diag.List, error) {
	if c.Deleted() || !gitx.IsRegular(c.ToMode) {
		return nil, nil
	}
	src, err := gitx.ReadBlob(c.s, c.To, maxScanBytes)
	if tl, ok := errors.AsType[*gitx.TooLargeError](err); ok {
		return notScanned(c, tl.Size)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.Path, err)
	}
	return scanSecrets(c.Path, src, secretHintPR), nil
}

// notScanned warns that a text file of size bytes was too large to scan;
// only its start is read, to tell text from binary (which is skipped).
func notScanned(c change, size int64) (diag.List, error) {
	f, err := object.GetBlob(c.s, c.To)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.Path, err)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.Path, err)
	}
	head := make([]byte, binarySniff)
	n, _ := io.ReadFull(r, head)
	r.Close()
	if isBinary(head[:n]) {
		return nil, nil
	}
	return diag.List{{File: c.Path, Line: 1, Column: 1, Severity: diag.Warning, Code: "secret",
		Message: fmt.Sprintf("not scanned for secrets: the file is %d bytes, more than the %d scanned", size, maxScanBytes),
		Hint:    "keep large files out of the change repository"}}, nil
}

// scanPaths scans the files named by paths for secrets: files as given,
// and the regular files under directories (hidden entries, symlinks and
// files over maxScanBytes skipped; the check reports what it refuses of
// tickets on its own).
func scanPaths(paths []string) (diag.List, error) {
	var out diag.List
	scan := func(name string) error {
		b, d, err := load.ReadFile(name, maxScanBytes)
		if err != nil || d != nil {
			return err
		}
		out = append(out, scanSecrets(name, b, secretHintLocal)...)
		return nil
	}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", p, err)
		}
		if !fi.IsDir() {
			if fi.Mode().IsRegular() {
				if err := scan(filepath.Clean(p)); err != nil {
					return nil, err
				}
			}
			continue
		}
		err = filepath.WalkDir(p, func(name string, e fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case name != p && strings.HasPrefix(e.Name(), "."):
				if e.IsDir() {
					return fs.SkipDir
				}
				return nil
			case e.Type().IsRegular():
				return scan(name)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scanning %s for secrets: %w", p, err)
		}
	}
	return out, nil
}
