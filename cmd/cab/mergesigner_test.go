package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mergeSigner makes a maintainer's SSH key (ssh-keygen) for signing merge
// commits, as plain-git approvals require, and returns the key's path and
// the cab.cue line that lists it under mergeSigners for email. Tests that
// merge with Approved-by trailers sign the merge with
// `git -c gpg.format=ssh -c user.signingkey=KEY merge -S`.
func mergeSigner(t *testing.T, email string) (key, cue string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("needs ssh-keygen (apt-get install openssh-client)")
	}
	key = filepath.Join(t.TempDir(), "maintainer")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maintainer", "-f", key).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	pub, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	return key, fmt.Sprintf("mergeSigners: [{identity: %q, publicKey: %q}]\n", "git:"+email, strings.TrimSpace(string(pub)))
}

// signedMergeArgs are the git arguments that sign a merge with key.
func signedMergeArgs(key string) []string {
	return []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + key, "merge", "-S"}
}
