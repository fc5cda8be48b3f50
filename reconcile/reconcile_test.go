package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile"
)

func TestPromotesStagingThenProd(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img})

	sum, err := reconcile.Run(context.Background(), f.options(f.clone()))
	require.NoError(t, err)
	assert.Equal(t, []string{"signed",
		"staging:applying", "staging:applied", "staging:verified",
		"prod:applying", "prod:applied", "prod:verified"}, f.events()["CHG-2026-0001"])
	digest := img[len(img)-71:]
	assert.Equal(t, digest, f.reg.tagDigest(t, "staging/payments:chg-2026-0001"))
	assert.Equal(t, digest, f.reg.tagDigest(t, "prod/payments:chg-2026-0001"))
	assert.Equal(t, map[string]int{"verified": 2}, sum.States)
	assert.Equal(t, 2, sum.Count("verified"))
	require.Len(t, sum.Steps, 6)
	assert.Contains(t, sum.Steps[0].Changes[0], "absent → "+digest)

	// A second pass has nothing to do and writes nothing.
	sum, err = reconcile.Run(context.Background(), f.options(f.clone()))
	require.NoError(t, err)
	assert.Empty(t, sum.Steps)
	assert.Equal(t, 1, f.reg.Puts("staging/payments:chg-2026-0001"))
	assert.Equal(t, 1, f.reg.Puts("prod/payments:chg-2026-0001"))
}

func TestFailedPostcheckRollsBack(t *testing.T) {
	f := newFixture(t, "", nil)
	old := f.reg.push(t, "build/payments")
	img := f.reg.push(t, "build/payments")
	f.reg.setTag(t, old, "staging/payments:live")
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, tag: "live",
		extra: `postchecks: [{type: "http", url: "https://payments.staging.example/health"}]`})

	o := f.options(f.clone())
	o.Checks = func(_ context.Context, phase reconcile.Phase, checks []model.Check, _ string) error {
		if phase == reconcile.Post {
			return errors.New("health: status 503, want 200")
		}
		return nil
	}
	sum, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []string{"signed",
		"staging:applying", "staging:applied", "staging:failed", "staging:rolled-back",
		"prod:quarantined"}, f.events()["CHG-2026-0001"])
	assert.Equal(t, old[len(old)-71:], f.reg.tagDigest(t, "staging/payments:live"), "the previous digest is back")
	assert.Empty(t, f.reg.tagDigest(t, "prod/payments:live"), "prod never touched")
	assert.Equal(t, 1, sum.Count("rolled-back"))
	assert.Contains(t, f.reason("CHG-2026-0001", "prod"), "not promoted: staging ended rolled-back")
}

func TestWindowSchedulesThenExpires(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, start: now.Add(time.Hour), end: now.Add(2 * time.Hour)})

	dir := f.clone()
	for range 2 { // waiting is recorded once, not once per pass
		_, err := reconcile.Run(context.Background(), f.options(dir))
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"signed", "staging:scheduled"}, f.events()["CHG-2026-0001"])
	assert.Contains(t, f.reason("CHG-2026-0001", "staging"), "waiting for the window to open at 2026-12-01T23:30:00Z")

	o := f.options(dir)
	o.Now = func() time.Time { return now.Add(3 * time.Hour) }
	_, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []string{"signed", "staging:scheduled", "staging:expired", "prod:expired"}, f.events()["CHG-2026-0001"])
	assert.Empty(t, f.reg.tagDigest(t, "staging/payments:chg-2026-0001"), "never applied late")
}

func TestFreezeHoldsAllButEmergencies(t *testing.T) {
	f := newFixture(t, `freezes: [{name: "year-end", start: "2026-12-01T00:00", end: "2026-12-31T00:00", timezone: "UTC", environments: ["prod"]}]`, nil)
	img := f.reg.push(t, "build/payments")
	f.mergeAndSign(
		spec{id: "CHG-2026-0001", image: img},
		spec{id: "CHG-2026-0002", image: img, kind: "emergency"},
	)
	_, err := reconcile.Run(context.Background(), f.options(f.clone()))
	require.NoError(t, err)
	ev := f.events()
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified", "prod:scheduled"}, ev["CHG-2026-0001"])
	assert.Contains(t, f.reason("CHG-2026-0001", "prod"), `freeze \"year-end\" until 2026-12-31T00:00:00Z`)
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified",
		"prod:applying", "prod:applied", "prod:verified"}, ev["CHG-2026-0002"])
}

func TestErrorBudgetGate(t *testing.T) {
	f := newFixture(t, `environments: prod: prometheus: "http://prometheus.invalid"
services: payments: burnRate: {query: "slo:burn_rate:30m{service=\"payments\"}", threshold: 4}`, nil)
	img := f.reg.push(t, "build/payments")
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, envs: []string{"prod"}})

	burn := 6.5
	o := f.options(f.clone())
	o.Query = func(_ context.Context, server, query string) (float64, error) {
		assert.Equal(t, "http://prometheus.invalid", server)
		return burn, nil
	}
	_, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []string{"signed", "prod:scheduled"}, f.events()["CHG-2026-0001"])
	assert.Contains(t, f.reason("CHG-2026-0001", "prod"), "error budget burning")
	assert.Contains(t, f.reason("CHG-2026-0001", "prod"), "6.5, above 4")

	burn = 1.2
	_, err = reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []string{"signed", "prod:scheduled", "prod:applying", "prod:applied", "prod:verified"}, f.events()["CHG-2026-0001"])
}

