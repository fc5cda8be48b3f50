package sign

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/forge"
	forgegit "github.com/cabhq/cab/forge/git"
	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/internal/testsize"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/schema"
	"github.com/cabhq/cab/validate"
)

// TestMain serves the sandboxed evaluation child Run's gate spawns.
func TestMain(m *testing.M) {
	if sandbox.Role() == validate.ChildRole {
		os.Exit(validate.ServeChild(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func sh(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Maintainer", "GIT_COMMITTER_EMAIL=maintainer@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// remoteWithMerges makes a bare repository whose main holds a reviewed
// merge adding two tickets and a direct push adding a third.
func remoteWithMerges(t *testing.T, pub []byte) string {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	bare := filepath.Join(root, "remote.git")
	require.NoError(t, os.MkdirAll(filepath.Join(work, "policy"), 0o755))
	// The maintainer signs merges with an SSH key the base lists.
	mergeKey := filepath.Join(root, "maintainer")
	sh(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", mergeKey)
	mergePub, err := os.ReadFile(mergeKey + ".pub")
	require.NoError(t, err)
	cfg := `apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
environments: staging: targets: images: {type: "oci", registry: "registry.example.com"}
approvers: payments: members: ["git:alice@example.com", "git:bob@example.com"]
services: payments: approvers: "payments"
keys: [{name: "ci", publicKey: """
` + indent(string(pub)) + `
	"""}]
mergeSigners: [{identity: "git:maintainer@example.com", publicKey: "` + strings.TrimSpace(string(mergePub)) + `"}]
`
	require.NoError(t, os.WriteFile(filepath.Join(work, "cab.cue"), []byte(cfg), 0o644))
	for _, p := range policy.Defaults() {
		require.NoError(t, os.WriteFile(filepath.Join(work, p.Name), p.Source, 0o644))
	}
	sh(t, root, "git", "init", "-q", "--bare", "-b", "main", bare)
	sh(t, work, "git", "init", "-q", "-b", "main")
	sh(t, work, "git", "add", "-A")
	sh(t, work, "git", "commit", "-q", "-m", "base")
	sh(t, work, "git", "checkout", "-q", "-b", "pr")
	require.NoError(t, os.MkdirAll(filepath.Join(work, "changes/payments"), 0o755))
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("CHG-2026-%04d", i)
		src := fmt.Sprintf(`apiVersion: "cab.dev/v1"
id: %q
title: "Promote payments 1.4.%d"
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["staging"]
window: {start: "2099-12-0%dT22:00:00Z", end: "2099-12-0%dT23:00:00Z"}
actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:%s", tag: "p%d"}]
`, id, i, i, i, strings.Repeat(fmt.Sprint(i), 64), i)
		require.NoError(t, os.WriteFile(filepath.Join(work, "changes/payments", id+".cue"), []byte(src), 0o644))
		if i == 2 {
			sh(t, work, "git", "add", "-A")
			// Written by the developer: the maintainer who signs the merge
			// must have written none of what it merges.
			sh(t, work, "env", "GIT_COMMITTER_EMAIL=dev@example.com", "git", "commit", "-q", "-m", "two tickets")
			sh(t, work, "git", "checkout", "-q", "main")
			sh(t, work, "git", "-c", "gpg.format=ssh", "-c", "user.signingkey="+mergeKey, "merge", "-q", "--no-ff", "-S", "pr", "-m", "Merge pr\n\nApproved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>")
		}
	}
	sh(t, work, "git", "add", "-A")
	sh(t, work, "git", "commit", "-q", "-m", "direct push")
	sh(t, work, "git", "push", "-q", bare, "main")
	return bare
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		b.WriteString("\t" + l + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestRunSignsOnceAndRecordsBypasses(t *testing.T) {
	for _, tool := range []string{"git", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("needs " + tool)
		}
	}
	keyFile, pub := writeKey(t, AlgECDSAP256)
	signer, err := LoadSigner(context.Background(), keyFile, nil)
	require.NoError(t, err)
	bare := remoteWithMerges(t, []byte(pub.PublicKey))

	iterations := testsize.Pick(50, 10) // make test-full (CI) races the full count
	if testing.Short() {
		iterations = 5
	}
	for it := 0; it < iterations; it++ {
		// Two CI jobs race on the same remote with an empty ledger.
		_ = exec.Command("git", "-C", bare, "update-ref", "-d", "refs/heads/cab/ledger").Run()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w := range 2 {
			dir := filepath.Join(t.TempDir(), fmt.Sprint(w))
			sh(t, "", "git", "clone", "-q", bare, dir)
			wg.Add(1)
			go func() {
				defer wg.Done()
				repo, err := git.PlainOpen(dir)
				if err != nil {
					errs[w] = err
					return
				}
				evidence, err := forgegit.NewReader(repo)
				if err != nil {
					errs[w] = err
					return
				}
				_, errs[w] = Run(context.Background(), Options{
					Dir: dir, Ledger: ledger.Open(repo, "origin", ""), Signer: signer, Actor: fmt.Sprint("job-", w),
					Review: func(_ context.Context, m validate.Merge) (*forge.Evidence, error) {
						return evidence.Review(m.Parent, m.Commit)
					},
				})
			}()
		}
		wg.Wait()
		require.NoError(t, errs[0], "iteration %d", it)
		require.NoError(t, errs[1], "iteration %d", it)

		check := filepath.Join(t.TempDir(), "check")
		sh(t, "", "git", "clone", "-q", bare, check)
		repo, err := git.PlainOpen(check)
		require.NoError(t, err)
		log, err := ledger.Open(repo, "origin", "").Read(context.Background())
		require.NoError(t, err)
		kinds := map[string][]string{}
		for _, ev := range log.Events() {
			kinds[ev.Ticket] = append(kinds[ev.Ticket], ev.Kind)
		}
		require.Equal(t, map[string][]string{
			"CHG-2026-0001": {ledger.KindSigned},
			"CHG-2026-0002": {ledger.KindSigned},
			"CHG-2026-0003": {ledger.KindUnsigned},
		}, kinds, "iteration %d: exactly one event per ticket", it)
		if it == 0 {
			for _, ev := range log.Ticket("CHG-2026-0001") {
				_, err := Verify(ev.Envelope, []model.Key{pub}, Expect{
					TicketPath: "changes/payments/CHG-2026-0001.cue", TicketDigest: digestOf(t, check, "changes/payments/CHG-2026-0001.cue"),
					ID: "CHG-2026-0001", Environments: []string{"staging"}, Repository: "example.com/acme/changes",
				})
				require.NoError(t, err)
			}
			assert.Contains(t, string(log.Ticket("CHG-2026-0003")[0].Data), "needs 2 approval(s)")
		}
	}
}

// digestOf is the digest of a ticket file as the gate exports it.
func digestOf(t *testing.T, dir, name string) string {
	src, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	s, err := schema.Compile(nil)
	require.NoError(t, err)
	p, ds := s.ParseTicket(name, src)
	require.Empty(t, ds)
	return Digest(p.JSON)
}
