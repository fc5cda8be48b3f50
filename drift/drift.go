package drift

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/cabhq/cab/ledger"
	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

// Setting is what a verified ticket last set: one key of one target in
// one environment.
type Setting struct {
	Env    string `json:"env"`
	Target string `json:"target"`
	// Key is the resource within the target (model.Action.Resource).
	Key    string `json:"key"`
	Ticket string `json:"ticket"`
	// Index is the action's position in the ticket.
	Index int `json:"index"`
	// Want is what the apply left the target holding, by the ledger.
	Want   string       `json:"want"`
	At     time.Time    `json:"at"`
	Commit string       `json:"-"`
	Action model.Action `json:"-"`
}

// Finding is a setting compared with the live target.
type Finding struct {
	Setting
	// Live is what the target holds now.
	Live string `json:"live,omitempty"`
	// Drifted reports that Live is not Want.
	Drifted bool `json:"drifted"`
	// Unknown says why the target could not be read ("" when it could).
	Unknown string `json:"unknown,omitempty"`
	// Healed reports that a heal restored Want (Live is then what the
	// target reads after it, and Drifted is false).
	Healed bool `json:"healed,omitempty"`
	// NotHealed says why a drifted key was not healed when healing was
	// asked for (a policy, a freeze, an error).
	NotHealed string `json:"notHealed,omitempty"`
}

// Settings lists what verified tickets last set, from log and the
// tickets' content (by id; a ticket missing from tickets is left out:
// its content could not be verified). Order: by environment, key.
func Settings(log *ledger.Log, tickets map[string]model.Ticket) []Setting {
	last := map[string]Setting{} // env/target/key → the last setter
	var order []string
	for i := range log.Events() {
		ev := &log.Events()[i]
		t, ok := tickets[ev.Ticket]
		if ev.Kind != ledger.KindApplied || !ok || log.State(ev.Ticket).Envs[ev.Env] != ledger.KindVerified {
			continue
		}
		vals, err := ledger.AppliedValues(ev)
		if err != nil {
			continue
		}
		for j, a := range t.Actions {
			if j >= len(vals) {
				break
			}
			k := a.Resource(ev.Env)
			prev, seen := last[k]
			if !seen {
				order = append(order, k)
			} else if prev.At.After(ev.At) || prev.At.Equal(ev.At) && prev.Ticket > ev.Ticket {
				continue // a later apply set it
			}
			last[k] = Setting{Env: ev.Env, Target: a.Target, Key: strings.TrimPrefix(k, ev.Env+"/"+a.Target+"/"),
				Ticket: ev.Ticket, Index: j, Want: vals[j], At: ev.At, Commit: ev.Commit, Action: a}
		}
	}
	out := make([]Setting, 0, len(order))
	for _, k := range order {
		out = append(out, last[k])
	}
	slices.SortFunc(out, func(a, b Setting) int {
		return cmp.Or(cmp.Compare(a.Env, b.Env), cmp.Compare(a.Target, b.Target), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// Check observes each setting's target through drivers (by type), each
// within timeout, with the environments' targets of cfg.
func Check(ctx context.Context, cfg *model.Config, drivers map[string]target.Driver, timeout time.Duration, settings []Setting) []Finding {
	out := make([]Finding, 0, len(settings))
	for _, s := range settings {
		f := Finding{Setting: s}
		tg, ok := cfg.Environments[s.Env].Targets[s.Target]
		drv := drivers[s.Action.Type]
		switch {
		case !ok:
			f.Unknown = "target no longer declared in cab.cue"
		case drv == nil:
			f.Unknown = "no " + s.Action.Type + " driver"
		default:
			c := target.Change{Ticket: s.Ticket, Env: s.Env, Index: s.Index, Action: s.Action, Target: tg, TargetName: s.Target, Commit: s.Commit}
			octx, cancel := context.WithTimeout(ctx, timeout)
			st, err := drv.Observe(octx, c)
			cancel()
			if err != nil {
				f.Unknown = err.Error()
				break
			}
			f.Live, f.Drifted = st.Value, st.Value != s.Want
		}
		out = append(out, f)
	}
	return out
}

// Data is the Data of drifted and drift-cleared events.
type Data struct {
	Target string `json:"target"`
	Key    string `json:"key"`
	Index  int    `json:"index"`
	Want   string `json:"want"`
	Live   string `json:"live"`
	// Healed marks a drift-cleared that cab's heal brought about (Live
	// is what the target read back after it).
	Healed bool `json:"healed,omitempty"`
}

// Healed returns the drift-cleared event that records that f, a drifted
// key, was healed and now reads live.
func Healed(f Finding, live string) ledger.Event {
	data, _ := json.Marshal(Data{Target: f.Target, Key: f.Key, Index: f.Index, Want: f.Want, Live: live, Healed: true})
	return ledger.Event{Ticket: f.Ticket, Env: f.Env, Kind: ledger.KindDriftCleared, Commit: f.Commit, Data: data}
}

// Events returns the drifted and drift-cleared events findings call for
// on log: drifted for a key that differs and has no uncleared drift
// recorded, drift-cleared for a key that holds its value again after one.
// Seq, At and the envelope are left to the ledger.
func Events(log *ledger.Log, findings []Finding) []ledger.Event {
	var out []ledger.Event
	for _, f := range findings {
		if f.Unknown != "" {
			continue
		}
		_, open := OpenDrift(log, f.Ticket, f.Env, f.Index)
		kind := ""
		switch {
		case f.Drifted && !open:
			kind = ledger.KindDrifted
		case !f.Drifted && open:
			kind = ledger.KindDriftCleared
		default:
			continue
		}
		data, _ := json.Marshal(Data{Target: f.Target, Key: f.Key, Index: f.Index, Want: f.Want, Live: f.Live})
		out = append(out, ledger.Event{Ticket: f.Ticket, Env: f.Env, Kind: kind, Commit: f.Commit, Data: data})
	}
	return out
}

// OpenDrift returns the seq of the drifted event of ticket's action index
// in env that no drift-cleared followed (false: the drift, if any, is
// cleared). A heal uses that seq in its idempotency key.
func OpenDrift(log *ledger.Log, ticket, env string, index int) (int, bool) {
	seq := 0
	for _, ev := range log.Ticket(ticket) {
		if ev.Env != env || (ev.Kind != ledger.KindDrifted && ev.Kind != ledger.KindDriftCleared) {
			continue
		}
		var d Data
		if json.Unmarshal(ev.Data, &d) != nil || d.Index != index {
			continue
		}
		seq = 0
		if ev.Kind == ledger.KindDrifted {
			seq = ev.Seq
		}
	}
	return seq, seq != 0
}
