package ledger

import (
	"encoding/json"
	"time"
)

// BurnRate is an error-budget burn rate the reconciler read around an
// apply of a service with burnRate in cab.cue: just before it (in the
// applying event's data) and at postcheck (in the verified or failed
// event's data), under the key "burnRate". Audit's M10 (error-budget
// impact) is the second minus the first.
type BurnRate struct {
	Value  float64   `json:"value"`
	Query  string    `json:"query"`
	Server string    `json:"server"`
	At     time.Time `json:"at"`
}

// BurnRateOf returns the burn rate recorded in an event's data (nil when
// there is none or the data does not decode).
func BurnRateOf(data json.RawMessage) *BurnRate {
	var d struct {
		BurnRate *BurnRate `json:"burnRate"`
	}
	if len(data) == 0 || json.Unmarshal(data, &d) != nil {
		return nil
	}
	return d.BurnRate
}
