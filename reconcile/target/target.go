package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cabhq/cab/model"
)

// Change is one action of one ticket in one environment, with the target
// it names as cab.cue declares it for that environment.
type Change struct {
	// Ticket is the ticket id, e.g. CHG-2026-0042.
	Ticket string
	// Env is the environment the action applies in.
	Env string
	// Seq is the ledger sequence number of the ticket's applying event in
	// Env. Ticket, Env, Seq and Index make the idempotency key.
	Seq int
	// Index is the position of the action in the ticket's action list.
	Index int
	// Action is the ticket's action (type oci, git or http).
	Action model.Action
	// Target is the target of that type that cab.cue declares for Env.
	Target model.Target
	// TargetName is the target's name in cab.cue.
	TargetName string
	// Commit is the main commit that merged the ticket; drivers that write
	// (git) cite it.
	Commit string
}

// IdempotencyKey is the key a driver sends with a non-idempotent call:
// the same change applied twice carries the same key.
func (c Change) IdempotencyKey() string {
	return fmt.Sprintf("%s/%s/%d/%d", c.Ticket, c.Env, c.Seq, c.Index)
}

// State is what a driver observed of a target.
type State struct {
	// Value is the observed value in words a human can compare: an image
	// digest, a file's value at a path, a webhook's reported state;
	// "absent" when there is nothing there yet.
	Value string `json:"value"`
	// Done reports whether the target already is as the change wants it.
	Done bool `json:"done"`
	// Restore holds what Restore needs to bring the target back to this
	// state (e.g. the previous file content); opaque to the reconciler,
	// recorded on the ledger. It must be JSON.
	Restore json.RawMessage `json:"restore,omitempty"`
}

// Absent is State.Value when the target holds nothing yet.
const Absent = "absent"

// Driver applies changes to one kind of target. Every method must be safe
// to call again after a crash: Apply of a change that is already done
// leaves the target as it is.
type Driver interface {
	// Observe reads the target without changing it.
	Observe(ctx context.Context, c Change) (State, error)
	// Apply makes the change and returns the state it then observes (read
	// back, not assumed).
	Apply(ctx context.Context, c Change) (State, error)
	// Restore brings the target back to prev, a state Observe returned
	// before the change was applied.
	Restore(ctx context.Context, c Change, prev State) error
}

// SourceReader is implemented by drivers whose apply reads a source
// besides the target (oci: the image it copies). ReadSource checks, without
// writing anything, that the source can be read with the driver's
// credentials; cab plan asks it before merge.
type SourceReader interface {
	ReadSource(ctx context.Context, c Change) error
}

// ErrUnsafe is matched (errors.Is) by errors about a change that must not
// be made at all, whatever the retry: a path leaving the repository, a
// symlink, an image not named by digest. The reconciler does not retry it.
var ErrUnsafe = errors.New("unsafe change")

// ErrMismatch is matched (errors.Is) when a target read back after an
// apply does not hold what was written.
var ErrMismatch = errors.New("target does not hold what was applied")
