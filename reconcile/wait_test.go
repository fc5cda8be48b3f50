package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
	httptarget "github.com/cabhq/cab/reconcile/target/http"
)

// flappingServer is a webhook target that never answers the same way
// twice: every request gets a 401 whose body carries a new request id, as
// a proxy in front of a broken service does.
func flappingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		http.Error(w, fmt.Sprintf("unauthorized (request id %08x, attempt %d)", n*7919, n), http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// data is the decoded data of the last event of id in env.
func (f *fixture) data(id, env string) (d struct{ Reason, Cause string }) {
	log, err := f.ledger().Read(context.Background())
	require.NoError(f.t, err)
	for _, ev := range log.Ticket(id) {
		if ev.Env == env {
			d.Reason, d.Cause = "", ""
			require.NoError(f.t, json.Unmarshal(ev.Data, &d))
		}
	}
	return d
}

// withHTTP adds the http driver (one attempt a call) to o.
func withHTTP(o reconcile.Options) reconcile.Options {
	o.Drivers["http"] = httptarget.New(httptarget.WithRetries(0))
	return o
}

// A target whose error text changes on every call is one wait on the
// ledger, however many passes (a fresh `cab reconcile` each, or one
// daemon's) and rounds meet it; every pass ends and reports it.
func TestFlappingTargetIsOneWait(t *testing.T) {
	srv, calls := flappingServer(t)
	f := newFixture(t, fmt.Sprintf(`environments: staging: targets: hook: {type: "http", url: %q}`, srv.URL), nil)
	img := f.reg.push(t, "build/payments")
	flap := spec{id: "CHG-2026-0001", envs: []string{"staging"}, actions: `{type: "http", target: "hook", path: "/flags/payments", body: {on: true}}`}
	// A healthy change in two environments keeps each pass going for more
	// than one round: the flapping target is met again in each.
	good := spec{id: "CHG-2026-0002", image: img}
	f.mergeAndSign(flap, good)
	dir := f.clone()

	daemon, err := reconcile.New(withHTTP(f.options(dir)))
	require.NoError(t, err)
	passes := []struct {
		name string
		run  func() (*reconcile.Summary, error)
	}{
		{"cab reconcile", func() (*reconcile.Summary, error) {
			return reconcile.Run(context.Background(), withHTTP(f.options(dir)))
		}},
		{"cab serve", func() (*reconcile.Summary, error) { return daemon.Pass(context.Background()) }},
	}
	const n = 10
	for _, p := range passes {
		for i := range n {
			before := calls.Load()
			sum, err := p.run()
			require.NoError(t, err, "%s pass %d", p.name, i)
			assert.Greater(t, calls.Load(), before, "%s pass %d: the target is tried again", p.name, i)
			assert.Empty(t, sum.Stopped)
			var held []reconcile.Step
			for _, s := range sum.Steps {
				if s.Ticket == flap.id {
					held = append(held, s)
				}
			}
			require.Len(t, held, 1, "%s pass %d: the wait is reported once a pass: %+v", p.name, i, held)
			assert.Equal(t, "target-unreadable:staging/hook", held[0].Cause)
			assert.True(t, held[0].Error, "an unreadable target makes cab reconcile exit 1")
			assert.Contains(t, held[0].Reason, "401")
		}
	}
	ev := f.events()
	assert.Equal(t, []string{"signed", "staging:scheduled"}, ev[flap.id], "one event for %d passes", 2*n)
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified",
		"prod:applying", "prod:applied", "prod:verified"}, ev[good.id])
	d := f.data(flap.id, "staging")
	assert.Equal(t, "target-unreadable:staging/hook", d.Cause, "the cause is on the ledger, for the next reconciler")
	assert.Contains(t, d.Reason, "attempt 1)", "the words of the first wait")
}

