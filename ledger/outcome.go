package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// EventPayloadType is the DSSE payload type of a signed outcome event: the
// payload is the event's canonical JSON (see Canonical).
const EventPayloadType = "application/vnd.cab.ledger-event+json"

// EventSigner signs outcome events: a reconciler's key (sign.Signer).
type EventSigner interface {
	// KeyID is the id of the signing key (sign.KeyID).
	KeyID() string
	// SignPayload returns a DSSE envelope of payload with payloadType.
	SignPayload(ctx context.Context, payloadType string, payload []byte) ([]byte, error)
}

// EventVerifier checks the envelope of an outcome event against the keys
// cab.cue trusts for the reconcile role (sign.Verifier).
type EventVerifier interface {
	// VerifyPayload checks that envelope has payloadType and a good
	// signature of a trusted key, and returns the signed payload bytes.
	VerifyPayload(envelope []byte, payloadType string) ([]byte, error)
}

// IsOutcome reports whether events of kind k are a reconciler's outcomes,
// which must be signed by a trusted reconciler key: every kind but signed
// and unsigned (whose evidence is the ticket's own envelope, or none).
func IsOutcome(k string) bool { return IsKind(k) && k != KindSigned && k != KindUnsigned }

// Canonical returns the canonical JSON of ev, the payload its outcome
// envelope signs: the compact json.Marshal output of every field but the
// envelope (Data, its evidence, included). Decoding the stored file and
// encoding it again gives the same bytes: json.Marshal compacts Data and
// escapes HTML characters the way the stored form already does.
func Canonical(ev *Event) ([]byte, error) { return json.Marshal(ev) }

// ErrUnverifiedOutcome is matched (errors.Is) by every *OutcomeError.
var ErrUnverifiedOutcome = errors.New("outcome event not signed by a trusted reconciler key")

// OutcomeError reports an outcome event whose envelope is missing, not
// made by a key cab.cue trusts for the reconcile role, or signs another
// event. Readers that act ignore the event (it keeps its sequence
// number, so nothing new is written over it).
type OutcomeError struct {
	Ticket string
	Seq    int
	Kind   string
	Env    string
	Path   string
	Reason string
}

func (e *OutcomeError) Error() string {
	return fmt.Sprintf("%s: %s event %d of %s: %v: %s", e.Path, e.Kind, e.Seq, e.Ticket, ErrUnverifiedOutcome, e.Reason)
}

// Is makes errors.Is(err, ErrUnverifiedOutcome) true.
func (e *OutcomeError) Is(target error) bool { return target == ErrUnverifiedOutcome }

// verifyOutcome checks the envelope of outcome event ev (stored at path)
// with v: the verified payload must be ev's canonical JSON byte for byte.
func verifyOutcome(v EventVerifier, ev *Event, path string) error {
	bad := func(reason string) error {
		return &OutcomeError{Ticket: ev.Ticket, Seq: ev.Seq, Kind: ev.Kind, Env: ev.Env, Path: path, Reason: reason}
	}
	if len(ev.Envelope) == 0 {
		return bad("no envelope")
	}
	payload, err := v.VerifyPayload(ev.Envelope, EventPayloadType)
	if err != nil {
		return bad(err.Error())
	}
	want, err := Canonical(ev)
	if err != nil {
		return bad(err.Error())
	}
	if !bytes.Equal(payload, want) {
		return bad("the envelope signs another event")
	}
	return nil
}

// signOutcome wraps outcome event ev in an envelope signed by s.
func signOutcome(ctx context.Context, s EventSigner, ev *Event) error {
	payload, err := Canonical(ev)
	if err != nil {
		return err
	}
	env, err := s.SignPayload(ctx, EventPayloadType, payload)
	if err != nil {
		return fmt.Errorf("signing %s event %d of %s: %w", ev.Kind, ev.Seq, ev.Ticket, err)
	}
	ev.Envelope = env
	return nil
}
