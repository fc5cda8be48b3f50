package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/sign/sigstoretest"
)

// Keyless signing end to end through the cab binary: `cab sign --keyless`
// in a "GitHub Actions job" gets its identity token from the Actions token
// endpoint, a certificate from Fulcio and an entry in Rekor; `cab verify`
// and `cab reconcile` accept the bundle only for an identity the base
// cab.cue trusts. Fulcio, Rekor and the token endpoint are
// sigstoretest's fakes, replaying the documented APIs, because Sigstore's
// public instances are unreachable here.
func TestKeylessSignThenVerify(t *testing.T) {
	w := newLWorld(t)
	ss := sigstoretest.New(t)
	for _, kv := range ss.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	signKeyless := func(extra ...string) {
		t.Helper()
		args := append([]string{"sign", "--keyless", "--fulcio-url", ss.Fulcio, "--rekor-url", ss.Rekor, "--forge", "git"}, extra...)
		out, code := lrun(t, w.work, "cab", args...)
		require.Zero(t, code, out)
		require.Contains(t, out, "1 signed, 0 unsigned")
		assert.NotContains(t, out, "warning", "cab.cue trusts a keyless identity")
	}

	// A governance change trusts the signing workflow's identity.
	trustKeyless(t, w, sigstoretest.Subject, ss.TrustedRoot(t))
	mergeApproved(t, w, "CHG-2026-0001", "app:v1", -time.Hour)
	signKeyless()

	signed := lgit(t, w.changes, "show", "cab/ledger:"+ledgerFile(t, w, "CHG-2026-0001", "signed.dsse"))
	assert.Contains(t, signed, `"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`, "the ledger holds the Sigstore bundle")

	out, code := lrun(t, w.work, "cab", "verify")
	require.Zero(t, code, "cab verify accepts the keyless signature:\n%s", out)
	out, code = lrun(t, w.work, "cab", "verify", "--subject", "CHG-2026-0001")
	require.Zero(t, code, "cab verify --subject reads the statement inside the bundle:\n%s", out)
	assert.Contains(t, out, `"CHG-2026-0001"`, "the subject is the ticket's canonical JSON")
	out, code = lrun(t, w.work, "cab", "verify", "--envelope", "CHG-2026-0001")
	require.Zero(t, code, out)
	assert.Contains(t, out, `"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`, "--envelope prints the bundle for cosign --bundle")

	out, code = w.reconcile()
	require.Zero(t, code, out)
	assert.Equal(t, "app:v1", w.image("staging"), "cab reconcile applied the keylessly signed ticket:\n%s", out)

	// Later, cab.cue trusts another workflow only: a ticket signed by the
	// sign workflow (token from --identity-token) is refused, and the
	// first ticket, judged by its own base, still verifies.
	trustKeyless(t, w, "https://github.com/acme/app/.github/workflows/other.yml@refs/heads/main", ss.TrustedRoot(t))
	mergeApproved(t, w, "CHG-2026-0002", "app:v2", 3*time.Hour)
	tok := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tok, []byte(ss.Token(t)), 0o600))
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	out, code = lrun(t, w.work, "cab", "sign", "--keyless", "--identity-token", tok, "--fulcio-url", ss.Fulcio, "--rekor-url", ss.Rekor, "--forge", "git")
	require.Zero(t, code, out)

	out, code = lrun(t, w.work, "cab", "verify")
	assert.Equal(t, 1, code, "cab verify refuses the bundle of an untrusted identity:\n%s", out)
	assert.Contains(t, out, "CHG-2026-0002")
	assert.Contains(t, out, `expected SAN value "https://github.com/acme/app/.github/workflows/other.yml@refs/heads/main"`)
	assert.NotContains(t, out, "CHG-2026-0001:", "the first ticket still verifies")

	out, _ = w.reconcile()
	assert.Contains(t, out, "CHG-2026-0002")
	assert.Contains(t, out, "expected SAN value", "cab reconcile refuses the untrusted signature")
}

