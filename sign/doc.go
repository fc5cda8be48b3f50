// Package sign binds a merged ticket to the evidence that let it through and
// verifies that binding before anything acts on it.
//
// A signature is an in-toto Statement v1 (subject: the ticket path and the
// sha256 of its canonical JSON; predicate: [Predicate], type [PredicateType])
// in a DSSE envelope of payload type [PayloadType], the type cosign
// verify-attestation expects. Keys are PEM files (ECDSA P-256 or Ed25519,
// PKCS#8, optionally in the cosign/sigstore encrypted format) or KMS URIs
// handed to sigstore's kms package.
//
// Keyless signing ([NewKeylessSigner], sigstore-go) signs each statement
// with an ephemeral key certified by Fulcio for the CI's OIDC identity
// ([IdentityToken]) and logged in Rekor; what the ledger stores is then a
// Sigstore bundle holding the DSSE envelope. [PredicateOf] reads either
// form. A keyless signer signs tickets only, never outcome events.
//
// Keys in cab.cue carry roles: [Verify] only accepts keys trusted to sign
// tickets (model.RoleSign, the default); a [Verifier] for the reconcile
// role checks the reconciler's outcome events on the ledger. Predicates are
// read without verification only through [PredicateOf] (package
// statement), which checks the payload and predicate types.
//
// Invariants of [Verify]:
//
//   - It hashes, verifies and hands on one byte buffer: the Statement it
//     returns is decoded from the payload bytes whose signature was checked,
//     never from a second parse of anything else.
//   - It never trusts a digest carried inside the envelope: the ticket
//     digest is computed by the caller from the merged bytes and compared
//     with the subject, together with the ticket path, id, environments,
//     repository and merge commit.
//   - The payload type is checked before and during verification; an
//     envelope of another type is refused even if its signature is good.
//   - A Sigstore bundle is trusted only through a keyless identity of
//     role sign in cab.cue: its certificate chains to a Fulcio CA of that
//     identity's trusted root, it carries an entry of one of the root's
//     Rekor logs whose signed entry timestamp verifies, the certificate
//     was valid at that integrated time, its issuer equals the identity's
//     and its subject equals it or matches its regexp anchored at both
//     ends. The statement is then checked exactly as a key-signed one.
//   - Keys verify plain envelopes, identities verify bundles: neither
//     stands in for the other.
//   - Failures are typed: [ErrMalformed], [ErrUntrusted], [ErrMismatch]
//     (as a [*MismatchError] naming the field), each message naming the
//     ticket.
package sign