func TestDependencies(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	// B is merged first but depends on A; C depends on D, which fails.
	f.mergeAndSign(
		spec{id: "CHG-2026-0002", image: img, dependsOn: []string{"CHG-2026-0001"}, envs: []string{"staging"}},
		spec{id: "CHG-2026-0001", image: img, envs: []string{"staging"}},
		spec{id: "CHG-2026-0004", image: img, envs: []string{"staging"}, extra: `postchecks: [{type: "http", url: "https://fails.example/"}]`},
		spec{id: "CHG-2026-0003", image: img, dependsOn: []string{"CHG-2026-0004"}, envs: []string{"staging"}},
		spec{id: "CHG-2026-0005", image: img, dependsOn: []string{"CHG-2026-0099"}, envs: []string{"staging"}},
	)
	o := f.options(f.clone())
	o.Checks = func(_ context.Context, phase reconcile.Phase, checks []model.Check, _ string) error {
		if phase == reconcile.Post && checks[0].URL == "https://fails.example/" {
			return errors.New("down")
		}
		return nil
	}
	_, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	ev := f.events()
	ok := []string{"signed", "staging:applying", "staging:applied", "staging:verified"}
	assert.Equal(t, ok, ev["CHG-2026-0001"])
	assert.Equal(t, append([]string{"signed", "staging:scheduled"}, ok[1:]...), ev["CHG-2026-0002"], "waited for its dependency, then applied in the same pass")
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:failed", "staging:rolled-back"}, ev["CHG-2026-0004"])
	assert.Equal(t, []string{"signed", "staging:scheduled", "staging:quarantined"}, ev["CHG-2026-0003"])
	assert.Contains(t, f.reason("CHG-2026-0003", "staging"), "dependency CHG-2026-0004 ended rolled-back in staging")
	assert.Equal(t, []string{"signed", "staging:scheduled"}, ev["CHG-2026-0005"])
	assert.Contains(t, f.reason("CHG-2026-0005", "staging"), "waiting for CHG-2026-0099 to be merged and signed")
}

func TestRefusesWhatIsNotProperlySigned(t *testing.T) {
	f := newFixture(t, "", nil)
	img := f.reg.push(t, "build/payments")
	stranger, _ := newKey(t)
	c1 := f.merge(spec{id: "CHG-2026-0001", image: img})
	f.signWith(stranger, "CHG-2026-0001", c1, nil)
	// Signed for staging only, replayed for a ticket that also names prod.
	c2 := f.merge(spec{id: "CHG-2026-0002", image: img})
	f.signWith(f.signer, "CHG-2026-0002", c2, []string{"staging"})
	// A good one still applies.
	f.mergeAndSign(spec{id: "CHG-2026-0003", image: img, envs: []string{"staging"}})

	_, err := reconcile.Run(context.Background(), f.options(f.clone()))
	require.NoError(t, err)
	ev := f.events()
	assert.Equal(t, []string{"signed", "quarantined"}, ev["CHG-2026-0001"])
	assert.Contains(t, f.reason("CHG-2026-0001", ""), "signature")
	assert.Contains(t, f.reason("CHG-2026-0001", ""), "not made by a trusted key")
	assert.Equal(t, []string{"signed", "quarantined"}, ev["CHG-2026-0002"])
	assert.Contains(t, f.reason("CHG-2026-0002", ""), "predicate.environments")
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, ev["CHG-2026-0003"])
	assert.Empty(t, f.reg.tagDigest(t, "staging/payments:chg-2026-0001"))
	assert.Empty(t, f.reg.tagDigest(t, "staging/payments:chg-2026-0002"))
}

func TestQuarantinesTicketThatBlowsItsBudget(t *testing.T) {
	// A hostile policy never terminates on one ticket.
	f := newFixture(t, "", map[string]string{"slow.cue": `package policy

import "list"

_slow: input.ticket.id =~ "1$"
deny: [if _slow for i in list.Range(0, 100000000, 1) if i < 0 {"never"}]
`})
	img := f.reg.push(t, "build/payments")
	f.mergeAndSign(
		spec{id: "CHG-2026-0001", image: img, envs: []string{"staging"}},
		spec{id: "CHG-2026-0002", image: img, envs: []string{"staging"}},
	)
	o := f.options(f.clone())
	o.Limits.Ticket = 2 * time.Second
	_, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	ev := f.events()
	assert.Equal(t, []string{"signed", "quarantined"}, ev["CHG-2026-0001"])
	assert.Contains(t, f.reason("CHG-2026-0001", ""), "budget")
	assert.Equal(t, []string{"signed", "staging:applying", "staging:applied", "staging:verified"}, ev["CHG-2026-0002"])
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, "", nil)
	old := f.reg.push(t, "build/payments")
	img := f.reg.push(t, "build/payments")
	f.reg.setTag(t, old, "staging/payments:live")
	f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, tag: "live"})

	o := f.options(f.clone())
	o.DryRun = true
	sum, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, sum.Steps, 1)
	assert.Equal(t, "plan", sum.Steps[0].Kind)
	assert.Equal(t, "staging", sum.Steps[0].Env)
	assert.Equal(t, []string{"oci images:live " + old[len(old)-71:] + " → " + img[len(img)-71:]}, sum.Steps[0].Changes)
	assert.Equal(t, []string{"signed"}, f.events()["CHG-2026-0001"])
	assert.Equal(t, old[len(old)-71:], f.reg.tagDigest(t, "staging/payments:live"))
}

