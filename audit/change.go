package audit

import (
	"time"

	"github.com/cabhq/cab/ledger"
)

// Change is one ticket's story as git tells it: what was merged, by whom,
// who approved and signed it, and what happened in each environment.
// It is one row of cab log.
type Change struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Service string `json:"service"`
	Kind    string `json:"kind"`
	Risk    string `json:"risk"`
	Owner   string `json:"owner,omitempty"`
	// Path is the ticket file on main.
	Path string `json:"path"`
	// Author is the forge identity that proposed the change (from the
	// signed predicate; the merge commit's author email when unsigned).
	Author string `json:"author,omitempty"`
	// Merger is the forge identity that merged the change (from the signed
	// predicate; empty when unsigned or not recorded).
	Merger string `json:"merger,omitempty"`
	// Approvers are the forge identities whose approvals counted.
	Approvers []string `json:"approvers"`
	// PR is the pull or merge request number, 0 when unknown; PRURL its
	// address when the forge is known.
	PR    int64  `json:"pr,omitempty"`
	PRURL string `json:"prURL,omitempty"`
	// MergeCommit is the main commit that added the ticket; CommitURL its
	// address when the forge is known.
	MergeCommit string    `json:"mergeCommit"`
	CommitURL   string    `json:"commitURL,omitempty"`
	MergedAt    time.Time `json:"mergedAt"`
	// OpenedAt is when the change was proposed: the author time of the
	// earliest commit the merge brought in (zero when unknown).
	OpenedAt time.Time `json:"openedAt,omitzero"`
	// ApprovedAt is when the last counted approval was given (zero when
	// the forge did not say).
	ApprovedAt time.Time `json:"approvedAt,omitzero"`
	// Signature is signed, unsigned or "" (not yet judged); SignedBy is
	// the actor that signed, SignedAt when.
	Signature string    `json:"signature"`
	SignedBy  string    `json:"signedBy,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitzero"`
	// SignedKey is the key id the signed event names (not verified: cab
	// verify checks signatures).
	SignedKey string `json:"signedKey,omitempty"`
	// Environments are the ticket's environments in promotion order.
	Environments []EnvOutcome `json:"environments"`
	// Fixes are the changes whose incident this one fixes (the ticket's
	// fixes: field).
	Fixes []string `json:"fixes,omitempty"`
	// PostReviewOf names the emergency change whose post-incident review
	// this ticket is (the ticket's postReviewOf: field).
	PostReviewOf string `json:"postReviewOf,omitempty"`
	// Outcome sums the environments up: verified (everywhere), rolled-back,
	// rollback-failed, failed, expired, quarantined, unsigned, in-progress,
	// scheduled or pending.
	Outcome string `json:"outcome"`
	// Problems are what is wrong with this ticket's file or ledger events
	// (a gap, an impossible transition, an unreadable file); the row shows
	// what could be read.
	Problems []string `json:"problems,omitempty"`
}

// EnvOutcome is what happened to a change in one environment.
type EnvOutcome struct {
	Env string `json:"env"`
	// Outcome is the kind of the last ledger event in Env ("pending" when
	// there is none).
	Outcome string `json:"outcome"`
	// At is the time of the last ledger event in Env (zero when none).
	At             time.Time `json:"at,omitzero"`
	Applying       time.Time `json:"applying,omitzero"`
	Applied        time.Time `json:"applied,omitzero"`
	Verified       time.Time `json:"verified,omitzero"`
	Failed         time.Time `json:"failed,omitzero"`
	RolledBack     time.Time `json:"rolledBack,omitzero"`
	RollbackFailed time.Time `json:"rollbackFailed,omitzero"`
	// PrecheckHolds counts the waits recorded because the prechecks failed
	// (the reconciler records one per continuous hold, not one per poll).
	PrecheckHolds []time.Time `json:"precheckHolds,omitempty"`
	// BurnBefore is the service's error-budget burn rate the reconciler
	// read just before the last apply (its applying event), BurnAfter the
	// one read at its postcheck (verified or failed event); nil when not
	// recorded (a service without burnRate, an older reconciler).
	BurnBefore *ledger.BurnRate `json:"burnBefore,omitempty"`
	BurnAfter  *ledger.BurnRate `json:"burnAfter,omitempty"`
	// Reason is the last recorded reason (a failure, a freeze, a wait).
	Reason string `json:"reason,omitempty"`
}
