package sign

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/cabhq/cab/policy"
)

const (
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType identifies a cab change attestation.
	PredicateType = "https://cab.dev/change/v1"
	// PayloadType is the DSSE payload type of an in-toto statement; cosign
	// verify-attestation expects exactly this value.
	PayloadType = "application/vnd.in-toto+json"
)

// Predicate is what cab attests about a merged ticket.
type Predicate struct {
	ID          string `json:"id"`
	MergeCommit string `json:"mergeCommit"`
	PR          int64  `json:"pr,omitempty"`
	Author      string `json:"author"`
	// Merger merged the change (never one of the approvers).
	Merger       string            `json:"merger,omitempty"`
	Approvals    []policy.Approval `json:"approvals"`
	PolicyDigest string            `json:"policyDigest"` // "sha256:<hex>" of the base rules
	Environments []string          `json:"environments"`
	Repository   string            `json:"repository"`
	SignedAt     time.Time         `json:"signedAt"`
}

// Subject is an in-toto resource descriptor: the ticket path and digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto Statement v1 whose predicate is a [Predicate].
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// NewStatement returns the statement for the ticket at ticketPath whose
// canonical JSON has the sha256 hex digest ticketDigest (see [Digest]).
func NewStatement(ticketPath, ticketDigest string, p Predicate) Statement {
	return Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: ticketPath, Digest: map[string]string{"sha256": ticketDigest}}},
		PredicateType: PredicateType,
		Predicate:     p,
	}
}

// Digest returns the lowercase sha256 hex digest of ticketJSON, which must
// already be canonical (the output of schema.Canonical): Digest hashes the
// bytes exactly as given.
func Digest(ticketJSON []byte) string {
	sum := sha256.Sum256(ticketJSON)
	return hex.EncodeToString(sum[:])
}