// An error budget whose burn rate (or whose error) changes at every poll
// is one wait: the value is in the words, not in the cause — for a daemon
// (one reconciler, pass after pass) as for a fresh `cab reconcile` each
// time (it knows the wait from the cause on the ledger).
func TestErrorBudgetWaitIsRecordedOnce(t *testing.T) {
	tests := []struct {
		name      string
		query     func(n int) (float64, error)
		cause     string
		reason    string
		errorStep bool
	}{
		{name: "burning, a new value each poll", query: func(n int) (float64, error) { return 4.5 + float64(n)/8, nil },
			cause: "budget:payments", reason: "= 4.625, above 4"},
		{name: "unreadable, a new error each poll", query: func(n int) (float64, error) { return 0, fmt.Errorf("prometheus: 503 (trace %d)", n) },
			cause: "budget-unreadable:payments", reason: "(trace 1)", errorStep: true},
	}
	for _, tt := range tests {
		for _, fresh := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fresh=%v", tt.name, fresh), func(t *testing.T) {
				f := newFixture(t, `environments: prod: prometheus: "http://prometheus.invalid"
services: payments: burnRate: {query: "slo:burn_rate:30m{service=\"payments\"}", threshold: 4}`, nil)
				img := f.reg.push(t, "build/payments")
				f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, envs: []string{"prod"}})
				polls := 0
				o := f.options(f.clone())
				o.Query = func(context.Context, string, string) (float64, error) {
					polls++
					return tt.query(polls)
				}
				r, err := reconcile.New(o)
				require.NoError(t, err)
				for i := range 5 {
					if fresh && i > 0 {
						r, err = reconcile.New(o)
						require.NoError(t, err)
					}
					sum, err := r.Pass(context.Background())
					require.NoError(t, err)
					assert.Equal(t, tt.errorStep, len(sum.Steps) == 1 && sum.Steps[0].Error, "steps %+v", sum.Steps)
				}
				assert.Equal(t, 5, polls, "polled each pass")
				assert.Equal(t, []string{"signed", "prod:scheduled"}, f.events()["CHG-2026-0001"])
				d := f.data("CHG-2026-0001", "prod")
				assert.Equal(t, tt.cause, d.Cause)
				assert.Contains(t, d.Reason, tt.reason)
			})
		}
	}
}

// A signed ticket whose merge commit the reconciler's checkout has not
// fetched waits for it (scheduled, once) and is never set aside; once
// main is fetched it applies.
func TestStrandedTicketWaitsForItsMergeCommit(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	dir := f.clone() // before the merge: it lacks the merge commit
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img})
	commit := sh(t, f.work, "git", "rev-parse", "HEAD")

	stale := f.options(dir) // no MainRemote: nothing fetched
	for i := range 3 {
		sum, err := reconcile.Run(context.Background(), stale)
		require.NoError(t, err)
		require.Len(t, sum.Steps, 1, "pass %d", i)
		assert.Equal(t, ledger.KindScheduled, sum.Steps[0].Kind)
		assert.Equal(t, "merge-commit-missing:"+commit, sum.Steps[0].Cause)
		assert.True(t, sum.Steps[0].Error, "held: cab reconcile exits 1")
		assert.Zero(t, sum.Count(ledger.KindQuarantined))
	}
	assert.Equal(t, []string{"signed", "scheduled"}, f.events()["CHG-2026-0001"], "waiting is recorded once")
	assert.Contains(t, f.data("CHG-2026-0001", "").Reason, "fetch main")

	fetching := f.options(dir)
	fetching.MainRemote = "origin"
	sum, err := reconcile.Run(context.Background(), fetching)
	require.NoError(t, err)
	assert.Equal(t, []string{"signed", "scheduled",
		"staging:applying", "staging:applied", "staging:verified",
		"prod:applying", "prod:applied", "prod:verified"}, f.events()["CHG-2026-0001"])
	assert.Equal(t, map[string]int{"verified": 2}, sum.States)
}

// Ledgers written by older reconcilers hold tickets quarantined because
// the checkout lacked their merge commit: a pass from a checkout that has
// it judges them again and applies them; one that still lacks it turns
// the set-aside into a wait.
func TestLegacyQuarantineIsJudgedAgain(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	stale := f.clone()
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, envs: []string{"staging"}})
	commit := sh(t, f.work, "git", "rev-parse", "HEAD")
	// The set-aside was recorded by a reconciler cab.cue trusts (an
	// unsigned one would be ignored, and the ticket applied outright).
	old := f.ledger()
	old.Signer = f.signer
	_, err := old.Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) {
		return []ledger.Event{{Ticket: "CHG-2026-0001", Kind: ledger.KindQuarantined, Actor: "cab-reconcile@old", Commit: commit,
			Data: json.RawMessage(fmt.Sprintf(`{"reason":"the merge commit %s is not in the repository (fetch main): object not found"}`, commit))}}, nil
	})
	require.NoError(t, err)

	// Still stale: the set-aside becomes a wait for the merge commit.
	for range 2 {
		_, err = reconcile.Run(context.Background(), f.options(stale))
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"signed", "quarantined", "scheduled"}, f.events()["CHG-2026-0001"])
	assert.Equal(t, "merge-commit-missing:"+commit, f.data("CHG-2026-0001", "").Cause)

	// Up to date: applied.
	sum, err := reconcile.Run(context.Background(), f.options(f.clone()))
	require.NoError(t, err)
	assert.Equal(t, []string{"signed", "quarantined", "scheduled", "staging:applying", "staging:applied", "staging:verified"}, f.events()["CHG-2026-0001"])
	assert.Equal(t, map[string]int{"verified": 1}, sum.States)

	// And straight from the old set-aside to applied, in one pass; what
	// depends on it waits for it rather than being set aside in turn.
	f.mergeAndSign(spec{id: "CHG-2026-0002", image: img, envs: []string{"staging"}})
	commit = sh(t, f.work, "git", "rev-parse", "HEAD")
	f.mergeAndSign(spec{id: "CHG-2026-0003", image: img, envs: []string{"staging"}, tag: "dependent", dependsOn: []string{"CHG-2026-0002"}})
	_, err = old.Update(context.Background(), func(*ledger.Log) ([]ledger.Event, error) {
		return []ledger.Event{{Ticket: "CHG-2026-0002", Kind: ledger.KindQuarantined, Actor: "cab-reconcile@old", Commit: commit,
			Data: json.RawMessage(fmt.Sprintf(`{"reason":"the merge commit %s is not in the repository (fetch main): object not found"}`, commit))}}, nil
	})
	require.NoError(t, err)
	_, err = reconcile.Run(context.Background(), f.options(f.clone()))
	require.NoError(t, err)
	assert.Equal(t, []string{"signed", "quarantined", "scheduled", "staging:applying", "staging:applied", "staging:verified"}, f.events()["CHG-2026-0002"])
	assert.Contains(t, f.data("CHG-2026-0002", "").Cause, "readmitted:merge-commit-missing:")
	assert.Equal(t, []string{"signed", "staging:scheduled", "staging:scheduled", "staging:applying", "staging:applied", "staging:verified"}, f.events()["CHG-2026-0003"],
		"waited for its dependency to be judged again, then to be verified")
}

