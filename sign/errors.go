package sign

import (
	"errors"
	"fmt"

	"github.com/cabhq/cab/sign/statement"
)

var (
	// ErrMalformed means the envelope or its statement could not be read.
	ErrMalformed = statement.ErrMalformed
	// ErrUntrusted means no trusted key verified the envelope's signature.
	ErrUntrusted = errors.New("signature not made by a trusted key")
	// ErrMismatch means the signature is good but the statement does not
	// describe what the caller expects. Errors wrapping it are
	// [*MismatchError].
	ErrMismatch = errors.New("attestation does not match")
	// ErrDecrypt means an encrypted private key could not be decrypted.
	ErrDecrypt = errors.New("decrypting key: wrong password?")
	// ErrNoPassword means a private key is encrypted and no password was given.
	ErrNoPassword = errors.New("key is encrypted and no password was given")
)

// MismatchError says which field of a verified statement differs from what
// the caller expected.
type MismatchError struct {
	Ticket    string // the ticket path the caller asked about
	Field     string // e.g. "subject.digest.sha256", "predicate.environments"
	Got, Want string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: %v: %s is %s, want %s", e.Ticket, ErrMismatch, e.Field, e.Got, e.Want)
}

// Is reports whether target is [ErrMismatch].
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }
