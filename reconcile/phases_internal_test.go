package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

// Each result is recorded as one event kind with the data older
// reconcilers wrote for it (the ledger's JSON stays as it was), and
// routes the job to the phase that event leads to.
func TestResultsRecordAndRoute(t *testing.T) {
	burn := &ledger.BurnRate{Value: 0.5, Query: "slo", Server: "http://prom", At: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)}
	st := []target.State{{Value: "sha256:aaa"}}
	boom := errors.New("boom")
	tests := []struct {
		name string
		out  result
		kind string
		data string
		to   int // -1: done for the round
	}{
		{"claimed", claimed{instance: "r1", previous: st, changes: []string{"a → b"}, burn: burn}, ledger.KindApplying,
			`{"instance":"r1","previous":[{"value":"sha256:aaa","done":false}],"changes":["a → b"],"burnRate":{"value":0.5,"query":"slo","server":"http://prom","at":"2026-12-01T22:00:00Z"}}`, phaseApply},
		{"applied", applied{observed: st}, ledger.KindApplied, `{"observed":[{"value":"sha256:aaa","done":false}]}`, phaseVerify},
		{"verified", verified{burn: burn}, ledger.KindVerified,
			`{"burnRate":{"value":0.5,"query":"slo","server":"http://prom","at":"2026-12-01T22:00:00Z"}}`, -1},
		{"verified without burn rate", verified{}, ledger.KindVerified, `{}`, -1},
		{"failed at apply", failed{step: stepApply, err: boom, observed: st}, ledger.KindFailed,
			`{"reason":"boom","step":"apply","observed":[{"value":"sha256:aaa","done":false}]}`, phaseRollback},
		{"failed at postchecks", failed{step: stepPostchecks, err: boom}, ledger.KindFailed, `{"reason":"boom","step":"postchecks"}`, phaseRollback},
		{"rolled back", rolledBack{}, ledger.KindRolledBack, `{}`, -1},
		{"rollback failed", rollbackFailed{err: boom}, ledger.KindRollbackFailed, `{"reason":"boom","step":"rollback"}`, -1},
		{"blocked", blocked{cause: newCause(causeFreeze, "q4"), reason: `freeze "q4"`}, ledger.KindScheduled,
			`{"reason":"freeze \"q4\"","cause":"freeze:q4"}`, -1},
		{"waiting", waiting{until: time.Date(2026, 12, 1, 23, 30, 0, 0, time.FixedZone("CET", 3600))}.blocked(), ledger.KindScheduled,
			`{"reason":"waiting for the window to open at 2026-12-01T22:30:00Z","cause":"window:2026-12-01T22:30:00Z"}`, -1},
		{"quarantined", quarantined{reason: "bad signature"}, ledger.KindQuarantined, `{"reason":"bad signature"}`, -1},
		{"expired", expired{reason: "the window closed"}, ledger.KindExpired, `{"reason":"the window closed"}`, -1},
		{"readmitted", readmit{cause: newCause(causeMergeMissing, "abc")}, ledger.KindScheduled,
			`{"reason":"judged again: what set it aside (merge-commit-missing:abc) is gone","cause":"readmitted:merge-commit-missing:abc"}`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.kind, tt.out.kind())
			assert.JSONEq(t, tt.data, string(encodeData(tt.out.data())))
			to, ok := leadsTo(tt.out.kind())
			if tt.to < 0 {
				assert.False(t, ok, "%s leads nowhere, got phase %d", tt.kind, to)
				return
			}
			require.True(t, ok, "%s leads to phase %d", tt.kind, tt.to)
			assert.Equal(t, tt.to, to)
			assert.Equal(t, tt.kind, phases[to].after, "an apply whose last event is %s resumes there", tt.kind)
		})
	}
}

// The phases are one table: each but the first is entered by exactly one
// event kind, which a phase before it records.
func TestPhasesAreOneChain(t *testing.T) {
	assert.Empty(t, phases[phaseClaim].after, "only the round's decisions start at the claim")
	seen := map[string]bool{}
	for i, ph := range phases {
		require.NotNil(t, ph.run, "phase %d", i)
		assert.NotEmpty(t, ph.name, "phase %d names its boundary", i)
		if i == phaseClaim {
			continue
		}
		assert.NotEmpty(t, ph.after, "phase %s", ph.name)
		assert.NotEmpty(t, ph.resuming, "phase %s says what resuming it does", ph.name)
		assert.False(t, seen[ph.after], "phase %s: %s leads to one phase only", ph.name, ph.after)
		seen[ph.after] = true
	}
	for _, kind := range []string{ledger.KindApplying, ledger.KindApplied, ledger.KindFailed} {
		assert.True(t, seen[kind], "an apply left at %s can be resumed", kind)
	}
}

