package audit

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Filter selects the rows of Log. Each non-empty list must match (one of
// its values); the lists are combined with AND.
type Filter struct {
	// IDs and Services match the ticket id and service (from the path
	// changes/<service>/<id>.cue), exactly or as path.Match patterns
	// ("CHG-2026-*").
	IDs      []string
	Services []string
	// Envs match a ticket naming one of the environments (its own list,
	// or any the ledger recorded events in).
	Envs []string
	// Authors and Approvers match forge identities ("github:1001",
	// "git:alice@example.com"), case-insensitively, or the part after the
	// forge prefix ("1001", "alice@example.com"). An unsigned row's author
	// is an email.
	Authors   []string
	Approvers []string
	// Outcomes match Change.Outcome (LogEvents: the event kind).
	Outcomes []string
	// Kinds and Risks match the ticket's kind and risk.
	Kinds []string
	Risks []string
	// Since and Until bound the merge time (LogEvents: the event time),
	// both ends included, as git log's --since and --until; zero: no
	// bound.
	Since, Until time.Time
}

// ErrFilter is wrapped by the errors of an invalid Filter.
var ErrFilter = errors.New("invalid filter")

func (f *Filter) validate() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return fmt.Errorf("%w: until %s is before since %s", ErrFilter, f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	for _, p := range slices.Concat(f.IDs, f.Services) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%w: bad pattern %q: %v", ErrFilter, p, err)
		}
	}
	return nil
}

// isPattern reports whether a filter value is a path.Match pattern rather
// than a name to match exactly.
func isPattern(v string) bool { return strings.ContainsAny(v, `*?[\`) }

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == s {
			return true
		}
		if isPattern(p) {
			if ok, _ := path.Match(p, s); ok {
				return true
			}
		}
	}
	return false
}

func (f *Filter) matchTime(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || !t.After(f.Until))
}

// matchPath applies the filters the path decides.
func (f *Filter) matchPath(t *ticketRec) bool {
	return matchAny(f.IDs, t.ID) && matchAny(f.Services, t.Service)
}

// matchIdentity reports whether want names the identity id.
func matchIdentity(want, id string) bool {
	if id == "" {
		return false
	}
	if strings.EqualFold(want, id) {
		return true
	}
	if _, rest, ok := strings.Cut(id, ":"); ok && strings.EqualFold(want, rest) {
		return true
	}
	return false
}

func matchIdentities(wants []string, ids ...string) bool {
	if len(wants) == 0 {
		return true
	}
	for _, w := range wants {
		for _, id := range ids {
			if matchIdentity(w, id) {
				return true
			}
		}
	}
	return false
}

// matchChange applies every filter to a built row.
func (f *Filter) matchChange(c *Change) bool {
	if !matchAny(f.IDs, c.ID) || !matchAny(f.Services, c.Service) || !f.matchTime(c.MergedAt) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, c.Kind) {
		return false
	}
	if len(f.Risks) > 0 && !slices.Contains(f.Risks, c.Risk) {
		return false
	}
	if len(f.Outcomes) > 0 && !slices.Contains(f.Outcomes, c.Outcome) {
		return false
	}
	if len(f.Envs) > 0 && !slices.ContainsFunc(c.Environments, func(e EnvOutcome) bool { return slices.Contains(f.Envs, e.Env) }) {
		return false
	}
	return matchIdentities(f.Authors, c.Author) && matchIdentities(f.Approvers, c.Approvers...)
}

// matchEvent applies the event filters of LogEvents: a ticket-wide event
// (no environment) concerns every environment.
func (f *Filter) matchEvent(ev *ledgerEvent) bool {
	if len(f.Envs) > 0 && ev.Env != "" && !slices.Contains(f.Envs, ev.Env) {
		return false
	}
	if len(f.Outcomes) > 0 && !slices.Contains(f.Outcomes, ev.Kind) {
		return false
	}
	return f.matchTime(ev.At)
}
