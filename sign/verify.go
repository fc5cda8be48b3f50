package sign

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/cabhq/cab/model"
)

// Expect is what a verified statement must say. The caller computes
// TicketDigest from the merged ticket bytes (see [Digest]); it is never
// taken from the envelope. Repository and MergeCommit are checked when set.
type Expect struct {
	TicketPath   string
	TicketDigest string
	ID           string
	Environments []string
	Repository   string
	MergeCommit  string
}

// Verify checks that envelope (DSSE JSON) is signed by one of trusted and
// that its statement describes the ticket in want, and returns the statement
// decoded from the verified payload bytes. A Sigstore bundle (a keyless
// signature, see [IsBundle]) is verified against the keyless identities of
// trusted instead of its keys; everything after that is the same.
func Verify(envelope []byte, trusted []model.Key, want Expect) (*Statement, error) {
	ticket := want.TicketPath
	if ticket == "" || want.TicketDigest == "" || want.ID == "" {
		return nil, errors.New("verifying: ticket path, digest and id are required")
	}
	// Only keys trusted to sign tickets count: a reconciler's key signs
	// outcomes, never a change.
	trusted = model.KeysFor(trusted, model.RoleSign)
	var payload []byte
	if IsBundle(envelope) {
		// Signed keylessly: the bundle carries the envelope with the
		// certificate and the Rekor entry that make it trusted.
		p, err := verifyBundle(envelope, trusted, PayloadType)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ticket, err)
		}
		payload = p
	} else {
		p, err := verifyEnvelope(ticket, envelope, trusted)
		if err != nil {
			return nil, err
		}
		payload = p
	}

	// From here on only the verified payload bytes are read.
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%s: %w: statement: %v", ticket, ErrMalformed, err)
	}
	if err := check(&st, want); err != nil {
		return nil, err
	}
	return &st, nil
}

// verifyEnvelope checks a plain DSSE envelope against the public keys of
// trusted and returns the payload bytes its signature covers.
func verifyEnvelope(ticket string, envelope []byte, trusted []model.Key) ([]byte, error) {
	var env ssldsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("%s: %w: envelope: %v", ticket, ErrMalformed, err)
	}
	if env.PayloadType != PayloadType {
		return nil, &MismatchError{Ticket: ticket, Field: "payloadType", Got: fmt.Sprintf("%q", env.PayloadType), Want: fmt.Sprintf("%q", PayloadType)}
	}
	// cab signs with one key; more signatures would only widen what is
	// accepted (and securesystemslib prints to stdout on duplicates).
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%s: %w: envelope has %d signatures, want 1", ticket, ErrMalformed, len(env.Signatures))
	}
	trusted = slices.DeleteFunc(slices.Clone(trusted), func(k model.Key) bool { return k.PublicKey == "" })
	if len(trusted) == 0 {
		return nil, fmt.Errorf("%s: %w: no trusted keys configured", ticket, ErrUntrusted)
	}

	for _, k := range trusted {
		v, err := loadVerifier(k)
		if err != nil {
			return nil, err
		}
		var p []byte
		wv := sigdsse.WrapVerifier(v, sigdsse.WithExpectedPayloadType(PayloadType), sigdsse.WithDecodedPayload(&p))
		if err := wv.VerifySignature(bytes.NewReader(envelope), nil); err == nil {
			return p, nil
		}
	}
	names := make([]string, len(trusted))
	for i, k := range trusted {
		names[i] = k.Name
	}
	return nil, fmt.Errorf("%s: %w (keyid %q; tried %s)", ticket, ErrUntrusted, env.Signatures[0].KeyID, strings.Join(names, ", "))
}

func loadVerifier(k model.Key) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(k.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("trusted key %q: %w", k.Name, err)
	}
	if err := checkKeyType(pub); err != nil {
		return nil, fmt.Errorf("trusted key %q: %w", k.Name, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("trusted key %q: %w", k.Name, err)
	}
	return v, nil
}

