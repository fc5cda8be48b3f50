package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/internal/sandbox"
	"github.com/cabhq/cab/internal/testsize"
	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
	"github.com/cabhq/cab/reconcile/target"
	"github.com/cabhq/cab/reconcile/target/oci"
	"github.com/cabhq/cab/sign"
	"github.com/cabhq/cab/validate"
)

// Environment of the reconciler process the crash test starts and kills.
const (
	crashChildEnv = "CAB_TEST_RECONCILER_DIR" // the clone to reconcile
	crashAtEnv    = "CAB_TEST_CRASH_AT"       // SIGKILL itself at this boundary (1-based; 0: never)
	crashKeyEnv   = "CAB_TEST_RECONCILER_KEY" // the reconciler's key file
)

func init() {
	// The reconciler's own sandboxed children inherit the environment:
	// only the reconciler process itself is the crash child.
	if dir := os.Getenv(crashChildEnv); dir != "" && sandbox.Role() != validate.ChildRole {
		os.Exit(crashChild(dir))
	}
}

// crashChild is a reconciler process: one pass over dir, killing itself
// with SIGKILL at the boundary numbered by CAB_TEST_CRASH_AT.
func crashChild(dir string) int {
	at, _ := strconv.Atoi(os.Getenv(crashAtEnv))
	repo, err := git.PlainOpen(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	l := ledger.Open(repo, "origin", "")
	l.Now = func() time.Time { return now }
	if l.Signer, err = sign.LoadSigner(context.Background(), os.Getenv(crashKeyEnv), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	n := 0
	_, err = reconcile.Run(context.Background(), reconcile.Options{
		Dir: dir, Ledger: l, Instance: "crashy", Now: func() time.Time { return now },
		MaxClaims: 1, // one change a round: a boundary between every step
		Drivers:   map[string]target.Driver{"oci": oci.New(oci.WithRetry(2, time.Millisecond))},
		Checks: func(_ context.Context, phase reconcile.Phase, checks []model.Check, _ string) error {
			if phase == reconcile.Post && strings.Contains(checks[0].URL, "fail") {
				return errors.New("health: 503")
			}
			return nil
		},
		Boundary: func(string) {
			mu.Lock()
			n++
			hit := n == at
			mu.Unlock()
			if hit {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute) // the signal is on its way
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// TestSurvivesSIGKILLAtEveryStep kills reconciler processes with SIGKILL
// at step boundaries and at random instants, over 20 tickets (every fifth
// fails its postchecks and is rolled back), and restarts them until the
// work is done. Every ticket-environment must be applied exactly once (the
// registry counts the tag writes) and the ledger must hold each step
// exactly once.
func TestSurvivesSIGKILLAtEveryStep(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	var specs []spec
	for i := 1; i <= 20; i++ {
		s := spec{id: fmt.Sprintf("CHG-2026-%04d", i), image: img}
		if i%5 == 0 {
			s.extra = `postchecks: [{type: "http", url: "https://fail.example/health"}]`
		}
		specs = append(specs, s)
	}
	f.signAll(f.merge(specs...), specs)
	dir := f.clone()
	exe, err := os.Executable()
	require.NoError(t, err)

	kills := testsize.Pick(100, 15) // make test-full (CI) runs the full count
	rng := rand.New(rand.NewPCG(1, 2))
	killed, completed := 0, 0
	for run := 0; run < 20*kills && (killed < kills || completed == 0); run++ {
		cmd := exec.Command(exe, "-test.run=^$")
		at := 0
		if killed < kills {
			at = 1 + rng.IntN(2) // each killed run records a step or two
		}
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("%s=%d", crashAtEnv, at), crashKeyEnv+"="+f.keyFile)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		// No run may hang: five minutes are far more than a pass takes,
		// even on a loaded machine. A hung run is asked for its goroutines'
		// stacks (SIGQUIT) before it is killed, and they are reported.
		hang := time.AfterFunc(5*time.Minute, func() {
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
		})
		var timer *time.Timer
		if killed < kills && run%3 == 2 {
			// Some kills come from outside, at any instant.
			timer = time.AfterFunc(time.Duration(rng.IntN(400))*time.Millisecond, func() { _ = cmd.Process.Kill() })
		}
		err := cmd.Wait()
		require.True(t, hang.Stop(), "run %d hung: %s", run, out)
		if timer != nil {
			timer.Stop()
		}
		var ee *exec.ExitError
		switch {
		case err == nil:
			if killed >= kills {
				completed++
			}
		case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled():
			killed++
		default:
			t.Fatalf("run %d: %v: %s", run, err, out)
		}
	}
	require.GreaterOrEqual(t, killed, kills)
	require.Positive(t, completed, "a run without a kill completed")

	ev := f.events()
	for i, s := range specs {
		if (i+1)%5 == 0 {
			assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:failed", "staging:rolled-back", "prod:quarantined"}, ev[s.id], s.id)
			assert.Empty(t, f.reg.tagDigest(t, "staging/payments:"+s.tagOf()), "%s rolled back", s.id)
			assert.Equal(t, 0, f.reg.Puts("prod/payments:"+s.tagOf()), s.id)
		} else {
			assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified",
				"prod:applying", "prod:applied", "prod:verified"}, ev[s.id], s.id)
			assert.Equal(t, 1, f.reg.Puts("prod/payments:"+s.tagOf()), "%s applied once in prod", s.id)
		}
		assert.Equal(t, 1, f.reg.Puts("staging/payments:"+s.tagOf()), "%s applied once in staging", s.id)
	}
	t.Logf("%d kills, %d complete runs", killed, completed)
}

// TestTwoReconcilersApplyEachTicketOnce races two reconcilers (two clones,
// two names) over 200 tickets.
func TestTwoReconcilersApplyEachTicketOnce(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	n := testsize.Pick(200, 30) // make test-full (CI) races the full count
	var specs []spec
	for i := 1; i <= n; i++ {
		specs = append(specs, spec{id: fmt.Sprintf("CHG-2026-%04d", i), image: img, envs: []string{"staging"}})
	}
	f.signAll(f.merge(specs...), specs)

	var wg sync.WaitGroup
	sums := make([]*reconcile.Summary, 2)
	errs := make([]error, 2)
	for w := range 2 {
		o := f.options(f.clone())
		o.Instance = fmt.Sprint("reconciler-", w)
		o.MaxClaims = 8 // small rounds: the two interleave
		o.Ledger.MaxAttempts = 100
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[w], errs[w] = reconcile.Run(context.Background(), o)
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	ev := f.events()
	for _, s := range specs {
		assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, ev[s.id], s.id)
		assert.Equal(t, 1, f.reg.Puts("staging/payments:"+s.tagOf()), s.id)
	}
	t.Logf("applied by reconciler-0: %d, by reconciler-1: %d", sums[0].Count("verified"), sums[1].Count("verified"))
	assert.Equal(t, n, sums[0].Count("verified")+sums[1].Count("verified"))
}
