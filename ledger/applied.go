package ledger

import (
	"encoding/json"
	"fmt"
)

// AppliedValues returns what an applied event says each action of the
// ticket left its target holding, in action order: the values the
// reconciler read back after the apply (Data's "observed" states). It is
// the ledger's word on what a verified ticket set, which drift detection
// compares the live targets with.
func AppliedValues(ev *Event) ([]string, error) {
	if ev.Kind != KindApplied {
		return nil, fmt.Errorf("ledger: %s event %d of %s is not applied", ev.Kind, ev.Seq, ev.Ticket)
	}
	var d struct {
		Observed []struct {
			Value string `json:"value"`
		} `json:"observed"`
	}
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, fmt.Errorf("ledger: applied event %d of %s: %w", ev.Seq, ev.Ticket, err)
		}
	}
	out := make([]string, len(d.Observed))
	for i, o := range d.Observed {
		out[i] = o.Value
	}
	return out, nil
}