// A wait is recognised by its cause, not its words: a burn rate read anew
// each pass (or an error whose text changes) is the same wait, recorded
// once; a wait caused by an error is still reported every pass, a wait
// for another cause is recorded.
func TestWaitIsRecognisedByItsCause(t *testing.T) {
	const id, svc = "CHG-2026-0001", "payments"
	cfg := &model.Config{
		Environments: map[string]model.Environment{"prod": {Prometheus: "http://prom"}},
		Services:     map[string]model.Service{svc: {BurnRate: &model.BurnRate{Query: "slo:burn_rate", Threshold: 4}}},
	}
	// hold is the error-budget hold of one pass whose query answers v or err.
	hold := func(t *testing.T, v float64, err error) blocked {
		p := &pass{r: &Reconciler{o: Options{Now: time.Now, Query: func(context.Context, string, string) (float64, error) { return v, err }}},
			cfg: cfg, burn: map[string]budget{}}
		b := p.errorBudget(context.Background(), svc, cfg.Environments["prod"])
		require.NotNil(t, b, "the budget holds the change")
		return *b
	}
	tests := []struct {
		name     string
		first    blocked // recorded by an earlier pass
		now      blocked // this pass's
		recorded bool    // this pass records a new wait
		reported bool    // this pass reports a repeated wait (Step.Error)
	}{
		{name: "burn rate changed", first: hold(t, 4.5, nil), now: hold(t, 9.25, nil)},
		{name: "budget error changed", first: hold(t, 0, errors.New("503 (trace 1)")), now: hold(t, 0, errors.New("503 (trace 2)")), reported: true},
		{name: "target error changed",
			first: blocked{cause: newCause(causeTargetUnreadable, "prod", "images"), reason: "401 (request 1)"},
			now:   blocked{cause: newCause(causeTargetUnreadable, "prod", "images"), reason: "401 (request 2)"}, reported: true},
		{name: "another cause", first: hold(t, 4.5, nil), now: blocked{cause: newCause(causeFreeze, "q4"), reason: `freeze "q4"`}, recorded: true},
		{name: "budget readable again but burning", first: hold(t, 0, errors.New("503")), now: hold(t, 5, nil), recorded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, tt.first.reason, tt.now.reason, "the words differ")
			ev := ledger.Event{Ticket: id, Env: "prod", Kind: ledger.KindScheduled, Seq: 2, Data: encodeData(tt.first.data())}
			sum := &Summary{}
			log, err := ledger.LogOf([]ledger.Event{
				{Ticket: id, Kind: ledger.KindSigned, Seq: 1, Data: json.RawMessage(`{"environments":["prod"]}`)}, ev})
			require.NoError(t, err)
			p := &pass{r: &Reconciler{o: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}},
				log: log, sum: sum}
			j := &job{decision: decision{tk: &ticket{id: id}, env: "prod", seq: 2, out: tt.now}}
			for range 2 { // two rounds of one pass
				es := p.collect([]*job{j}, []result{settled(j.out)})
				if tt.recorded {
					require.Len(t, es, 1)
					assert.Equal(t, tt.now, es[0].out)
					assert.True(t, es[0].wait(), "recording a wait is not progress")
				} else {
					assert.Empty(t, es, "the same wait: nothing to record")
				}
			}
			if tt.reported {
				require.Len(t, sum.Steps, 1, "reported once a pass: %+v", sum.Steps)
				assert.Equal(t, Step{Ticket: id, Env: "prod", Kind: ledger.KindScheduled, Cause: string(tt.now.cause), Reason: tt.now.reason, Error: true}, sum.Steps[0])
			} else {
				assert.Empty(t, sum.Steps)
			}
		})
	}
}

// The causes are stable keys: what the wait is on, never a reading.
func TestCauseKeys(t *testing.T) {
	tests := []struct {
		c     cause
		want  string
		isErr bool
	}{
		{newCause(causeWindow, "2026-12-01T23:30:00Z"), "window:2026-12-01T23:30:00Z", false},
		{newCause(causeFreeze, "q4"), "freeze:q4", false},
		{newCause(causeBudget, "payments"), "budget:payments", false},
		{newCause(causeBudgetUnreadable, "payments"), "budget-unreadable:payments", true},
		{newCause(causeDependency, "CHG-2026-0002"), "dependency:CHG-2026-0002", false},
		{newCause(causePrechecks, "prod"), "prechecks:prod", false},
		{newCause(causeTargetUnreadable, "prod", "images"), "target-unreadable:prod/images", true},
		{newCause(causeMergeMissing, "abc"), "merge-commit-missing:abc", true},
		{newCause(causeReadmitted, "merge-commit-missing:abc"), "readmitted:merge-commit-missing:abc", false},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, cause(tt.want), tt.c)
			assert.Equal(t, tt.isErr, tt.c.isError(), "a wait caused by an error: %v", tt.isErr)
		})
	}
	for _, v := range []float64{4.5, 9.25} {
		p := &pass{r: &Reconciler{o: Options{Now: time.Now, Query: func(context.Context, string, string) (float64, error) { return v, nil }}},
			cfg:  &model.Config{Services: map[string]model.Service{"payments": {BurnRate: &model.BurnRate{Query: "q", Threshold: 4, Server: "http://prom"}}}},
			burn: map[string]budget{}}
		b := p.errorBudget(context.Background(), "payments", model.Environment{})
		require.NotNil(t, b)
		assert.Equal(t, cause("budget:payments"), b.cause, "the reading is in the words only")
		assert.Contains(t, b.reason, fmt.Sprintf("= %g", v))
	}
}
