package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/cabhq/cab/internal/atomicfile"
)

// StateDir is where the state file lives, under a checkout's git
// directory.
const StateDir = "cab/notify"

// keepSent is how long a sent event's id is remembered: long enough that
// no reconciler reports the same ledger event again.
const keepSent = 90 * 24 * time.Hour

// maxPending bounds the events kept pending: beyond it the oldest are
// dropped (and logged), so that a sink down for months cannot grow the
// state without bound.
const maxPending = 10000

// state is what was sent and what is still to send, kept in a file so
// that a restart resends what was not acknowledged and nothing else.
type state struct {
	// Sent maps an event id to when every sink had it.
	Sent map[string]time.Time `json:"sent"`
	// Pending are events not yet acknowledged by every sink.
	Pending []pending `json:"pending"`
}

// pending is an event and the sinks still to acknowledge it.
type pending struct {
	Event Event    `json:"event"`
	Sinks []string `json:"sinks"`
}

func newState() *state { return &state{Sent: map[string]time.Time{}} }

func loadState(path string) (*state, error) {
	s := newState()
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading notification state: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("reading notification state %s: %w", path, err)
	}
	if s.Sent == nil {
		s.Sent = map[string]time.Time{}
	}
	return s, nil
}

// save writes s atomically (temporary file and rename).
func (s *state) save(path string, now time.Time) error {
	if path == "" {
		return nil
	}
	for id, at := range s.Sent {
		if now.Sub(at) > keepSent {
			delete(s.Sent, id)
		}
	}
	if len(s.Pending) > maxPending {
		sort.SliceStable(s.Pending, func(i, j int) bool { return s.Pending[i].Event.At.Before(s.Pending[j].Event.At) })
		s.Pending = s.Pending[len(s.Pending)-maxPending:]
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing notification state: %w", err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("writing notification state: %w", err)
	}
	return nil
}

func (s *state) find(id string) int {
	for i, p := range s.Pending {
		if p.Event.ID == id {
			return i
		}
	}
	return -1
}