// trustKeyless commits and pushes a cab.cue that also trusts the keyless
// identity (GitHub Actions issuer, subject) certified by trustedRoot.
func trustKeyless(t *testing.T, w *lworld, subject string, trustedRoot []byte) {
	t.Helper()
	entry := fmt.Sprintf("{name: \"gha\", roles: [\"sign\"], keyless: {issuer: %q, subject: %q, trustedRoot: %s}}, ",
		sigstoretest.GitHubIssuer, subject, trustedRoot)
	cfg := strings.Replace(w.config(), "keys: [", "keys: ["+entry, 1)
	require.NoError(t, os.WriteFile(filepath.Join(w.work, "cab.cue"), []byte(cfg), 0o644))
	lgit(t, w.work, "commit", "-q", "-am", "trust "+subject)
	lgit(t, w.work, "push", "-q", "origin", "main")
}

// mergeApproved merges a low-risk ticket setting staging's and prod's
// app.yaml image in a three-hour window from start (after now), approved
// in a merge commit signed by the maintainer.
func mergeApproved(t *testing.T, w *lworld, id, image string, start time.Duration) {
	t.Helper()
	w.prs++
	branch := fmt.Sprintf("pr-%d", w.prs)
	now := time.Now().UTC().Truncate(time.Second)
	src := fmt.Sprintf(`apiVersion: "cab.dev/v1"
id:          %q
title:       "Promote app for %s"
kind:        "normal"
risk:        "low"
owner:       "team-app"
service:     "app"
environments: ["staging", "prod"]
window: {start: %q, end: %q}
actions: [{type: "git", target: "deploy", file: "app.yaml", set: {path: ".spec.image", value: %q}}]
prechecks: [{type: "http", url: %q, expectStatus: 200}]
postchecks: [{type: "http", url: %q, expectStatus: 200}]
rollback: auto: true
`, id, id, now.Add(start).Format(time.RFC3339), now.Add(start+3*time.Hour).Format(time.RFC3339), image, w.health+"/healthz", w.health+"/ready")
	lgit(t, w.work, "checkout", "-q", "-b", branch, "main")
	p := filepath.Join(w.work, "changes", "app", id+".cue")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	lgit(t, w.work, "add", "changes")
	lgit(t, w.work, "commit", "-q", "-m", "add "+id)
	lgit(t, w.work, "checkout", "-q", "main")
	lgit(t, w.work, append(append([]string{"-c", "user.name=Maintainer", "-c", "user.email=maintainer@example.com"}, signedMergeArgs(w.mergeKey)...),
		"-q", "--no-ff", branch, "-m", "Merge "+branch, "-m", "Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")...)
	lgit(t, w.work, "push", "-q", "origin", "main")
}

// ledgerFile is the path on the remote ledger of the one file of ticket id
// whose name ends in suffix.
func ledgerFile(t *testing.T, w *lworld, id, suffix string) string {
	t.Helper()
	for _, f := range w.ledgerFiles() {
		if strings.Contains(f, id) && strings.HasSuffix(f, suffix) {
			return f
		}
	}
	require.Failf(t, "no ledger file", "%s *%s in %v", id, suffix, w.ledgerFiles())
	return ""
}

func TestSignKeylessFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"sign"}, "--key or --keyless is required"},
		{[]string{"sign", "--key", "file://cab.key", "--keyless"}, "--key and --keyless exclude each other"},
		{[]string{"sign", "--keyless", "--attach"}, "--attach signs with --key only"},
		{[]string{"sign", "--key", "file://cab.key", "--identity-token", "tok"}, "--identity-token needs --keyless"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := Main(t.Context(), tc.args, &stdout, &stderr)
			assert.Equal(t, 2, code, "a usage error")
			assert.Contains(t, stderr.String(), tc.msg)
		})
	}
}
