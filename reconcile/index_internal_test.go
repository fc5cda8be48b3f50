package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/ledger"
)

// An index kept across reads of a growing ledger, updated from what each
// read changed, answers exactly what an index built afresh from the same
// read answers: the open tickets (in order) and the states counted, for
// all tickets and for a few.
func TestLedgerIndexIncrementalEqualsFresh(t *testing.T) {
	ctx := context.Background()
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprintf("CHG-2026-%04d", (i*37)%100+(i%3)*100)
	}
	only := []string{ids[0], ids[3], ids[3], ids[7]}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			repo, err := git.Init(memory.NewStorage(), nil)
			require.NoError(t, err)
			l := ledger.Open(repo, "", "")
			clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			l.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
			kept := newLedgerIndex(&statementEnvs{})
			for step := range 80 {
				_, err := l.Update(ctx, func(log *ledger.Log) ([]ledger.Event, error) {
					id := ids[rng.IntN(len(ids))]
					return nextIndexEvent(t, rng, id, log.State(id)), nil
				})
				require.NoError(t, err, "step %d", step)
				log, err := l.Read(ctx)
				require.NoError(t, err)
				kept.update(log)
				fresh := newLedgerIndex(nil)
				fresh.update(log)
				for _, o := range [][]string{nil, only} {
					require.Equal(t, fresh.openTickets(o), kept.openTickets(o), "step %d: open %v", step, o)
					a, b := &Summary{States: map[string]int{}}, &Summary{States: map[string]int{}}
					fresh.count(a, o)
					kept.count(b, o)
					require.Equal(t, a.States, b.States, "step %d: states %v", step, o)
				}
				// The counts kept are those of every ticket indexed.
				all := map[string]int{}
				for _, in := range kept.tickets {
					for _, k := range in.states {
						all[k]++
					}
				}
				require.Equal(t, all, kept.states, "step %d: states kept", step)
			}
		})
	}
}

// nextIndexEvent is a legal next event for ticket id in state st.
func nextIndexEvent(t *testing.T, rng *rand.Rand, id string, st ledger.TicketState) []ledger.Event {
	env := []string{"staging", "prod"}[rng.IntN(2)]
	ev := func(kind string) []ledger.Event { return []ledger.Event{{Ticket: id, Env: env, Kind: kind}} }
	switch {
	case st.Status == "":
		envs := [][]string{{"staging"}, {"staging", "prod"}, nil}[rng.IntN(3)]
		return []ledger.Event{{Ticket: id, Kind: ledger.KindSigned, Commit: "0123456789abcdef0123456789abcdef01234567",
			Data: json.RawMessage(`{"path":"changes/payments/` + id + `.cue"}`), Envelope: envelopeFor(t, id, envs...)}}
	case st.Status == ledger.KindQuarantined:
		return []ledger.Event{{Ticket: id, Kind: ledger.KindScheduled}}
	case st.Status != ledger.KindSigned:
		return nil
	}
	switch st.Envs[env] {
	case "", ledger.KindScheduled:
		switch rng.IntN(6) {
		case 0:
			d, _ := json.Marshal(eventData{Cause: string(newCause(causeMergeMissing, "abc"))})
			return []ledger.Event{{Ticket: id, Kind: ledger.KindQuarantined, Data: d}}
		case 1:
			return []ledger.Event{{Ticket: id, Kind: ledger.KindQuarantined}}
		case 2:
			return ev(ledger.KindScheduled)
		}
		return ev(ledger.KindApplying)
	case ledger.KindApplying:
		return ev(ledger.KindApplied)
	case ledger.KindApplied:
		if rng.IntN(4) == 0 {
			return ev(ledger.KindFailed)
		}
		return ev(ledger.KindVerified)
	case ledger.KindFailed:
		return ev(ledger.KindRolledBack)
	}
	return nil
}