// What no retry can fix stays set aside, however many passes, fetched or
// not: a bad signature, a signature replayed for other environments — and
// a wait for a merge commit never launders one.
func TestBadSignatureStaysQuarantined(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	stranger, _ := newKey(t)
	stale := f.clone()
	c1 := f.merge(spec{id: "CHG-2026-0001", image: img})
	f.signWith(stranger, "CHG-2026-0001", c1, nil)
	c2 := f.merge(spec{id: "CHG-2026-0002", image: img})
	f.signWith(f.signer, "CHG-2026-0002", c2, []string{"staging"})

	_, err := reconcile.Run(context.Background(), f.options(stale))
	require.NoError(t, err)
	ev := f.events()
	assert.Equal(t, []string{"signed", "scheduled"}, ev["CHG-2026-0001"], "not judged yet: waits")
	assert.Equal(t, []string{"signed", "scheduled"}, ev["CHG-2026-0002"])

	fetching := f.options(stale)
	fetching.MainRemote = "origin"
	for range 3 {
		_, err = reconcile.Run(context.Background(), fetching)
		require.NoError(t, err)
	}
	ev = f.events()
	assert.Equal(t, []string{"signed", "scheduled", "quarantined"}, ev["CHG-2026-0001"])
	assert.Contains(t, f.data("CHG-2026-0001", "").Reason, "not made by a trusted key")
	assert.Equal(t, []string{"signed", "scheduled", "quarantined"}, ev["CHG-2026-0002"])
	assert.Contains(t, f.data("CHG-2026-0002", "").Reason, "predicate.environments")
	assert.Empty(t, f.reg.tagDigest(t, "staging/payments:chg-2026-0001"))
	assert.Empty(t, f.reg.tagDigest(t, "staging/payments:chg-2026-0002"))
}

// A pass that cannot finish within its duration bound (here: prechecks
// that never answer, and a lease of 200ms: two leases from when the work
// is known) stops there, says so, and leaves the change for the next
// pass.
func TestPassStopsAtItsDurationBound(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, envs: []string{"staging"},
		extra: `prechecks: [{type: "http", url: "https://payments.staging.example/health"}]`})
	dir := f.clone()

	o := f.options(dir)
	o.Lease = 200 * time.Millisecond
	o.Checks = func(ctx context.Context, _ reconcile.Phase, _ []model.Check, _ string) error {
		<-ctx.Done() // a probe that hangs
		return ctx.Err()
	}
	done := make(chan struct{})
	var sum *reconcile.Summary
	var err error
	go func() {
		defer close(done)
		sum, err = reconcile.Run(context.Background(), o)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // far beyond the bound (2 leases): only a pass that never ends gets here
		t.Fatal("the pass did not stop at its duration bound")
	}
	require.ErrorIs(t, err, reconcile.ErrPassBound)
	var be *reconcile.BoundError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "duration", be.What)
	assert.Equal(t, int64(400*time.Millisecond), be.Limit, "a lease per ticket-environment in flight, and one more")
	assert.Equal(t, 1, be.InFlight)
	require.NotNil(t, sum)
	assert.Contains(t, sum.Stopped, "duration bound")
	assert.NotEmpty(t, sum.LedgerHead)
	assert.Equal(t, []string{"signed"}, f.events()["CHG-2026-0001"], "nothing claimed")

	o.Checks = func(context.Context, reconcile.Phase, []model.Check, string) error { return nil }
	o.Lease = reconcile.DefaultLease // an apply on a busy machine may take longer than 400ms
	sum, err = reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Empty(t, sum.Stopped)
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, f.events()["CHG-2026-0001"])
	assert.Equal(t, 3, sum.Events)
}
