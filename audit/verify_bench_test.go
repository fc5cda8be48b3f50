package audit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/audit"
	"github.com/cabhq/cab/bench/signedledger"
	"github.com/cabhq/cab/bench/synth"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/sign"
)

// benchSignKey is where bench/synth writes the private key its cab.cue
// trusts with role "sign" (synth.SignKeyFile).
const benchSignKey = ".bench-keys/BENCH-ONLY-INSECURE-sign.key"

// signedRepo returns a bench/synth repository of tickets tickets and
// 2×tickets commits whose ledger signs every ticket with the key cab.cue
// trusts, and the ledger head after the first tickets-added tickets (the
// checkpoint of an incremental run). Both are cached under bench/.repos.
func signedRepo(b *testing.B, tickets, added int) (dir string, checkpoint plumbing.Hash) {
	b.Helper()
	ctx := context.Background()
	repos := filepath.Join("..", "bench", ".repos")
	src := filepath.Join(repos, fmt.Sprintf("t%d-c%d-s1", tickets, 2*tickets))
	if _, err := synth.Generate(ctx, src, synth.Options{Seed: 1, Tickets: tickets, Commits: 2 * tickets}); err != nil {
		b.Fatal(err)
	}
	key := filepath.Join(src, benchSignKey)
	if _, err := os.Stat(key); err != nil {
		b.Skipf("bench/synth wrote no key its cab.cue trusts (%s): signatures could not verify", benchSignKey)
	}
	dir = filepath.Join(repos, fmt.Sprintf("verify-t%d-added%d", tickets, added))
	stamp := filepath.Join(dir, ".git", "cab-bench-checkpoint")
	if b, err := os.ReadFile(stamp); err == nil {
		return dir, plumbing.NewHash(string(b))
	}
	require.NoError(b, os.RemoveAll(dir))
	// A clone: the cached repository of synth stays without a ledger.
	out, err := exec.Command("git", "clone", "-q", "--local", src, dir).CombinedOutput()
	require.NoError(b, err, "%s", out)
	signer, err := sign.LoadSigner(ctx, key, nil)
	require.NoError(b, err)
	o := signedledger.Options{Dir: dir, Signer: signer, Repository: "github.com/acme/changes",
		At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Limit: tickets - added}
	_, checkpoint, err = signedledger.Write(ctx, o)
	require.NoError(b, err)
	o.Limit = 0
	_, _, err = signedledger.Write(ctx, o)
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(stamp, []byte(checkpoint.String()), 0o644))
	return dir, checkpoint
}

// BenchmarkVerify measures `cab verify` (audit.Verify) over a ledger of
// signed tickets, every signature really verified against the key
// cab.cue trusts:
//
//   - nocache: a first run, or --no-cache: every ticket's canonical
//     JSON computed (schema.ExportData; ParseTicket where it refuses or
//     the signature fails against it);
//   - full: every ticket judged and its signature verified, what an
//     earlier run left in the cache reused (ParseTicket's parses, the
//     main line, the append-only proof);
//   - incremental: from a checkpoint 100 tickets back whose run left its
//     verdicts in the cache: only those 100 are judged (see Verify).
//
// It reports tickets per second and the CPU time per run. CAB_BENCH_TICKETS
// sets the sizes (default 1000,10000; -short 200).
func BenchmarkVerify(b *testing.B) {
	sizes := []int{1000, 10000}
	if v, err := strconv.Atoi(os.Getenv("CAB_BENCH_TICKETS")); err == nil {
		sizes = []int{v}
	}
	if testing.Short() {
		sizes = []int{200}
	}
	for _, n := range sizes {
		const added = 100
		dir, checkpoint := signedRepo(b, n, added)
		for _, mode := range []string{"nocache", "full", "incremental"} {
			b.Run(fmt.Sprintf("tickets=%d/%s", n, mode), func(b *testing.B) {
				o := audit.VerifyOptions{Dir: dir, NoCache: mode == "nocache"}
				switch mode {
				case "full":
					verifyOnce(b, o, n) // leaves the parses in the cache
				case "incremental":
					o.Checkpoint = checkpoint
					verifyAt(b, dir, checkpoint, n) // leaves its verdicts in the cache
				}
				c0 := cpuTime(b)
				for b.Loop() {
					rep := verifyOnce(b, o, n)
					if mode == "incremental" {
						require.Equal(b, n-added, rep.Carried, "only what was added is judged")
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
				b.ReportMetric((cpuTime(b)-c0).Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}

// verifyOnce runs audit.Verify on a repository of n tickets, all signed,
// and checks that every one verified.
func verifyOnce(b *testing.B, o audit.VerifyOptions, n int) *audit.Report {
	b.Helper()
	repo, err := git.PlainOpen(o.Dir)
	require.NoError(b, err)
	o.Ledger = ledger.Open(repo, "", "")
	rep, err := audit.Verify(context.Background(), o)
	require.NoError(b, err)
	require.Empty(b, rep.Breaks)
	require.Equal(b, n, rep.Tickets)
	require.Equal(b, n, rep.Signed, "every signature verified")
	return rep
}

// verifyAt runs audit.Verify with the ledger branch at checkpoint (the
// last tickets not signed yet), as a run then would have, and puts the
// branch back.
func verifyAt(b *testing.B, dir string, checkpoint plumbing.Hash, n int) {
	b.Helper()
	repo, err := git.PlainOpen(dir)
	require.NoError(b, err)
	name := plumbing.NewBranchReferenceName(ledger.DefaultBranch)
	ref, err := repo.Reference(name, false)
	require.NoError(b, err)
	require.NoError(b, repo.Storer.SetReference(plumbing.NewHashReference(name, checkpoint)))
	defer func() { require.NoError(b, repo.Storer.SetReference(ref)) }()
	rep, err := audit.Verify(context.Background(), audit.VerifyOptions{Dir: dir, Ledger: ledger.Open(repo, "", "")})
	require.NoError(b, err)
	require.Equal(b, checkpoint.String(), rep.LedgerHead)
	require.Less(b, rep.Signed, n, "the checkpoint lacks the last signatures")
}

// cpuTime is the CPU time (user and system) the process has used: the
// machine is shared, so wall time alone says little.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