// Two changes to one tag never run at once: the second applies after the
// first is verified, and its rollback restores the first's digest, not
// what was there before both.
func TestOneChangePerResourceAtATime(t *testing.T) {
	f := newFixture(t, "", nil)
	first := f.reg.push(t, "build/payments")
	second := f.reg.push(t, "build/payments")
	f.mergeAndSign(
		spec{id: "CHG-2026-0001", image: first, tag: "live", envs: []string{"staging"}},
		spec{id: "CHG-2026-0002", image: second, tag: "live", envs: []string{"staging"},
			extra: `postchecks: [{type: "http", url: "https://fails.example/"}]`},
	)
	o := f.options(f.clone())
	o.Checks = func(_ context.Context, phase reconcile.Phase, checks []model.Check, _ string) error {
		if phase == reconcile.Post {
			return errors.New("down")
		}
		return nil
	}
	sum, err := reconcile.Run(context.Background(), o)
	require.NoError(t, err)
	var order []string
	for _, s := range sum.Steps {
		order = append(order, s.Ticket[len(s.Ticket)-1:]+":"+s.Kind)
	}
	assert.Equal(t, []string{"1:applying", "1:applied", "1:verified", "2:applying", "2:applied", "2:failed", "2:rolled-back"}, order)
	assert.Equal(t, first[len(first)-71:], f.reg.tagDigest(t, "staging/payments:live"))
}

// The burn rate of a service with burnRate is recorded for M10: the
// reading the budget gate judged just before the apply (no second query)
// in the applying event's data, a fresh one at postcheck in the outcome's.
func TestBurnRateRecorded(t *testing.T) {
	const query = `slo:burn_rate:30m{service="payments"}`
	tests := []struct {
		name     string
		config   string
		extra    string
		outcome  string
		before   float64 // 0: not recorded
		after    float64
		queries  int
		postFail bool
	}{
		{name: "verified", config: `services: payments: burnRate: {query: "` + strings.ReplaceAll(query, `"`, `\"`) + `", threshold: 4}`,
			outcome: "verified", before: 1.25, after: 2, queries: 2},
		{name: "postchecks failed", config: `services: payments: burnRate: {query: "` + strings.ReplaceAll(query, `"`, `\"`) + `", threshold: 4}`,
			extra: `postchecks: [{type: "http", url: "https://fails.example/"}]`, outcome: "failed", before: 1.25, after: 2, queries: 2, postFail: true},
		{name: "no burnRate", outcome: "verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, `environments: prod: prometheus: "http://prometheus.invalid"
`+tc.config, nil)
			img := f.reg.push(t, "build/payments")
			f.mergeAndSign(spec{id: "CHG-2026-0001", image: img, envs: []string{"prod"}, extra: tc.extra})
			readings := []float64{1.25, 2}
			var mu sync.Mutex
			queries := 0
			o := f.options(f.clone())
			o.Query = func(_ context.Context, server, q string) (float64, error) {
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, "http://prometheus.invalid", server)
				assert.Equal(t, query, q)
				v := readings[min(queries, len(readings)-1)]
				queries++
				return v, nil
			}
			o.Checks = func(_ context.Context, phase reconcile.Phase, _ []model.Check, _ string) error {
				if phase == reconcile.Post && tc.postFail {
					return errors.New("down")
				}
				return nil
			}
			_, err := reconcile.Run(context.Background(), o)
			require.NoError(t, err)
			assert.Equal(t, tc.queries, queries, "one reading before (the gate's), one at postcheck")
			log, err := f.ledger().Read(context.Background())
			require.NoError(t, err)
			got := map[string]*ledger.BurnRate{}
			for _, ev := range log.Ticket("CHG-2026-0001") {
				got[ev.Kind] = ledger.BurnRateOf(ev.Data)
			}
			require.Contains(t, got, tc.outcome)
			if tc.before == 0 {
				assert.Nil(t, got["applying"])
				assert.Nil(t, got[tc.outcome])
				return
			}
			want := func(v float64) *ledger.BurnRate {
				return &ledger.BurnRate{Value: v, Query: query, Server: "http://prometheus.invalid", At: now}
			}
			assert.Equal(t, want(tc.before), got["applying"])
			assert.Equal(t, want(tc.after), got[tc.outcome])
			assert.Nil(t, got["applied"])
		})
	}
}
