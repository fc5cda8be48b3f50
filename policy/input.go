package policy

import (
	"encoding/json"

	"github.com/cabhq/cab/model"
)

// Mode says in which situation a ticket is judged.
type Mode string

const (
	// Local is `cab check` on files: no review evidence exists yet.
	Local Mode = "local"
	// PullRequest is the PR gate: review evidence comes from the forge.
	PullRequest Mode = "pr"
	// Merge is the signer re-running the gate on a merge commit.
	Merge Mode = "merge"
)

// Shared is the part of the policy input that is the same for every
// ticket of one check: bind it once with Set.Bind.
type Shared struct {
	Mode Mode `json:"mode"`
	// Now is the time of the check, RFC 3339 in UTC.
	Now      string         `json:"now"`
	Calendar SharedCalendar `json:"calendar"`
}

// SharedCalendar lists every freeze, resolved to UTC instants.
type SharedCalendar struct {
	Freezes []Freeze `json:"freezes"`
}

// Freeze is a freeze as policies see it.
type Freeze struct {
	Name         string   `json:"name"`
	Reason       string   `json:"reason,omitempty"`
	Start        string   `json:"start"`
	End          string   `json:"end"`
	EndInclusive bool     `json:"endInclusive"`
	Timezone     string   `json:"timezone"`
	Environments []string `json:"environments"`
}

// TicketInput is the part of the policy input specific to one ticket.
type TicketInput struct {
	// Ticket is the ticket's canonical JSON export.
	Ticket json.RawMessage `json:"ticket"`
	// Repo is the repository configuration (cab.cue) pruned to what
	// concerns this ticket: its service, the approver groups that service
	// names, its environments and its template, with the top-level
	// settings; {} outside a change repository. Its approvalSLA, when
	// cab.cue sets one for this ticket, is already resolved for the
	// ticket's service and risk (model.Config.SLAFor): risk holds the one
	// entry for the ticket's risk, backup and escalateAfter are the ones
	// that apply, and the backup group is among the approvers. Pruning keeps policy
	// evaluation independent of the size of cab.cue.
	Repo     json.RawMessage `json:"repo"`
	Review   *model.Review   `json:"review,omitempty"`
	Calendar TicketCalendar  `json:"calendar"`
	// ChangedFiles are the repository paths the change set touches.
	ChangedFiles []string `json:"changedFiles"`
	// Conflicts are the merged, still open tickets whose windows overlap
	// this ticket's on a shared target (pull-request mode; empty on files).
	Conflicts []Conflict `json:"conflicts"`
}

// Conflict is another open ticket changing the same target at the same time.
type Conflict struct {
	ID          string `json:"id"`
	Environment string `json:"environment"`
	// Target is "<target>/<object>": a registry repository and tag, a file
	// of an environment repository, or a webhook path.
	Target string `json:"target"`
	Start  string `json:"start"`
	End    string `json:"end"`
}

// TicketCalendar holds facts about the ticket's window, computed in Go
// where time zones and inclusive ends are handled once and right.
type TicketCalendar struct {
	// Overlapping names the freezes that cover part of the ticket's
	// window in one of its environments.
	Overlapping []Freeze `json:"overlapping"`
	// WindowClosed is true when the window ended at or before now.
	WindowClosed bool `json:"windowClosed"`
	// WindowOpen is true when now is inside the window.
	WindowOpen bool `json:"windowOpen"`
	// ReviewWaited is how long the change has waited for review, in
	// nanoseconds of whole seconds (now minus review.openedAt), when the
	// review says when it was opened. Policies read it rather than now, so
	// that the default set's verdicts depend on the time only through these
	// facts (see MayReadNow).
	ReviewWaited *int64 `json:"reviewWaited,omitempty"`
}