func check(st *Statement, want Expect) error {
	mismatch := func(field string, got, w any) error {
		return &MismatchError{Ticket: want.TicketPath, Field: field, Got: fmt.Sprintf("%q", got), Want: fmt.Sprintf("%q", w)}
	}
	if st.Type != StatementType {
		return mismatch("_type", st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return mismatch("predicateType", st.PredicateType, PredicateType)
	}
	if len(st.Subject) != 1 {
		return &MismatchError{Ticket: want.TicketPath, Field: "subject", Got: fmt.Sprintf("%d subjects", len(st.Subject)), Want: "1"}
	}
	sub := st.Subject[0]
	if got := sub.Digest["sha256"]; got != want.TicketDigest {
		return mismatch("subject.digest.sha256", got, want.TicketDigest)
	}
	if sub.Name != want.TicketPath {
		return mismatch("subject.name", sub.Name, want.TicketPath)
	}
	p := st.Predicate
	if p.ID != want.ID {
		return mismatch("predicate.id", p.ID, want.ID)
	}
	if !slices.Equal(p.Environments, want.Environments) {
		return mismatch("predicate.environments", p.Environments, want.Environments)
	}
	if want.Repository != "" && p.Repository != want.Repository {
		return mismatch("predicate.repository", p.Repository, want.Repository)
	}
	if want.MergeCommit != "" && p.MergeCommit != want.MergeCommit {
		return mismatch("predicate.mergeCommit", p.MergeCommit, want.MergeCommit)
	}
	return nil
}

// Verifier checks DSSE envelopes of any payload type against the keys
// cab.cue trusts for one role; the ledger uses it (role
// model.RoleReconcile) to check the reconciler's outcome events. Make
// it with [NewVerifier]; it is safe for concurrent use.
type Verifier struct {
	role  string
	keys  []verifierKey
	names []string
}

type verifierKey struct {
	name, id string
	v        signature.Verifier
}

// NewVerifier returns a verifier trusting the keys of trusted that have
// role. It fails on a key that does not parse.
func NewVerifier(trusted []model.Key, role string) (*Verifier, error) {
	out := &Verifier{role: role}
	for _, k := range model.KeysFor(trusted, role) {
		if k.PublicKey == "" {
			continue // a keyless identity signs tickets only (see Verify)
		}
		v, err := loadVerifier(k)
		if err != nil {
			return nil, err
		}
		pub, err := v.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("trusted key %q: %w", k.Name, err)
		}
		id, err := KeyID(pub)
		if err != nil {
			return nil, fmt.Errorf("trusted key %q: %w", k.Name, err)
		}
		out.keys = append(out.keys, verifierKey{name: k.Name, id: id, v: v})
		out.names = append(out.names, k.Name)
	}
	return out, nil
}

// Trusts reports whether the key with id keyID (see [KeyID]) is one of
// the verifier's.
func (v *Verifier) Trusts(keyID string) bool {
	return slices.ContainsFunc(v.keys, func(k verifierKey) bool { return k.id == keyID })
}

// Len is how many keys the verifier trusts.
func (v *Verifier) Len() int { return len(v.keys) }

// VerifyPayload checks that envelope is a DSSE envelope of payloadType
// with exactly one signature, made by one of the verifier's keys, and
// returns the payload bytes that signature covers: the only bytes a
// caller may read. Failures wrap [ErrMalformed] or [ErrUntrusted].
func (v *Verifier) VerifyPayload(envelope []byte, payloadType string) ([]byte, error) {
	var env ssldsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if env.PayloadType != payloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrMalformed, env.PayloadType, payloadType)
	}
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: envelope has %d signatures, want 1", ErrMalformed, len(env.Signatures))
	}
	if len(v.keys) == 0 {
		return nil, fmt.Errorf("%w: cab.cue trusts no key with role %q", ErrUntrusted, v.role)
	}
	for _, k := range v.keys {
		var p []byte
		wv := sigdsse.WrapVerifier(k.v, sigdsse.WithExpectedPayloadType(payloadType), sigdsse.WithDecodedPayload(&p))
		if err := wv.VerifySignature(bytes.NewReader(envelope), nil); err == nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w with role %q (keyid %q; tried %s)", ErrUntrusted, v.role, env.Signatures[0].KeyID, strings.Join(v.names, ", "))
}
