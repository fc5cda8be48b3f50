// Package statement is the format of what cab signs about a merged ticket:
// an in-toto Statement v1 whose predicate is a cab [Predicate], carried in
// a DSSE envelope of payload type [PayloadType]. It is a leaf package so
// that every reader of a predicate (validate's post-incident review
// obligation among them, which package sign depends on) reads it with the
// one function [PredicateOf]; package sign re-exports all of it and owns
// signing and verification.
package statement

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cabhq/cab/model"
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

// ErrMalformed means an envelope or its statement could not be read.
var ErrMalformed = errors.New("malformed attestation")

// Predicate is what cab attests about a merged ticket.
type Predicate struct {
	ID          string `json:"id"`
	MergeCommit string `json:"mergeCommit"`
	PR          int64  `json:"pr,omitempty"`
	Author      string `json:"author"`
	// Merger merged the change (never one of the approvers).
	Merger       string           `json:"merger,omitempty"`
	Approvals    []model.Approval `json:"approvals"`
	PolicyDigest string           `json:"policyDigest"` // "sha256:<hex>" of the base rules
	Environments []string         `json:"environments"`
	Repository   string           `json:"repository"`
	SignedAt     time.Time        `json:"signedAt"`
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

// PredicateOf reads the cab predicate of a ticket envelope WITHOUT
// verifying its signature: for readers that only display or index what
// was signed (cab log, the post-incident review obligation, skipping
// tickets done everywhere). Whatever acts on a ticket verifies it first
// (sign.Verify). The payload type and the statement and predicate types
// are checked, so an envelope of another kind is never read as a
// ticket's. Errors wrap [ErrMalformed].
func PredicateOf(envelope []byte) (*Predicate, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("%w: not a DSSE envelope: %v", ErrMalformed, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrMalformed, env.PayloadType, PayloadType)
	}
	var st Statement
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		return nil, fmt.Errorf("%w: payload is not an in-toto statement: %v", ErrMalformed, err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("%w: statement type %q, want %q", ErrMalformed, st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return nil, fmt.Errorf("%w: predicate type %q, want %q", ErrMalformed, st.PredicateType, PredicateType)
	}
	return &st.Predicate, nil
}
