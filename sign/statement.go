package sign

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/cabhq/cab/sign/statement"
)

// The statement format lives in package statement (a leaf, so that every
// reader of a predicate can use PredicateOf); sign re-exports it.
const (
	// StatementType is the in-toto Statement v1 type.
	StatementType = statement.StatementType
	// PredicateType identifies a cab change attestation.
	PredicateType = statement.PredicateType
	// PayloadType is the DSSE payload type of an in-toto statement; cosign
	// verify-attestation expects exactly this value.
	PayloadType = statement.PayloadType
)

type (
	// Predicate is what cab attests about a merged ticket.
	Predicate = statement.Predicate
	// Subject is an in-toto resource descriptor: the ticket path and digest.
	Subject = statement.Subject
	// Statement is an in-toto Statement v1 whose predicate is a [Predicate].
	Statement = statement.Statement
)

// PredicateOf reads the cab predicate of a ticket envelope without
// verifying it, payload type checked: see [statement.PredicateOf], the one
// reader of predicates.
func PredicateOf(envelope []byte) (*Predicate, error) { return statement.PredicateOf(envelope) }

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
