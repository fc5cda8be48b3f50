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
	"strings"
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
	st, err := StatementOf(envelope)
	if err != nil {
		return nil, err
	}
	return &st.Predicate, nil
}

// StatementOf reads the in-toto statement of a ticket envelope (a plain
// DSSE envelope or a Sigstore bundle holding one) WITHOUT verifying its
// signature, under the same checks as [PredicateOf].
func StatementOf(envelope []byte) (*Statement, error) {
	type dsse struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	var outer struct {
		dsse
		MediaType string `json:"mediaType"`
		Bundled   *dsse  `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(envelope, &outer); err != nil {
		return nil, fmt.Errorf("%w: not a DSSE envelope: %v", ErrMalformed, err)
	}
	env := outer.dsse
	if isBundle(outer.MediaType) {
		// A keyless signature: the Sigstore bundle holds the envelope
		// (read by the same rule as sign.Verify, see IsBundle).
		if outer.Bundled == nil {
			return nil, fmt.Errorf("%w: the sigstore bundle holds no DSSE envelope", ErrMalformed)
		}
		env = *outer.Bundled
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
	return &st, nil
}

// bundleMediaTypePrefix starts the media type of every Sigstore bundle; a
// plain DSSE envelope has no media type.
const bundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"

func isBundle(mediaType string) bool { return strings.HasPrefix(mediaType, bundleMediaTypePrefix) }

// IsBundle reports whether signed (what the ledger stores for a signed
// ticket) is a Sigstore bundle, a keyless signature holding the DSSE
// envelope, rather than a plain DSSE envelope. It is the one rule by
// which both PredicateOf and sign.Verify pick the envelope to read.
func IsBundle(signed []byte) bool {
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	return json.Unmarshal(signed, &probe) == nil && isBundle(probe.MediaType)
}
