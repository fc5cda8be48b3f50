package synth

import (
	"errors"
	"fmt"
	"time"
)

// Version identifies the generator's output. Bump it whenever a change
// to this package changes the files or the history it writes, so that
// cached repositories are regenerated.
const Version = 3

// Options parameterise a synthetic change repository. The zero values of
// Services, Authors, Start and Span pick defaults that scale with
// Tickets; Commits 0 writes the files without any git history.
type Options struct {
	// Seed drives every random choice.
	Seed uint64 `json:"seed"`
	// Tickets is the number of tickets in the final tree.
	Tickets int `json:"tickets"`
	// Services is the number of services declared in cab.cue.
	Services int `json:"services"`
	// Commits is the number of commits of the history, the initial commit
	// and the merge commits included; 0 writes no history.
	Commits int `json:"commits"`
	// Authors is the number of people who write and approve changes.
	Authors int `json:"authors"`
	// Start is the time of the first pull request; the initial commit is
	// a day earlier.
	Start time.Time `json:"start"`
	// Span is the time over which pull requests are merged.
	Span time.Duration `json:"span"`
}

// DefaultOptions returns the sizes of the benchmark repository: 10,000
// tickets of 200 services, 100,000 commits by 300 authors over three
// years.
func DefaultOptions() Options {
	return Options{Seed: 1, Tickets: 10000, Services: 200, Commits: 100000, Authors: 300}.withDefaults()
}

func (o Options) withDefaults() Options {
	if o.Services == 0 {
		o.Services = min(200, max(3, o.Tickets/50))
	}
	if o.Authors == 0 {
		o.Authors = min(300, max(12, o.Services*3/2))
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2023, 7, 3, 8, 0, 0, 0, time.UTC)
	}
	if o.Span == 0 {
		o.Span = 3 * 365 * 24 * time.Hour
	}
	o.Start = o.Start.UTC().Truncate(time.Second)
	return o
}

// ErrOptions is wrapped by the errors of invalid options.
var ErrOptions = errors.New("invalid options")

func (o Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Tickets < 1:
		return bad("tickets must be at least 1, not %d", o.Tickets)
	case o.Tickets > 5_000_000:
		return bad("tickets must be at most 5,000,000 (ids have at most 6 digits a year)")
	case o.Services < 1:
		return bad("services must be at least 1, not %d", o.Services)
	case o.Authors < 4:
		return bad("authors must be at least 4 (high-risk changes need two approvers besides the author), not %d", o.Authors)
	case o.Commits < 0 || o.Commits == 1 || o.Commits == 2:
		return bad("commits must be 0 (no history) or at least 3 (initial commit, one pull request and its merge), not %d", o.Commits)
	case o.Span < time.Hour:
		return bad("span must be at least an hour, not %s", o.Span)
	}
	return nil
}
