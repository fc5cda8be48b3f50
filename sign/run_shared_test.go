package sign

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/forge"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/policy"
	"github.com/cabhq/cab/validate"
)

// slowPolicy never finishes for a ticket whose title says "hostile", and
// is instant for the others.
const slowPolicy = `package policy
import "list"
_slow: input.ticket.title =~ "hostile"
deny: [if _slow for i in list.Range(0, 100000000, 1) if i < 0 {"never"}]
`

// TestRunHostileMergeFailsAlone: the merges of main judged by the same
// rules share one evaluation child; a merge whose ticket makes a policy
// of the base blow its time budget is recorded unsigned with the policy
// named, and the merges before and after it are signed as they would be
// alone.
func TestRunHostileMergeFailsAlone(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	keyFile, pub := writeKey(t, AlgEd25519)
	signer, err := LoadSigner(context.Background(), keyFile, nil)
	require.NoError(t, err)

	work := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(work, "policy"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(work, "changes/payments"), 0o755))
	cfg := `apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
environments: staging: targets: images: {type: "oci", registry: "registry.example.com"}
approvers: payments: members: ["github:1", "github:2"]
services: payments: approvers: "payments"
keys: [{name: "ci", publicKey: """
` + indent(pub.PublicKey) + `
	"""}]
`
	require.NoError(t, os.WriteFile(filepath.Join(work, "cab.cue"), []byte(cfg), 0o644))
	for _, p := range policy.Defaults() {
		require.NoError(t, os.WriteFile(filepath.Join(work, p.Name), p.Source, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(work, "policy/zz-slow.cue"), []byte(slowPolicy), 0o644))
	sh(t, work, "git", "init", "-q", "-b", "main")
	sh(t, work, "git", "add", "-A")
	sh(t, work, "git", "commit", "-q", "-m", "base")
	titles := []string{"Promote payments", "A hostile change", "Promote payments again", "And once more"}
	for i, title := range titles {
		id := fmt.Sprintf("CHG-2026-%04d", i+1)
		sh(t, work, "git", "checkout", "-q", "-b", "pr"+fmt.Sprint(i))
		src := fmt.Sprintf(`apiVersion: "cab.dev/v1"
id: %q
title: %q
kind: "normal"
risk: "high"
owner: "team-payments"
service: "payments"
environments: ["staging"]
window: {start: "2099-12-%02dT22:00:00Z", end: "2099-12-%02dT23:00:00Z"}
actions: [{type: "oci", target: "images", image: "ghcr.io/acme/payments@sha256:%s", tag: "p%d"}]
`, id, title, i+1, i+1, strings.Repeat(fmt.Sprint(i+1), 64), i)
		require.NoError(t, os.WriteFile(filepath.Join(work, "changes/payments", id+".cue"), []byte(src), 0o644))
		sh(t, work, "git", "add", "-A")
		sh(t, work, "git", "commit", "-q", "-m", title)
		sh(t, work, "git", "checkout", "-q", "main")
		sh(t, work, "git", "merge", "-q", "--no-ff", "pr"+fmt.Sprint(i), "-m", "Merge "+title)
	}

	repo, err := git.PlainOpen(work)
	require.NoError(t, err)
	review := func(_ context.Context, m validate.Merge) (*forge.Evidence, error) {
		head := sh(t, work, "git", "rev-parse", m.Commit+"^2")
		ev := &forge.Evidence{Forge: "github", HeadSHA: head, MergeCommit: m.Commit, Author: "github:7", Pushers: []string{"github:7"}, Merger: "github:8", Labels: []string{}}
		for _, id := range []string{"github:1", "github:2"} {
			ev.Approvals = append(ev.Approvals, forge.Approval{ID: id, Commit: head})
		}
		return ev, nil
	}
	out, err := Run(context.Background(), Options{
		Dir: work, Ledger: ledger.Open(repo, "", ""), Signer: signer, Actor: "test", Review: review,
		Limits: validate.Limits{Ticket: 3 * time.Second, Workers: 2, Strikes: 100},
	})
	require.NoError(t, err)
	kinds := map[string]string{}
	reasons := map[string]string{}
	for _, o := range out {
		kinds[o.Ticket], reasons[o.Ticket] = o.Kind, o.Reason
	}
	assert.Equal(t, map[string]string{
		"CHG-2026-0001": ledger.KindSigned,
		"CHG-2026-0002": ledger.KindUnsigned,
		"CHG-2026-0003": ledger.KindSigned,
		"CHG-2026-0004": ledger.KindSigned,
	}, kinds, "reasons: %v", reasons)
	assert.Contains(t, reasons["CHG-2026-0002"], "policy/zz-slow.cue")
	assert.Contains(t, reasons["CHG-2026-0002"], "exceeded the time budget")
}
